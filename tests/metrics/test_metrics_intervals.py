"""Wilson score intervals against a hand-computed value, scipy and exact coverage."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import two_sided_z
from pytest_visionguard.metrics import wilson_interval


def test_wilson_hand_computed():
    # 8 of 10 at 95%: z = 1.959964, p = 0.8,
    # (p + z²/2n ± z·sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n).
    z = 1.959963984540054
    p, n = 0.8, 10
    center = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low, high = wilson_interval(8, 10)
    assert low == pytest.approx(center - half, abs=1e-14)
    assert high == pytest.approx(center + half, abs=1e-14)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)


@pytest.mark.parametrize("confidence", [0.5, 0.8, 0.9, 0.95, 0.99, 0.999])
@pytest.mark.parametrize("n", [1, 2, 7, 40, 1000])
def test_wilson_matches_scipy(confidence, n):
    for k in sorted({0, 1, n // 3, n // 2, n - 1, n}):
        expected = stats.binomtest(k, n).proportion_ci(confidence, method="wilson")
        low, high = wilson_interval(k, n, confidence=confidence)
        assert low == pytest.approx(expected.low, abs=1e-12), k
        assert high == pytest.approx(expected.high, abs=1e-12), k


def test_wilson_is_vectorised_and_broadcasts():
    k = np.array([[0, 3], [5, 10]])
    low, high = wilson_interval(k, 10)
    assert low.shape == (2, 2)
    for index in np.ndindex(k.shape):
        scalar = wilson_interval(int(k[index]), 10)
        assert (low[index], high[index]) == pytest.approx(scalar, abs=1e-15)


def test_wilson_scalar_returns_floats():
    low, high = wilson_interval(np.int64(3), torch.tensor(9))
    assert type(low) is float
    assert type(high) is float


def test_wilson_bounds_at_extremes():
    low, high = wilson_interval(0, 25)
    assert low == 0.0
    assert 0 < high < 1
    low, high = wilson_interval(25, 25)
    assert high == 1.0
    assert 0 < low < 1


def test_wilson_zero_trials_is_nan():
    assert all(math.isnan(bound) for bound in wilson_interval(0, 0))
    low, high = wilson_interval([0, 2], [0, 4])
    assert math.isnan(low[0])
    assert math.isnan(high[0])
    assert not math.isnan(low[1])


def test_wilson_intervals_nest_by_confidence():
    narrow = wilson_interval(30, 100, confidence=0.8)
    wide = wilson_interval(30, 100, confidence=0.99)
    assert wide[0] < narrow[0] < 0.3 < narrow[1] < wide[1]


@pytest.mark.parametrize("n", [20, 100])
def test_wilson_exact_coverage(n):
    # Exact coverage: the binomial probability of the k whose interval contains p.
    ks = np.arange(n + 1)
    low, high = wilson_interval(ks, np.full(n + 1, n))
    coverages = []
    for p in np.linspace(0.05, 0.95, 91):
        covered = (low <= p) & (p <= high)
        coverages.append(stats.binom.pmf(ks, n, p)[covered].sum())
    assert 0.94 < np.mean(coverages) < 0.96
    assert min(coverages) > 0.90


@pytest.mark.parametrize("level", [0.5, 0.9, 0.95, 0.99, 0.999999, 1e-6])
def test_two_sided_z_matches_scipy(level):
    assert two_sided_z(level) == pytest.approx(
        stats.norm.ppf(0.5 + level / 2), rel=1e-14
    )


def test_wilson_rejects_bad_counts():
    with pytest.raises(VisionGuardError, match="successes must be in"):
        wilson_interval(11, 10)
    with pytest.raises(VisionGuardError, match="successes must be in"):
        wilson_interval(-1, 10)
    with pytest.raises(VisionGuardError, match="must be non-negative"):
        wilson_interval(0, -1)
    with pytest.raises(VisionGuardError, match="not a whole number"):
        wilson_interval(2.5, 10)
    with pytest.raises(VisionGuardError, match="do not broadcast"):
        wilson_interval([1, 2, 3], [4, 5])


@pytest.mark.parametrize("confidence", [0.0, 1.0, 95, -0.5, math.nan, "0.95"])
def test_wilson_rejects_bad_confidence(confidence):
    with pytest.raises(VisionGuardError, match="confidence must be"):
        wilson_interval(1, 2, confidence=confidence)
