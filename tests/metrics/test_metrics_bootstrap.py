"""Bootstrap intervals: seeding, strata, and fast paths against the generic one."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import bootstrap_ece_interval
from pytest_visionguard.metrics import bootstrap_gap_interval
from pytest_visionguard.metrics import bootstrap_interval
from pytest_visionguard.metrics import bootstrap_mean_interval
from pytest_visionguard.metrics import expected_calibration_error


def classifier_outputs(n: int, num_classes: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(num_classes, 0.5), size=n)
    guess = rng.integers(0, num_classes, n)
    labels = np.where(rng.uniform(size=n) < 0.7, probs.argmax(axis=1), guess)
    return probs, labels


def assert_close_intervals(fast, slow, share_of_width):
    """Check both endpoints differ by at most a share of the slow interval's width."""
    width = slow[1] - slow[0]
    assert abs(fast[0] - slow[0]) <= share_of_width * width, (fast, slow)
    assert abs(fast[1] - slow[1]) <= share_of_width * width, (fast, slow)


# Generic bootstrap.


def test_bootstrap_is_reproducible_for_a_seed():
    values = np.random.default_rng(0).normal(size=200)
    first = bootstrap_interval(np.mean, values, n_resamples=300, seed=7)
    second = bootstrap_interval(np.mean, values, n_resamples=300, seed=7)
    other = bootstrap_interval(np.mean, values, n_resamples=300, seed=8)
    assert first == second
    assert first != other


def test_bootstrap_contains_point_estimate():
    values = np.random.default_rng(1).exponential(size=300)
    low, high = bootstrap_interval(np.median, values, n_resamples=500)
    assert low < np.median(values) < high


def test_bootstrap_mean_interval_width_matches_standard_error():
    values = np.random.default_rng(2).normal(size=2000)
    low, high = bootstrap_interval(np.mean, values, n_resamples=2000)
    standard_error = values.std() / math.sqrt(len(values))
    assert high - low == pytest.approx(2 * 1.96 * standard_error, rel=0.1)


def test_bootstrap_passes_tuple_elements_together():
    probs, labels = classifier_outputs(400)
    seen_shapes = []

    def statistic(sample_probs, sample_labels):
        seen_shapes.append((sample_probs.shape, sample_labels.shape))
        return expected_calibration_error(sample_probs, sample_labels)

    bootstrap_interval(statistic, (probs, labels), n_resamples=20)
    assert seen_shapes == [((400, 4), (400,))] * 20


def test_stratified_resampling_keeps_group_sizes():
    groups = np.array(["night"] * 30 + ["day"] * 50 + ["dusk"] * 7)
    values = np.arange(len(groups), dtype=float)
    sizes = []

    def statistic(sample_values, sample_groups):
        names, counts = np.unique(sample_groups, return_counts=True)
        sizes.append(dict(zip(names.tolist(), counts.tolist(), strict=True)))
        # Resampling within strata never moves a sample to another group.
        assert all(
            group == groups[int(value)]
            for value, group in zip(sample_values, sample_groups, strict=True)
        )
        return float(sample_values.mean())

    bootstrap_interval(statistic, (values, groups), n_resamples=50, strata=groups)
    assert sizes == [{"day": 50, "dusk": 7, "night": 30}] * 50


def test_strata_with_missing_values_form_a_group():
    strata = np.array(["a", None, "a", None, "b"], dtype=object)
    counts = []

    def statistic(sample):
        counts.append(sorted(np.bincount(sample, minlength=3).tolist()))
        return 0.0

    codes = np.array([0, 1, 0, 1, 2])
    bootstrap_interval(statistic, codes, n_resamples=10, strata=strata)
    assert counts == [[1, 2, 2]] * 10


def test_bootstrap_leaves_out_nan_statistics():
    values = np.array([0.0, 1.0, 1.0, 1.0])

    def statistic(sample):
        return math.nan if sample.sum() == 0 else float(sample.mean())

    low, high = bootstrap_interval(statistic, values, n_resamples=300)
    assert 0 < low <= high <= 1
    assert bootstrap_interval(lambda s: math.nan, values) == pytest.approx(
        (math.nan, math.nan), nan_ok=True
    )


def test_bootstrap_of_empty_data_is_nan():
    low, high = bootstrap_interval(np.mean, np.zeros(0))
    assert math.isnan(low)
    assert math.isnan(high)


def test_bootstrap_accepts_tensors():
    values = torch.arange(50, dtype=torch.float32)
    low, high = bootstrap_interval(
        lambda sample: float(sample.mean()), values, n_resamples=200
    )
    assert low < 24.5 < high


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_resamples": 0}, "n_resamples must be a positive integer"),
        ({"confidence": 1.5}, "confidence must be in"),
        ({"seed": -1}, "seed must be a non-negative integer"),
        ({"strata": [0, 1]}, r"strata has shape \(2,\), expected \(3,\)"),
    ],
)
def test_bootstrap_rejects_bad_arguments(arguments, message):
    with pytest.raises(VisionGuardError, match=message):
        bootstrap_interval(np.mean, np.zeros(3), **arguments)


def test_bootstrap_rejects_mismatched_arrays():
    with pytest.raises(VisionGuardError, match="data.1. has 2 samples"):
        bootstrap_interval(np.mean, (np.zeros(3), np.zeros(2)))


def test_no_global_random_state_changes():
    probs, labels = classifier_outputs(300)
    numpy_state = np.random.get_state()
    python_state = random.getstate()
    torch_state = torch.random.get_rng_state()

    bootstrap_interval(np.mean, labels.astype(float), n_resamples=50, strata=labels)
    bootstrap_mean_interval(labels.astype(float), n_resamples=50)
    bootstrap_mean_interval(probs[:, 0], n_resamples=50)
    bootstrap_ece_interval(probs, labels, n_resamples=50)
    bootstrap_gap_interval([3, 4], [10, 10], n_resamples=50)

    after = np.random.get_state()
    assert after[0] == numpy_state[0]
    np.testing.assert_array_equal(after[1], numpy_state[1])
    assert after[2:] == numpy_state[2:]
    assert random.getstate() == python_state
    assert torch.equal(torch.random.get_rng_state(), torch_state)


# Fast path: mean of a discrete per-sample quantity.


def test_mean_fast_path_agrees_with_generic():
    rng = np.random.default_rng(3)
    costs = rng.choice([0.0, 1.0, 5.0, 20.0], p=[0.7, 0.2, 0.07, 0.03], size=3000)
    slow = bootstrap_interval(np.mean, costs, n_resamples=3000, seed=1)
    fast = bootstrap_mean_interval(costs, n_resamples=20000, seed=2)
    assert_close_intervals(fast, slow, 0.06)


def test_mean_fast_path_for_correctness_differences():
    rng = np.random.default_rng(4)
    clean = rng.uniform(size=2000) < 0.9
    corrupted = clean & (rng.uniform(size=2000) < 0.85)
    drop = clean.astype(float) - corrupted.astype(float)
    slow = bootstrap_interval(np.mean, drop, n_resamples=3000, seed=1)
    fast = bootstrap_mean_interval(drop, n_resamples=20000, seed=2)
    assert_close_intervals(fast, slow, 0.06)
    assert fast[0] < drop.mean() < fast[1]


def test_mean_many_distinct_values_agrees_with_generic():
    # More than max(1024, N/16) distinct values takes the index-resampling path.
    values = np.random.default_rng(5).exponential(size=2000)
    slow = bootstrap_interval(np.mean, values, n_resamples=3000, seed=1)
    fast = bootstrap_mean_interval(values, n_resamples=20000, seed=2)
    assert_close_intervals(fast, slow, 0.06)


def test_mean_fast_path_is_reproducible_and_degenerate_safe():
    values = [1.0, 0.0, 1.0, 1.0]
    assert bootstrap_mean_interval(values, seed=3) == bootstrap_mean_interval(
        values, seed=3
    )
    assert bootstrap_mean_interval([2.0] * 10) == (2.0, 2.0)
    assert all(math.isnan(bound) for bound in bootstrap_mean_interval([]))


def test_mean_fast_path_rejects_bad_values():
    with pytest.raises(VisionGuardError, match=r"values\[1\] is nan"):
        bootstrap_mean_interval([0.0, math.nan])
    with pytest.raises(VisionGuardError, match="1-D"):
        bootstrap_mean_interval([[0.0, 1.0]])


# Fast path: ECE.


@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("n", [300, 2000])
def test_ece_fast_path_agrees_with_generic(norm, n):
    probs, labels = classifier_outputs(n, seed=n)

    def statistic(sample_probs, sample_labels):
        return expected_calibration_error(
            sample_probs, sample_labels, n_bins=10, norm=norm
        )

    slow = bootstrap_interval(statistic, (probs, labels), n_resamples=1500, seed=1)
    fast = bootstrap_ece_interval(
        probs, labels, n_bins=10, norm=norm, n_resamples=20000, seed=2
    )
    assert_close_intervals(fast, slow, 0.08)


def test_ece_fast_path_contains_estimate_and_is_seeded():
    probs, labels = classifier_outputs(1000, seed=9)
    ece = expected_calibration_error(probs, labels)
    low, high = bootstrap_ece_interval(probs, labels, seed=4)
    assert low < ece < high
    assert bootstrap_ece_interval(probs, labels, seed=4) == (low, high)


def test_ece_fast_path_single_sample_and_empty():
    # One sample: every resample is that sample, so the interval is its ECE.
    low, high = bootstrap_ece_interval([[0.8, 0.2]], [1])
    assert low == pytest.approx(0.8)
    assert high == pytest.approx(0.8)
    empty = bootstrap_ece_interval(np.zeros((0, 2)), np.zeros(0, dtype=int))
    assert all(math.isnan(bound) for bound in empty)


def test_ece_fast_path_checks_inputs():
    with pytest.raises(VisionGuardError, match="sums to"):
        bootstrap_ece_interval([[0.8, 0.8]], [0])
    with pytest.raises(VisionGuardError, match="norm must be one of"):
        bootstrap_ece_interval([[0.8, 0.2]], [0], norm="l3")


# Fast path: gap between groups.


def test_gap_fast_path_agrees_with_stratified_generic():
    rng = np.random.default_rng(6)
    sizes = {"site_a": 400, "site_b": 250, "site_c": 120}
    accuracy = {"site_a": 0.92, "site_b": 0.85, "site_c": 0.8}
    groups = np.concatenate([[name] * size for name, size in sizes.items()])
    correct = np.concatenate(
        [rng.uniform(size=size) < accuracy[name] for name, size in sizes.items()]
    )

    def gap(sample_correct, sample_groups):
        rates = [sample_correct[sample_groups == name].mean() for name in sizes]
        return float(max(rates) - min(rates))

    slow = bootstrap_interval(
        gap, (correct, groups), n_resamples=3000, seed=1, strata=groups
    )
    successes = [int(correct[groups == name].sum()) for name in sizes]
    fast = bootstrap_gap_interval(
        successes, list(sizes.values()), n_resamples=20000, seed=2
    )
    assert_close_intervals(fast, slow, 0.06)


def test_gap_fast_path_edge_cases():
    assert bootstrap_gap_interval([5], [10]) == (0.0, 0.0)
    assert bootstrap_gap_interval([5, 0], [10, 0]) == (0.0, 0.0)
    assert all(math.isnan(bound) for bound in bootstrap_gap_interval([0], [0]))
    assert bootstrap_gap_interval([10, 0], [10, 10]) == (1.0, 1.0)


def test_gap_fast_path_rejects_bad_counts():
    with pytest.raises(VisionGuardError, match="group 1 has successes 5 and totals 4"):
        bootstrap_gap_interval([1, 5], [4, 4])
    with pytest.raises(VisionGuardError, match="one count per group"):
        bootstrap_gap_interval([1, 2], [4])
