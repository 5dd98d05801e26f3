"""The regression gate's comparison: each group's figure against its stored baseline.

Every group's check is `figure >= baseline - tolerance` for a metric where
higher is better, `figure <= baseline + tolerance` where lower is better,
and both for selection_rate, which has no better direction. The check's
interval is the interval of the change from the baseline, added to the
baseline value, so `confidence=` and `strict=` decide as in the other
gates. Unpaired, the change gets Newcombe's interval for two independent
proportions. Paired, it gets the exact interval from the images whose
outcome changed, the interval form of McNemar's exact test.

This module imports only the standard library at load time; numpy and the
measurements load when a gate runs.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from pytest_visionguard.baselines import BaselineBinding
from pytest_visionguard.baselines import BaselineEntry
from pytest_visionguard.baselines import BaselineMode
from pytest_visionguard.baselines import EntryOutcome
from pytest_visionguard.baselines import GroupFigure
from pytest_visionguard.baselines import PerImageOutcomes
from pytest_visionguard.baselines import Provenance
from pytest_visionguard.baselines import float_or_none
from pytest_visionguard.baselines import package_versions
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.gates import INCONCLUSIVE
from pytest_visionguard.gates import SKIPPED
from pytest_visionguard.gates import TOO_SMALL
from pytest_visionguard.gates import UNDEFINED
from pytest_visionguard.gates import Check
from pytest_visionguard.gates import DecisionSettings
from pytest_visionguard.gates import Direction
from pytest_visionguard.gates import apply_holm
from pytest_visionguard.gates import format_figure
from pytest_visionguard.gates import make_check

if TYPE_CHECKING:
    import numpy as np

    from pytest_visionguard.evaluation import Evaluation
    from pytest_visionguard.evaluation import Predictions
    from pytest_visionguard.gates import GateResult
    from pytest_visionguard.measurements import MeasuredRow
    from pytest_visionguard.measurements import Measurement

# Check statuses that only the regression gate uses, beside those of gates.py.
MISSING = "missing"
RECORDED = "recorded"

# The direction in which each metric gets worse. selection_rate has no better
# direction, so a change beyond the tolerance either way fails.
HIGHER_IS_BETTER = ("accuracy", "recall", "precision", "f1")
LOWER_IS_BETTER = ("false_positive_rate", "false_negative_rate")
EITHER_WAY = ("selection_rate",)

# Metrics whose denominator depends on the labels only, so that each image's
# outcome can be paired across two models. Precision counts over the
# predicted positives and F1 is not a proportion, so neither pairs.
PAIRED_METRICS = (
    "accuracy",
    "recall",
    "false_positive_rate",
    "false_negative_rate",
    "selection_rate",
)

# Above this many discordant images, McNemar's tail comes from the incomplete
# beta function instead of an exact sum of binomial coefficients.
_EXACT_TAIL_LIMIT = 2000

# The word for a per-image hit of each metric, for the paired failure message.
_HIT_WORDS = {
    "accuracy": "correct",
    "recall": "detected",
    "false_negative_rate": "missed",
    "false_positive_rate": "flagged",
    "selection_rate": "selected",
}


@dataclass(frozen=True)
class RegressionSpec:
    """The figure that a regression gate compares, and its tolerance.

    Attributes:
        metric: the rate metric.
        positive: the positive class name, or None.
        by: the grouping columns.
        corruption: the corruption, or None for clean images.
        severity: its severity, or None.
        tolerance: the largest allowed change in the worse direction.
        paired: compare per-image outcomes with McNemar's test.
    """

    metric: str
    positive: str | None
    by: tuple[str, ...]
    corruption: str | None
    severity: int | None
    tolerance: float
    paired: bool

    @property
    def figure(self) -> str:
        """The figure's name in tables, such as "accuracy" or "recall[dog]"."""
        return (
            self.metric if self.positive is None else f"{self.metric}[{self.positive}]"
        )


@dataclass(frozen=True)
class CurrentRun:
    """The current run's side of a comparison.

    Attributes:
        measurement: the figure per group.
        group_indices: group label -> positions of its images.
        hits: each image's outcome for the metric (see `per_image_outcomes`),
            or None for a metric whose images cannot be paired.
        counted: whether each image is in the metric's denominator, or None.
        provenance: fingerprints, seed, device and versions of this run.
        data_name: the evaluation set's name.
    """

    measurement: Measurement
    group_indices: dict[str, np.ndarray]
    hits: np.ndarray | None
    counted: np.ndarray | None
    provenance: Provenance
    data_name: str


@dataclass
class Comparison:
    """The outcome of comparing a run with its baseline entry.

    Attributes:
        checks: one check per group and direction.
        problem: why the entry cannot be compared, when it is missing or
            unusable; None otherwise.
        lines: one line per failing group, for the failure message.
        command: the command that records the entry.
        outcome: what the gate did with its entry, for the plugin.
    """

    checks: list[Check]
    problem: str | None
    lines: list[str]
    command: str
    outcome: EntryOutcome

    def message(self, result: GateResult, path: Path) -> str:
        """Return the failure message: what failed, each failing group, the notes."""
        if self.problem is not None:
            lines = [
                f"no_regression failed: {result.description}; {self.problem}: "
                f"{self.outcome.key!r} in {path}",
                f"  record it with: {self.command}",
            ]
        else:
            failing = len({check.group for check in result.failures})
            groups = len({check.group for check in result.checks})
            scope = f" (by {', '.join(result.by)})" if result.by else ""
            lines = [
                f"no_regression failed: {result.description}; {failing} of {groups} "
                f"groups fail against the baseline{scope}",
                *self.lines,
            ]
            if any(check.status == MISSING for check in result.failures):
                lines.append(f"  record the new groups with: {self.command}")
        lines.extend(f"  note: {note}" for note in self.outcome.notes)
        return "\n".join(lines)


def check_regression_arguments(metric: str, tolerance: float, paired: bool) -> float:
    """Return `tolerance` as a float after checking the gate's arguments.

    Raises:
        VisionGuardError: for an unknown metric, a negative or non-finite
            tolerance, or `paired=True` with a metric whose images cannot
            be paired.
    """
    from pytest_visionguard.measurements import check_metric_name

    check_metric_name(metric)
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, int | float)
        or not math.isfinite(tolerance)
        or tolerance < 0
    ):
        raise VisionGuardError(
            f"no_regression: tolerance must be a finite number >= 0, got {tolerance!r}"
        )
    if paired and metric not in PAIRED_METRICS:
        raise VisionGuardError(
            f"no_regression: paired=True needs a metric counted over a fixed set of "
            f"images ({', '.join(PAIRED_METRICS)}); {metric} counts over the "
            "model's own predictions, so pass paired=False"
        )
    return float(tolerance)


def entry_key(spec: RegressionSpec, data_name: str, params: Mapping[str, str]) -> str:
    """Return the entry key, such as "recall[dog] by site under fog@3 on val".

    The key names the figure (metric, positive class, grouping, corruption),
    the evaluation set and the test's parameters. It leaves out the test's
    name, so renaming a test keeps its entry and two tests that check the
    same figure share one.
    """
    parts = [spec.figure]
    if spec.by:
        parts.append("by " + ",".join(spec.by))
    if spec.corruption is not None:
        parts.append(f"under {spec.corruption}@{spec.severity}")
    parts.append(f"on {data_name}")
    if params:
        parts.append(
            "[" + ", ".join(f"{name}={params[name]}" for name in sorted(params)) + "]"
        )
    return " ".join(parts)


def describe_run(
    evaluation: Evaluation,
    predictions: Predictions,
    measurement: Measurement,
    *,
    by: str | Sequence[str] | None,
    positive: int | str | None,
    groups: Mapping[str, Sequence[Any]] | None,
    tolerance: float,
    paired: bool,
) -> tuple[RegressionSpec, CurrentRun]:
    """Return what a regression gate compares and the current run's side of it.

    The fingerprints of the weights and the data are computed once per
    evaluation and cached on it.
    """
    from pytest_visionguard.groups import normalise_by
    from pytest_visionguard.groups import split_groups
    from pytest_visionguard.measurements import resolve_positive

    metric = measurement.metric
    index = resolve_positive(metric, positive, predictions)
    spec = RegressionSpec(
        metric=metric,
        positive=None if index is None else predictions.class_names[index],
        by=normalise_by(by),
        corruption=predictions.corruption,
        severity=predictions.severity,
        tolerance=tolerance,
        paired=paired,
    )
    split = split_groups(predictions.metadata, spec.by, groups=groups)
    hits: np.ndarray | None = None
    counted: np.ndarray | None = None
    if metric in PAIRED_METRICS:
        hits, counted = per_image_outcomes(metric, predictions, index)
    provenance = Provenance(
        model=evaluation.model_fingerprint,
        data=evaluation.data_fingerprint,
        seed=evaluation.seed,
        device=str(evaluation.device),
        versions=package_versions(),
    )
    indices = {group.label: group.indices for group in split}
    run = CurrentRun(
        measurement, indices, hits, counted, provenance, evaluation.data.name
    )
    return spec, run


def per_image_outcomes(
    metric: str, predictions: Predictions, positive: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Return (hits, counted): each image's outcome and whether the metric counts it.

    The metric's value on a set of images is hits.sum() / counted.sum()
    over them, as `metrics.rate_counts` counts it. For recall, the counted
    images are the positives and the hits are those predicted positive. For
    the false negative rate, the hits are the positives predicted as
    another class.
    """
    import numpy as np

    labels, predicted = predictions.labels, predictions.predicted
    everyone = np.ones(labels.shape[0], dtype=bool)
    if metric == "accuracy":
        return np.asarray(predicted == labels), everyone
    is_positive = np.asarray(labels == positive)
    predicted_positive = np.asarray(predicted == positive)
    if metric == "recall":
        return predicted_positive, is_positive
    if metric == "false_negative_rate":
        return ~predicted_positive, is_positive
    if metric == "false_positive_rate":
        return predicted_positive, ~is_positive
    if metric == "selection_rate":
        return predicted_positive, everyone
    raise VisionGuardError(f"no_regression: {metric} has no per-image outcome")


def compare_with_baseline(
    spec: RegressionSpec,
    current: CurrentRun,
    binding: BaselineBinding,
    decision: DecisionSettings,
) -> Comparison:
    """Compare the current figures with the stored entry, and record it when asked.

    In "update" mode a missing or failing entry is recorded. In
    "regenerate" mode every entry is. The checks of a recorded entry pass
    with the status "recorded", except those of groups too small to judge.
    """
    session = binding.session
    key = entry_key(spec, current.data_name, binding.params)
    stored = session.entry(key)
    notes = _provenance_notes(stored, current.provenance)
    usable, problem = _usable_entry(spec, stored, current)
    changes: dict[str, _Change] = {}
    if usable is None:
        checks = [_missing_check(row, spec) for row in current.measurement.rows]
        status = MISSING
    else:
        checks, changes = _group_checks(spec, current, usable, decision)
        checks = apply_holm(checks, decision)
        status = "matched" if all(check.passed for check in checks) else "regressed"
    lines = _failure_lines(checks, changes, spec, current)
    reason = _record_reason(session.mode, status)
    entry = None
    if reason is not None:
        entry = _new_entry(spec, current, binding, stored)
        rows = {row.label: row for row in current.measurement.rows}
        checks = [_recorded(check, rows.get(check.group), spec) for check in checks]
        status = RECORDED
    outcome = EntryOutcome(
        key=key,
        status=status,
        reason=reason,
        entry=entry,
        notes=tuple(notes),
        changes={label: change.to_json() for label, change in changes.items()},
        test=binding.test,
    )
    command = session.update_command(binding.test)
    return Comparison(checks, problem, lines, command, outcome)


def describe_regression_gate(spec: RegressionSpec) -> str:
    """Return the gate's description: what was required, in words."""
    direction = {
        **{name: "drop" for name in HIGHER_IS_BETTER},
        **{name: "rise" for name in LOWER_IS_BETTER},
    }.get(spec.metric, "change")
    text = f"{spec.figure} {direction} from the baseline <= {format_figure(spec.tolerance)}"
    if spec.corruption is not None:
        text += f" under {spec.corruption}@{spec.severity}"
    return text + (" (paired)" if spec.paired else "")


def regression_limits(
    metric: str, baseline: float, tolerance: float
) -> list[tuple[Direction, float]]:
    """Return the (direction, threshold) pairs that a figure must meet."""
    if metric in LOWER_IS_BETTER:
        return [("at_most", baseline + tolerance)]
    if metric in EITHER_WAY:
        return [("at_least", baseline - tolerance), ("at_most", baseline + tolerance)]
    return [("at_least", baseline - tolerance)]


def _usable_entry(
    spec: RegressionSpec, stored: BaselineEntry | None, current: CurrentRun
) -> tuple[BaselineEntry | None, str | None]:
    """Return the stored entry when the gate can compare with it, else why not."""
    if stored is None:
        return None, "no baseline entry for this figure"
    if not spec.paired:
        return stored, None
    if stored.paired is None:
        return None, (
            "the baseline entry contains no per-image outcomes, which paired=True needs"
        )
    assert current.hits is not None
    if (
        stored.paired.n_images != current.hits.shape[0]
        or stored.provenance.data != current.provenance.data
    ):
        return None, (
            "the baseline entry was recorded on other images (the data fingerprint "
            "differs), so the images cannot be paired; pass paired=False to compare "
            "the rates, or re-record the entry"
        )
    return stored, None


def _group_checks(
    spec: RegressionSpec,
    current: CurrentRun,
    stored: BaselineEntry,
    decision: DecisionSettings,
) -> tuple[list[Check], dict[str, _Change]]:
    baseline_hits = stored.paired.unpack() if spec.paired and stored.paired else None
    checks: list[Check] = []
    changes: dict[str, _Change] = {}
    for row in current.measurement.rows:
        figure = stored.groups.get(row.label)
        if figure is None:
            checks.append(_missing_check(row, spec))
            continue
        change = _change(row, figure, stored, current, baseline_hits)
        changes[row.label] = change
        for direction, threshold in regression_limits(
            spec.metric, figure.value, spec.tolerance
        ):
            checks.append(
                _regression_check(row, spec, change, direction, threshold, decision)
            )
    for label, figure in stored.groups.items():
        if label not in current.group_indices:
            checks.append(_vanished_check(label, figure, spec))
    return checks, changes


def _failure_lines(
    checks: list[Check],
    changes: Mapping[str, _Change],
    spec: RegressionSpec,
    current: CurrentRun,
) -> list[str]:
    lines = []
    for check in checks:
        if check.passed:
            continue
        change = changes.get(check.group)
        if check.status == MISSING and check.group in current.group_indices:
            lines.append(f"  {check.group}: no baseline figure for this group")
        elif check.status == MISSING:
            lines.append(f"  {check.group}: in the baseline but not in this run")
        elif change is not None:
            confidence = current.measurement.confidence
            lines.append("  " + _describe_regression(check, change, spec, confidence))
    return lines


@dataclass(frozen=True)
class _Change:
    """The change of one group's figure from its baseline."""

    baseline: float
    change: float
    low: float
    high: float
    up: int | None = None
    down: int | None = None
    p_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "baseline": float_or_none(self.baseline),
            "change": float_or_none(self.change),
            "change_ci_low": float_or_none(self.low),
            "change_ci_high": float_or_none(self.high),
        }
        if self.up is not None:
            payload.update(
                {
                    "newly_hit": self.up,
                    "no_longer_hit": self.down,
                    "p_value": self.p_value,
                }
            )
        return payload


def _change(
    row: MeasuredRow,
    figure: GroupFigure,
    stored: BaselineEntry,
    current: CurrentRun,
    baseline_hits: np.ndarray | None,
) -> _Change:
    confidence = current.measurement.confidence
    difference = row.value - figure.value
    if baseline_hits is not None:
        assert current.hits is not None and current.counted is not None
        indices = current.group_indices[row.label]
        counted = current.counted[indices]
        now = current.hits[indices][counted]
        before = baseline_hits[indices][counted]
        up = int((now & ~before).sum())
        down = int((before & ~now).sum())
        low, high = paired_change_interval(up, down, int(counted.sum()), confidence)
        p_value = mcnemar_exact_p_value(up, down)
        return _Change(figure.value, difference, low, high, up, down, p_value)
    low, high = _unpaired_change_interval(row, figure, stored.confidence, confidence)
    return _Change(figure.value, difference, low, high)


def _unpaired_change_interval(
    row: MeasuredRow, figure: GroupFigure, stored_level: float, level: float
) -> tuple[float, float]:
    if row.successes is not None and figure.successes is not None:
        now = _wilson(row.successes, row.n, level)
        before = _wilson(figure.successes, figure.n, level)
    else:
        # F1 has bootstrap intervals, which cannot be recomputed from the
        # stored figure; rescale the stored one to this level instead.
        scale = _z(level) / _z(stored_level)
        now = (row.ci_low, row.ci_high)
        before = (
            figure.value - (figure.value - figure.ci_low) * scale,
            figure.value + (figure.ci_high - figure.value) * scale,
        )
    return mover_difference_interval(row.value, now, figure.value, before)


def mover_difference_interval(
    value: float,
    interval: tuple[float, float],
    reference: float,
    reference_interval: tuple[float, float],
) -> tuple[float, float]:
    """Return the interval of `value - reference` for two independent estimates.

    This is the method of variance estimates recovery (MOVER): each bound
    combines the distances from the two estimates to their own bounds. With
    Wilson intervals it is Newcombe's hybrid score interval for a difference
    of proportions (method 10 of Newcombe, Statistics in Medicine 17:873,
    1998).
    """
    difference = value - reference
    low = difference - math.hypot(
        value - interval[0], reference_interval[1] - reference
    )
    high = difference + math.hypot(
        interval[1] - value, reference - reference_interval[0]
    )
    return low, high


def paired_change_interval(
    up: int, down: int, n: int, confidence: float
) -> tuple[float, float]:
    """Return the interval of a paired change in a proportion over `n` images.

    `up` images count towards the numerator now but did not before, `down`
    the reverse. Given the m = up + down discordant images, the share of
    them that went down has the exact (Clopper-Pearson) interval [ql, qh],
    and the change (up - down) / n = m (1 - 2q) / n maps it to
    [m (1 - 2qh) / n, m (1 - 2ql) / n]. A whole interval below zero is
    McNemar's exact test rejecting "no change" at level 1 - confidence.
    """
    if n == 0:
        return math.nan, math.nan
    discordant = up + down
    if discordant == 0:
        return 0.0, 0.0
    low_share, high_share = clopper_pearson_interval(down, discordant, confidence)
    return (
        discordant * (1 - 2 * high_share) / n,
        discordant * (1 - 2 * low_share) / n,
    )


def mcnemar_exact_p_value(up: int, down: int) -> float:
    """Return McNemar's exact two-sided p-value for `up` and `down` discordant pairs.

    Under "no change", each of the m = up + down discordant images went up or
    down with probability 1/2, so the p-value is twice the binomial tail
    P(X <= min(up, down)) for X ~ Binomial(m, 1/2), capped at 1.

    Example:
        >>> mcnemar_exact_p_value(0, 8)
        0.0078125
    """
    discordant = up + down
    smaller = min(up, down)
    if discordant == 0:
        return 1.0
    if discordant > _EXACT_TAIL_LIMIT:
        # P(X <= k) = I_{1/2}(m - k, k + 1); summing big integers would cost
        # O(k * m) bit operations.
        tail = regularized_incomplete_beta(discordant - smaller, smaller + 1, 0.5)
        return min(1.0, 2 * tail)
    count = sum(math.comb(discordant, k) for k in range(smaller + 1))
    total: int = 2**discordant
    return min(1.0, 2 * count / total)


def clopper_pearson_interval(
    successes: int, n: int, confidence: float
) -> tuple[float, float]:
    """Return the exact (Clopper-Pearson) interval of a binomial proportion k / n.

    The bounds are the alpha/2 and 1 - alpha/2 quantiles of the Beta(k,
    n - k + 1) and Beta(k + 1, n - k) distributions, with the lower bound 0
    when k = 0 and the upper 1 when k = n.

    Example:
        >>> low, high = clopper_pearson_interval(8, 8, 0.95)
        >>> round(low, 4), high
        (0.6306, 1.0)
    """
    alpha = 1.0 - confidence
    low = (
        0.0
        if successes == 0
        else _beta_quantile(alpha / 2, successes, n - successes + 1)
    )
    high = (
        1.0
        if successes == n
        else _beta_quantile(1 - alpha / 2, successes + 1, n - successes)
    )
    return low, high


def _beta_quantile(probability: float, a: float, b: float) -> float:
    low, high = 0.0, 1.0
    for _ in range(100):
        middle = (low + high) / 2
        if regularized_incomplete_beta(a, b, middle) < probability:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def regularized_incomplete_beta(a: float, b: float, x: float) -> float:
    """Return I_x(a, b), the Beta(a, b) distribution function at x.

    It evaluates the standard continued fraction of I_x(a, b) with the
    modified Lentz method. For x above (a + 1) / (a + b + 2), near the mean,
    it uses 1 - I_(1-x)(b, a) instead, because there the fraction converges
    slowly. A unit test checks it against `scipy.stats.beta`.
    """
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b)
        - math.lgamma(a)
        - math.lgamma(b)
        + a * math.log(x)
        + b * math.log1p(-x)
    )
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 10_000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return result


def _regression_check(
    row: MeasuredRow,
    spec: RegressionSpec,
    change: _Change,
    direction: Direction,
    threshold: float,
    decision: DecisionSettings,
) -> Check:
    if row.n >= decision.min_group_size and math.isnan(change.baseline):
        # NaN against NaN is not a match: an undefined figure fails.
        return Check(
            row.label,
            spec.figure,
            row.value,
            math.nan,
            math.nan,
            row.n,
            threshold,
            direction,
            UNDEFINED,
            False,
        )
    return make_check(
        group=row.label,
        figure=spec.figure,
        value=row.value,
        # Every rate metric lies in [0, 1], and so does its interval.
        ci_low=max(0.0, change.baseline + change.low),
        ci_high=min(1.0, change.baseline + change.high),
        n=row.n,
        threshold=threshold,
        direction=direction,
        settings=decision,
    )


def _describe_regression(
    check: Check,
    change: _Change,
    spec: RegressionSpec,
    confidence: float,
) -> str:
    sign = ">=" if check.direction == "at_least" else "<="
    head = f"{check.group}: {check.figure} {format_figure(check.value)}"
    if check.status == TOO_SMALL:
        return f"{head}, n={check.n}: too little data for this group, so it fails"
    if check.status == UNDEFINED:
        which = "in the baseline" if math.isnan(change.baseline) else "in this run"
        return (
            f"{head} (baseline {format_figure(change.baseline)}), n={check.n}: "
            f"undefined (0/0) {which}, so it fails"
        )
    interval = (
        f"{confidence * 100:g}% CI [{_signed(change.low)}, {_signed(change.high)}]"
    )
    text = (
        f"{head} (baseline {format_figure(change.baseline)}, change "
        f"{_signed(change.change)}, {interval}), n={check.n}; "
    )
    if check.status == INCONCLUSIVE:
        text += (
            f"the interval straddles the threshold {sign} "
            f"{format_figure(check.threshold)}, so it fails (strict)"
        )
    else:
        text += (
            f"beyond the tolerance {format_figure(spec.tolerance)} (threshold {sign} "
            f"{format_figure(check.threshold)})"
        )
    if change.up is not None:
        word = _HIT_WORDS.get(spec.metric, "counted")
        text += (
            f"; {change.down} images no longer {word}, {change.up} newly {word}, "
            f"McNemar exact p = {change.p_value:.4g}"
        )
    return text


def _missing_check(row: MeasuredRow, spec: RegressionSpec) -> Check:
    direction: Direction = "at_most" if spec.metric in LOWER_IS_BETTER else "at_least"
    return Check(
        row.label,
        spec.figure,
        row.value,
        row.ci_low,
        row.ci_high,
        row.n,
        math.nan,
        direction,
        MISSING,
        False,
    )


def _vanished_check(label: str, figure: GroupFigure, spec: RegressionSpec) -> Check:
    direction, threshold = regression_limits(spec.metric, figure.value, spec.tolerance)[
        0
    ]
    return Check(
        label,
        spec.figure,
        math.nan,
        math.nan,
        math.nan,
        0,
        threshold,
        direction,
        MISSING,
        False,
    )


def _recorded(check: Check, row: MeasuredRow | None, spec: RegressionSpec) -> Check:
    """Turn a check into a passing "recorded" one; small groups keep their status."""
    if row is None:
        # A group that vanished from the data: the new entry drops it.
        return Check(
            check.group,
            check.figure,
            check.value,
            check.ci_low,
            check.ci_high,
            0,
            check.threshold,
            check.direction,
            RECORDED,
            True,
        )
    if check.status in (TOO_SMALL, SKIPPED):
        return check
    limits = dict(regression_limits(spec.metric, row.value, spec.tolerance))
    return Check(
        row.label,
        check.figure,
        row.value,
        row.ci_low,
        row.ci_high,
        row.n,
        limits.get(check.direction, math.nan),
        check.direction,
        RECORDED,
        True,
    )


def _record_reason(mode: BaselineMode, status: str) -> str | None:
    if mode == "regenerate":
        return "regenerate"
    if mode == "update" and status == MISSING:
        return "missing"
    if mode == "update" and status == "regressed":
        return "failing"
    return None


def _new_entry(
    spec: RegressionSpec,
    current: CurrentRun,
    binding: BaselineBinding,
    stored: BaselineEntry | None,
) -> BaselineEntry:
    """Return the entry that records the current figures.

    It keeps per-image outcomes when the gate is paired or the entry it
    replaces had them, so that a paired gate on the same figure keeps
    working after an unpaired gate re-records it.
    """
    measurement = current.measurement
    groups = {
        row.label: GroupFigure(row.value, row.n, row.ci_low, row.ci_high, row.successes)
        for row in measurement.rows
    }
    paired = None
    keep_outcomes = spec.paired or (stored is not None and stored.paired is not None)
    if keep_outcomes and current.hits is not None:
        paired = PerImageOutcomes.pack(current.hits)
    return BaselineEntry(
        metric=spec.metric,
        positive=spec.positive,
        by=spec.by,
        corruption=spec.corruption,
        severity=spec.severity,
        data_name=current.data_name,
        params=dict(binding.params),
        confidence=measurement.confidence,
        groups=groups,
        provenance=current.provenance,
        paired=paired,
    )


def _provenance_notes(stored: BaselineEntry | None, now: Provenance) -> list[str]:
    if stored is None:
        return []
    before = stored.provenance
    notes = []
    if before.model != now.model:
        notes.append(
            f"the weights differ from those the baseline was recorded with "
            f"(fingerprint {before.model[:12]}, now {now.model[:12]})"
        )
    if before.data != now.data:
        notes.append(
            f"the evaluation data differ from the data the baseline was recorded on "
            f"(fingerprint {before.data[:12]}, now {now.data[:12]}), so the figures "
            "compare different images"
        )
    if before.seed != now.seed:
        notes.append(
            f"the seed differs: the baseline used {before.seed}, this run {now.seed}"
        )
    return notes


def _wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    from pytest_visionguard.metrics import wilson_interval

    low, high = wilson_interval(successes, n, confidence=confidence)
    return float(low), float(high)


def _z(confidence: float) -> float:
    return statistics.NormalDist().inv_cdf(0.5 + confidence / 2)


def _signed(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return f"{value:+.3f}"
