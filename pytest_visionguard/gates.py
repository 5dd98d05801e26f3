"""Gates: compare per-group figures with thresholds and explain the outcome.

Every gate follows the same steps: measure a table, turn each row into a
`Check` against a threshold, decide each check with the interval rules below,
and collect the checks into a `GateResult`, which raises `GateFailure` when
the gate fails.

Decision rules, for a threshold t and a row with value v and interval
[low, high]:

- `confidence=None`: the point estimate decides (v >= t for a floor).
- `confidence=c`: the check fails only when the whole interval is on the
  failing side, passes when it is wholly on the passing side, and is
  inconclusive otherwise. An inconclusive check passes unless `strict=True`.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sys
import warnings
from collections.abc import Iterable
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import replace
from statistics import NormalDist
from typing import Any
from typing import Literal

from pytest_visionguard.errors import GateFailure
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.errors import VisionGuardWarning

Direction = Literal["at_least", "at_most"]
SmallGroups = Literal["fail", "warn", "skip"]
SMALL_GROUP_POLICIES = ("fail", "warn", "skip")

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
TOO_SMALL = "too_small"
UNDEFINED = "undefined"
SKIPPED = "skipped"


@dataclass(frozen=True)
class DecisionSettings:
    """Decision settings of a gate.

    Attributes:
        confidence: the interval level that decides, or None for the point
            estimate.
        strict: with `confidence`, pass only when the whole interval passes.
        min_group_size: the minimum number of samples a figure may be computed on.
        small_groups: what a group below `min_group_size` does: "fail",
            "warn" (passes with a warning) or "skip".
        correction: "holm" to control the family-wise error over the groups
            of a gate, or None.
    """

    confidence: float | None = None
    strict: bool = False
    min_group_size: int = 1
    small_groups: SmallGroups = "fail"
    correction: str | None = None


@dataclass(frozen=True)
class Check:
    """One figure of one group against one threshold.

    Attributes:
        group: the group as `column=value` text.
        figure: what is compared, such as `accuracy` or `review_rate`.
        value: the point estimate, NaN when undefined.
        ci_low: the lower end of the interval.
        ci_high: the upper end of the interval.
        n: the number of samples the figure is computed on.
        threshold: the limit.
        direction: "at_least" for a floor, "at_most" for a ceiling.
        status: pass, fail, inconclusive, too_small, undefined or skipped.
        passed: whether the check lets the gate pass.
        more_images: for an inconclusive check, an estimate of how many more
            images would decide it.
    """

    group: str
    figure: str
    value: float
    ci_low: float
    ci_high: float
    n: int
    threshold: float
    direction: Direction
    status: str
    passed: bool
    more_images: int | None = None


@dataclass(frozen=True)
class GateResult:
    """The outcome of one gate.

    Attributes:
        gate: the gate's marker name, such as `accuracy_floor`.
        description: what was required, in words.
        by: the grouping columns.
        checks: one check per group and figure.
        confidence: the interval level shown (and deciding, when `decided`).
        decided_by_interval: whether intervals decided the checks.
        strict: whether inconclusive checks fail.
        hint: a suggested fix, added to the failure message.
    """

    gate: str
    description: str
    by: tuple[str, ...]
    checks: list[Check]
    confidence: float
    decided_by_interval: bool
    strict: bool
    hint: str | None = None

    @property
    def passed(self) -> bool:
        """Whether every check passed."""
        return all(check.passed for check in self.checks)

    @property
    def failures(self) -> list[Check]:
        """The checks that failed the gate."""
        return [check for check in self.checks if not check.passed]

    def to_json(self) -> str:
        """Return the result as compact JSON, NaN written as null."""
        payload = asdict(self)
        payload["passed"] = self.passed
        return json.dumps(_nan_to_none(payload), sort_keys=True, separators=(",", ":"))

    def message(self) -> str:
        """Return the failure message: every failing group with its figures."""
        failures = self.failures
        scope = f" (by {', '.join(self.by)})" if self.by else ""
        groups = len({check.group for check in self.checks})
        header = (
            f"{self.gate} failed: {self.description}; "
            f"{len({c.group for c in failures})} of {groups} groups fail{scope}"
        )
        lines = [header]
        lines.extend(
            "  " + describe_check(check, self.confidence) for check in failures
        )
        notes = [
            c for c in self.checks if c.passed and c.status in (INCONCLUSIVE, TOO_SMALL)
        ]
        lines.extend("  " + describe_check(check, self.confidence) for check in notes)
        if self.hint:
            lines.append(self.hint)
        return "\n".join(lines)

    def raise_on_failure(self) -> None:
        """Raise GateFailure with the message when the gate failed."""
        if not self.passed:
            raise GateFailure(self.message(), result=self)


def make_check(
    *,
    group: str,
    figure: str,
    value: float,
    ci_low: float,
    ci_high: float,
    n: int,
    threshold: float,
    direction: Direction,
    settings: DecisionSettings,
) -> Check:
    """Decide one figure against a threshold under `settings`."""
    status = _status(value, ci_low, ci_high, n, threshold, direction, settings)
    passed = _passes(status, settings)
    more = None
    if status == INCONCLUSIVE:
        more = _more_images_needed(value, ci_low, ci_high, n, threshold)
    return Check(
        group,
        figure,
        value,
        ci_low,
        ci_high,
        n,
        threshold,
        direction,
        status,
        passed,
        more,
    )


def warn_small_groups(result: GateResult, settings: DecisionSettings) -> None:
    """Warn about groups that passed only because small groups are allowed.

    A gate that judged no group at all, every one being too small or
    skipped, passes with a warning.
    """
    judged = [c for c in result.checks if c.status not in (TOO_SMALL, SKIPPED)]
    if result.checks and not judged and result.passed:
        warnings.warn(
            f"{result.gate} judged no group: all {len(result.checks)} have fewer "
            f"than {settings.min_group_size} samples; lower min_group_size or "
            "add images",
            VisionGuardWarning,
            stacklevel=_user_stacklevel(),
        )
        return
    if settings.small_groups != "warn":
        return
    small = [check.group for check in result.checks if check.status == TOO_SMALL]
    if small:
        warnings.warn(
            f"{result.gate}: {len(small)} groups have fewer than "
            f"{settings.min_group_size} samples and were not judged: "
            f"{'; '.join(small[:5])}",
            VisionGuardWarning,
            stacklevel=_user_stacklevel(),
        )


def describe_check(check: Check, confidence: float) -> str:
    """Return one line that states a check's group, figures and outcome."""
    sign = ">=" if check.direction == "at_least" else "<="
    interval = f"{_percent(confidence)} CI [{format_figure(check.ci_low)}, {format_figure(check.ci_high)}]"
    text = (
        f"{check.group}: {check.figure} {format_figure(check.value)}, {interval}, "
        f"n={check.n}, threshold {sign} {format_figure(check.threshold)}"
    )
    return text + _status_note(check)


def format_figure(value: float) -> str:
    """Format a figure as a decimal with three places, or "nan"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.3f}"


def check_thresholds(
    gate: str,
    at_least: float | None,
    at_most: float | None,
    *,
    bounds: tuple[float, float] = (0.0, 1.0),
    names: tuple[str, str] = ("at_least", "at_most"),
) -> list[tuple[Direction, float]]:
    """Return the (direction, threshold) pairs of a gate, checked.

    Args:
        gate: the gate's marker name, for messages.
        at_least: the floor, or None.
        at_most: the ceiling, or None.
        bounds: the range a threshold must lie in; proportions and
            calibration errors lie in [0, 1].
        names: the caller's argument names for the floor and the ceiling.
    """
    limits: list[tuple[Direction, float]] = []
    pairs = (("at_least", at_least, names[0]), ("at_most", at_most, names[1]))
    for direction, value, name in pairs:
        if value is None:
            continue
        if not is_real_number(value) or not math.isfinite(float(value)):
            raise VisionGuardError(
                f"{gate}: {name} must be a finite number, got {value!r}"
            )
        low, high = bounds
        if not low <= float(value) <= high:
            hint = (
                " (write 0.9, not 90, for 90%)"
                if float(value) > 1 and high == 1
                else ""
            )
            raise VisionGuardError(
                f"{gate}: {name}={value!r} is outside [{low:g}, {high:g}]{hint}"
            )
        limits.append((direction, float(value)))  # type: ignore[arg-type]
    if not limits:
        raise VisionGuardError(
            f"{gate} needs a threshold: pass {names[0]}=, {names[1]}= or both"
        )
    return limits


def is_real_number(value: object) -> bool:
    """Return whether `value` is a real number (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def is_integer(value: object) -> bool:
    """Return whether `value` is an integer (numpy scalars included), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_decision_settings(
    confidence: float | None,
    strict: bool,
    min_group_size: int,
    small_groups: str,
    correction: str | None = None,
) -> DecisionSettings:
    """Return validated decision settings."""
    if confidence is not None and (
        not is_real_number(confidence) or not 0.0 < confidence < 1.0
    ):
        raise VisionGuardError(
            f"confidence must be a level in (0, 1) such as 0.95, or None, got {confidence!r}"
        )
    if strict and confidence is None:
        raise VisionGuardError(
            "strict=True needs confidence=, the interval level that must clear the "
            "threshold"
        )
    if not is_integer(min_group_size) or min_group_size < 1:
        raise VisionGuardError(
            f"min_group_size must be a positive integer, got {min_group_size!r}"
        )
    if small_groups not in SMALL_GROUP_POLICIES:
        raise VisionGuardError(
            f"small_groups must be one of {', '.join(SMALL_GROUP_POLICIES)}, got "
            f"{small_groups!r}"
        )
    if correction not in (None, "holm"):
        raise VisionGuardError(f"correction must be 'holm' or None, got {correction!r}")
    if correction is not None and confidence is None:
        raise VisionGuardError(
            "correction='holm' needs confidence=, the family-wise level to control"
        )
    return DecisionSettings(
        confidence,
        strict,
        min_group_size,
        small_groups,  # type: ignore[arg-type]
        correction,
    )


def apply_holm(checks: list[Check], settings: DecisionSettings) -> list[Check]:
    """Re-decide a gate's checks with Holm's step-down over its groups.

    Without correction each check is decided on its own interval, so with m
    groups the chance that some group is misjudged grows with m. Holm's
    procedure keeps that family-wise chance at the single-check level
    alpha = (1 - confidence) / 2 per side. A lenient gate fails the groups
    whose evidence of failing survives the procedure; a strict gate passes the
    groups whose evidence of passing survives it.

    The p-value of each check is read off its interval with a normal
    approximation: the distance from the estimate to the threshold over the
    interval's half-width on that side, scaled to a z-score. With one group
    the procedure decides exactly as the interval does.
    """
    if settings.correction != "holm" or settings.confidence is None:
        return checks
    judged = [i for i, c in enumerate(checks) if c.status in (PASS, FAIL, INCONCLUSIVE)]
    alpha = (1.0 - settings.confidence) / 2.0
    z_level = NormalDist().inv_cdf(1.0 - alpha)
    evidence = {i: _one_sided_p(checks[i], z_level, settings.strict) for i in judged}
    rejected = _holm_rejections(evidence, alpha)
    decided = list(checks)
    for i in judged:
        decided[i] = _holm_decision(checks[i], i in rejected, settings)
    return decided


def summarise(checks: Iterable[Check]) -> Check | None:
    """Return the check that best shows a gate's outcome: the worst failure first."""
    ordered = sorted(checks, key=_severity_key)
    return ordered[0] if ordered else None


def _status(
    value: float,
    low: float,
    high: float,
    n: int,
    threshold: float,
    direction: Direction,
    settings: DecisionSettings,
) -> str:
    if n < settings.min_group_size:
        return SKIPPED if settings.small_groups == "skip" else TOO_SMALL
    if math.isnan(value):
        return UNDEFINED
    point_passes = value >= threshold if direction == "at_least" else value <= threshold
    if settings.confidence is None:
        return PASS if point_passes else FAIL
    if direction == "at_least":
        wholly_passes, wholly_fails = low >= threshold, high < threshold
    else:
        wholly_passes, wholly_fails = high <= threshold, low > threshold
    if wholly_passes:
        return PASS
    if wholly_fails:
        return FAIL
    return INCONCLUSIVE


def _passes(status: str, settings: DecisionSettings) -> bool:
    if status in (PASS, SKIPPED):
        return True
    if status == INCONCLUSIVE:
        return not settings.strict
    if status == TOO_SMALL:
        return settings.small_groups != "fail"
    return False


def _more_images_needed(
    value: float, low: float, high: float, n: int, threshold: float
) -> int | None:
    # Interval widths shrink as 1/sqrt(n), so the sample size at which the
    # half-width equals the distance to the threshold is n * (width / distance)^2.
    distance = abs(value - threshold)
    half_width = max(value - low, high - value)
    if distance == 0 or not math.isfinite(half_width) or n == 0:
        return None
    needed = math.ceil(n * (half_width / distance) ** 2)
    return max(needed - n, 1)


def _status_note(check: Check) -> str:
    if check.status == INCONCLUSIVE:
        verdict = (
            "counted as a pass" if check.passed else "counted as a failure (strict)"
        )
        if not math.isfinite(check.ci_high - check.ci_low):
            return f": inconclusive, {verdict}; too few images for an interval"
        if check.more_images is None:
            return f": inconclusive, {verdict}; the estimate equals the threshold"
        return (
            f": inconclusive, {verdict}; about {check.more_images} more images "
            "would decide it (an estimate)"
        )
    if check.status == TOO_SMALL:
        return ": too little data for this group" + (
            "" if check.passed else ", so it fails"
        )
    if check.status == UNDEFINED:
        return ": undefined for this group (0/0), so it fails"
    if check.status == FAIL:
        return ": fails"
    return ""


def _severity_key(check: Check) -> tuple[int, float]:
    order = {FAIL: 0, UNDEFINED: 1, TOO_SMALL: 2, INCONCLUSIVE: 3, PASS: 4, SKIPPED: 5}
    rank = order.get(check.status, 6)
    if not check.passed:
        rank = min(rank, 2)
    margin = (
        check.value - check.threshold
        if check.direction == "at_least"
        else check.threshold - check.value
    )
    return rank, margin if math.isfinite(margin) else -math.inf


def _percent(confidence: float) -> str:
    return f"{confidence * 100:g}%"


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _nan_to_none(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_nan_to_none(item) for item in value]
    return value


def _one_sided_p(check: Check, z_level: float, strict: bool) -> float:
    """P-value of the evidence that a check fails (lenient) or passes (strict)."""
    above = check.value > check.threshold
    half_width = check.value - check.ci_low if above else check.ci_high - check.value
    distance = check.value - check.threshold
    if half_width <= 0 or not math.isfinite(half_width):
        z = math.copysign(math.inf, distance) if distance else 0.0
    else:
        z = distance / (half_width / z_level)
    passing_side_z = z if check.direction == "at_least" else -z
    # Lenient gates test for failure (H0: the group meets the threshold);
    # strict gates test for passing (H0: the group misses it).
    target = passing_side_z if strict else -passing_side_z
    return 1.0 - NormalDist().cdf(target)


def _holm_rejections(p_values: dict[int, float], alpha: float) -> set[int]:
    ordered = sorted(p_values, key=lambda index: p_values[index])
    rejected: set[int] = set()
    for rank, index in enumerate(ordered):
        if p_values[index] > alpha / (len(ordered) - rank):
            break
        rejected.add(index)
    return rejected


def _holm_decision(check: Check, rejected: bool, settings: DecisionSettings) -> Check:
    if rejected:
        status = PASS if settings.strict else FAIL
    elif check.status == (FAIL if settings.strict else PASS):
        # Unrejected, a check keeps its own verdict only when that verdict is
        # the cautious one: failing for a strict gate, passing for a lenient.
        status = check.status
    else:
        status = INCONCLUSIVE
    more = None
    if status == INCONCLUSIVE:
        more = check.more_images or _more_images_needed(
            check.value, check.ci_low, check.ci_high, check.n, check.threshold
        )
    return replace(
        check, status=status, passed=_passes(status, settings), more_images=more
    )


def _user_stacklevel() -> int:
    """Return the `warnings.warn` stacklevel of the first caller outside this package.

    So a warning points at the user's test line, not at the gate's internals.
    """
    package = os.path.dirname(os.path.abspath(__file__))
    frame = sys._getframe(1)
    level = 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(
        package
    ):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level
