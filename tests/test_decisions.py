"""Decision rules of the gates: intervals, strictness, Holm, and their error rates.

The simulations draw binomial group results with numpy's seeded generator and
decide them with the same functions the gates use, so the measured error
rates are those of the shipped rules.
"""

from __future__ import annotations

import numpy as np
import pytest

from pytest_visionguard.gates import DecisionSettings
from pytest_visionguard.gates import apply_holm
from pytest_visionguard.gates import make_check
from pytest_visionguard.metrics import wilson_interval

FLOOR = 0.90
GROUP_SIZE = 200
SIMULATIONS = 4000


def _checks_for(successes: np.ndarray, settings: DecisionSettings) -> list:
    low, high = wilson_interval(
        successes, np.full(successes.shape, GROUP_SIZE), confidence=0.95
    )
    return [
        make_check(
            group=f"g{i}",
            figure="accuracy",
            value=float(k) / GROUP_SIZE,
            ci_low=float(lo),
            ci_high=float(hi),
            n=GROUP_SIZE,
            threshold=FLOOR,
            direction="at_least",
            settings=settings,
        )
        for i, (k, lo, hi) in enumerate(zip(successes, low, high, strict=True))
    ]


def _failure_rate(
    true_rate: float, settings: DecisionSettings, groups: int = 1
) -> float:
    rng = np.random.default_rng(20261204)
    draws = rng.binomial(GROUP_SIZE, true_rate, size=(SIMULATIONS, groups))
    failed = 0
    for row in draws:
        checks = apply_holm(_checks_for(row, settings), settings)
        failed += not all(check.passed for check in checks)
    return failed / SIMULATIONS


def test_point_estimate_fails_half_at_floor() -> None:
    # Without intervals, a group whose true accuracy equals the floor fails
    # whenever its sample lands below it: close to half the time.
    rate = _failure_rate(FLOOR, DecisionSettings())
    assert 0.35 < rate < 0.6


def test_lenient_false_failure_rate_at_most_five_percent() -> None:
    rate = _failure_rate(FLOOR, DecisionSettings(confidence=0.95))
    assert rate <= 0.05


def test_strict_false_pass_rate_at_most_five_percent() -> None:
    # A group just below the floor: strict gates pass it only when the whole
    # interval clears the floor.
    rate = 1 - _failure_rate(
        FLOOR - 1e-9, DecisionSettings(confidence=0.95, strict=True)
    )
    assert rate <= 0.05


def test_strict_passes_clearly_good_group() -> None:
    rate = _failure_rate(0.97, DecisionSettings(confidence=0.95, strict=True))
    assert rate <= 0.05


def test_many_groups_inflate_false_failures() -> None:
    rate = _failure_rate(FLOOR, DecisionSettings(confidence=0.95), groups=10)
    assert rate > 0.1


def test_holm_keeps_family_wise_false_failures() -> None:
    settings = DecisionSettings(confidence=0.95, correction="holm")
    rate = _failure_rate(FLOOR, settings, groups=10)
    assert rate <= 0.05


def test_holm_with_one_group_matches_interval() -> None:
    plain = DecisionSettings(confidence=0.95)
    holm = DecisionSettings(confidence=0.95, correction="holm")
    for successes in range(150, 200):
        checks = _checks_for(np.array([successes]), plain)
        corrected = apply_holm(_checks_for(np.array([successes]), holm), holm)
        assert [c.status for c in checks] == [c.status for c in corrected]


def test_holm_still_fails_clear_failure() -> None:
    settings = DecisionSettings(confidence=0.95, correction="holm")
    successes = np.array([160] + [185] * 9)
    checks = apply_holm(_checks_for(successes, settings), settings)
    assert checks[0].status == "fail"
    assert all(check.passed for check in checks[1:])


@pytest.mark.parametrize(
    ("value", "low", "high", "expected"),
    [
        (0.95, 0.91, 0.98, "pass"),
        (0.85, 0.80, 0.89, "fail"),
        (0.88, 0.84, 0.92, "inconclusive"),
        (0.92, 0.87, 0.95, "inconclusive"),
        (0.90, 0.90, 0.95, "pass"),
    ],
)
def test_interval_rule_by_hand(
    value: float, low: float, high: float, expected: str
) -> None:
    check = make_check(
        group="g",
        figure="accuracy",
        value=value,
        ci_low=low,
        ci_high=high,
        n=100,
        threshold=FLOOR,
        direction="at_least",
        settings=DecisionSettings(confidence=0.95),
    )
    assert check.status == expected
    assert check.passed is (expected != "fail")


def test_inconclusive_estimates_more_images() -> None:
    # Half-width 0.04 at n = 100 and a distance of 0.02 to the floor: the
    # half-width must halve, which takes four times the images.
    check = make_check(
        group="g",
        figure="accuracy",
        value=0.88,
        ci_low=0.84,
        ci_high=0.92,
        n=100,
        threshold=FLOOR,
        direction="at_least",
        settings=DecisionSettings(confidence=0.95),
    )
    assert check.more_images == 300


def test_small_group_policies() -> None:
    for policy, status, passed in (
        ("fail", "too_small", False),
        ("warn", "too_small", True),
        ("skip", "skipped", True),
    ):
        settings = DecisionSettings(min_group_size=30, small_groups=policy)  # type: ignore[arg-type]
        check = make_check(
            group="g",
            figure="accuracy",
            value=1.0,
            ci_low=0.8,
            ci_high=1.0,
            n=10,
            threshold=FLOOR,
            direction="at_least",
            settings=settings,
        )
        assert check.status == status
        assert check.passed is passed


def test_undefined_value_fails() -> None:
    check = make_check(
        group="g",
        figure="recall",
        value=float("nan"),
        ci_low=float("nan"),
        ci_high=float("nan"),
        n=5,
        threshold=FLOOR,
        direction="at_least",
        settings=DecisionSettings(),
    )
    assert check.status == "undefined"
    assert not check.passed
