"""Per-group measurements: one row per group, the figure and its interval.

Each function takes `Predictions` and returns a `Measurement`, whose `frame()`
is the DataFrame that the `visionguard` fixture's measurement methods return.
Proportions get Wilson score intervals; ECE, expected cost, F1 and accuracy
drops get seeded bootstrap intervals.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from pytest_visionguard import metrics
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.evaluation import Predictions
from pytest_visionguard.gates import is_integer
from pytest_visionguard.gates import is_real_number
from pytest_visionguard.groups import Group
from pytest_visionguard.groups import group_index
from pytest_visionguard.groups import normalise_by
from pytest_visionguard.groups import split_groups
from pytest_visionguard.metrics.temperature import apply_temperature
from pytest_visionguard.metrics.temperature import fit_temperature

# A bootstrap over fewer images than this mostly resamples the same few
# values and gives a misleadingly narrow interval, so such groups get no
# bootstrap interval (NaN), and a gate deciding on intervals finds them
# inconclusive. Wilson intervals need no such floor.
MIN_BOOTSTRAP_SAMPLES = 10

# Columns beside `ece` in calibration tables, before the temperature-scaling ones.
CALIBRATION_EXTRAS = ("mce", "ace", "classwise_ece", "brier", "nll")


@dataclass(frozen=True)
class MeasuredRow:
    """One group's figure.

    Attributes:
        key: the index values of the row (corruption and severity first, for
            robustness tables, then one value per `by` column).
        label: the group as `column=value` text.
        n: the number of samples the figure is computed on.
        value: the point estimate; NaN when undefined for the group.
        ci_low: the lower end of the interval.
        ci_high: the upper end of the interval.
        extras: further columns, such as `mce` or `review_rate`.
        successes: the numerator k of a proportion k / n, else None.
    """

    key: tuple[Any, ...]
    label: str
    n: int
    value: float
    ci_low: float
    ci_high: float
    extras: dict[str, float] = field(default_factory=dict)
    successes: int | None = None


@dataclass(frozen=True)
class Measurement:
    """A table of per-group figures for one metric.

    Attributes:
        metric: the name of the value column, such as `accuracy` or `ece`.
        index_names: the names of the index levels.
        rows: one row per group.
        confidence: the level of the intervals.
        interval: "wilson" or "bootstrap".
    """

    metric: str
    index_names: tuple[str, ...]
    rows: list[MeasuredRow]
    confidence: float
    interval: str

    def frame(self) -> pd.DataFrame:
        """Return the table as a DataFrame indexed by group."""
        records = []
        for row in self.rows:
            record: dict[str, Any] = {
                "n": row.n,
                self.metric: row.value,
                "ci_low": row.ci_low,
                "ci_high": row.ci_high,
            }
            record.update(row.extras)
            records.append(record)
        frame = pd.DataFrame.from_records(records)
        if len(self.index_names) == 1:
            frame.index = pd.Index(
                [row.key[0] for row in self.rows], name=self.index_names[0]
            )
        else:
            frame.index = pd.MultiIndex.from_tuples(
                [row.key for row in self.rows], names=list(self.index_names)
            )
        frame["n"] = frame["n"].astype("int64")
        frame.attrs["confidence"] = self.confidence
        frame.attrs["interval"] = self.interval
        return frame


@dataclass(frozen=True)
class IntervalSettings:
    """Interval settings: level, bootstrap resamples and seed.

    Attributes:
        confidence: the interval level, in (0, 1).
        n_resamples: bootstrap resamples.
        seed: the bootstrap seed.
    """

    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0


def measure_rate(
    predictions: Predictions,
    name: str,
    *,
    by: str | Sequence[str] | None,
    positive: int | str | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure a rate metric (accuracy, recall, ...) per group."""
    name = check_metric_name(name)
    positive_index = resolve_positive(name, positive, predictions)
    columns = normalise_by(by)
    rows = []
    for group in split_groups(predictions.metadata, columns, groups=groups):
        labels = predictions.labels[group.indices]
        predicted = predictions.predicted[group.indices]
        rows.append(
            _rate_row(name, labels, predicted, positive_index, group, intervals)
        )
    return Measurement(
        name, _index_names(columns), rows, intervals.confidence, _interval_kind(name)
    )


def measure_calibration(
    predictions: Predictions,
    *,
    n_bins: int,
    norm: str,
    by: str | Sequence[str] | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure the calibration error per group, with the calibration family beside it.

    The value column `ece` is the error of the chosen `norm` ("l1" is the
    ECE, "max" the MCE) with its bootstrap interval. Beside it: `mce`, `ace`
    (equal-mass bins), `classwise_ece`, `brier`, `nll`, and temperature
    scaling fitted on a random half of all images: `temperature`, and the
    error of the group's images in the other half before (`ece_held_out`)
    and after (`ece_held_out_scaled`) scaling.
    """
    _check_n_bins(n_bins)
    if norm not in ("l1", "l2", "max"):
        raise VisionGuardError(f"norm must be 'l1', 'l2' or 'max', got {norm!r}")
    columns = normalise_by(by)
    scaling = fit_scaling_on_half(predictions, seed=intervals.seed)
    rows = []
    for group in split_groups(predictions.metadata, columns, groups=groups):
        row = _calibration_row(predictions, group, n_bins, norm, intervals)
        rows.append(_with_scaling(row, predictions, group, scaling, n_bins, norm))
    return Measurement(
        "ece", _index_names(columns), rows, intervals.confidence, "bootstrap"
    )


@dataclass(frozen=True)
class TemperatureScaling:
    """Temperature scaling fitted on one half of the images, for the other half.

    Attributes:
        temperature: the fitted temperature, or NaN with fewer than 4 images.
        held_out: True for each image of the half the fit did not see.
        scaled: the probabilities of every image after scaling.
    """

    temperature: float
    held_out: np.ndarray
    scaled: np.ndarray


def fit_scaling_on_half(predictions: Predictions, *, seed: int) -> TemperatureScaling:
    """Fit a temperature on a seeded random half of the images.

    The ECE of the other half after scaling estimates what recalibration
    would give on new images, without the optimism of fitting and scoring
    on the same ones.
    """
    count = len(predictions)
    held_out = np.zeros(count, dtype=bool)
    if count < 4:
        return TemperatureScaling(math.nan, held_out, predictions.probabilities)
    order = np.random.default_rng(seed).permutation(count)
    held_out[order[count // 2 :]] = True
    temperature = fit_temperature(
        predictions.probabilities[~held_out], predictions.labels[~held_out]
    )
    scaled = apply_temperature(predictions.probabilities, temperature)
    return TemperatureScaling(temperature, held_out, scaled)


def _with_scaling(
    row: MeasuredRow,
    predictions: Predictions,
    group: Group,
    scaling: TemperatureScaling,
    n_bins: int,
    norm: str,
) -> MeasuredRow:
    held_out = group.indices[scaling.held_out[group.indices]]
    before, after = math.nan, math.nan
    if held_out.size and math.isfinite(scaling.temperature):
        labels = predictions.labels[held_out]
        before = metrics.expected_calibration_error(
            predictions.probabilities[held_out], labels, n_bins=n_bins, norm=norm
        )
        after = metrics.expected_calibration_error(
            scaling.scaled[held_out], labels, n_bins=n_bins, norm=norm
        )
    extras = dict(row.extras)
    extras.update(
        temperature=scaling.temperature,
        ece_held_out=before,
        ece_held_out_scaled=after,
    )
    return replace(row, extras=extras)


def measure_cost(
    predictions: Predictions,
    cost_matrix: Any,
    *,
    by: str | Sequence[str] | None,
    review_below: float | None,
    review_cost: float | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure the expected cost per image per group.

    Beside `expected_cost` and its bootstrap interval is
    `bayes_expected_cost`: the cost had each image been given the class of
    least expected cost under its probabilities (argmin over j of sum over i
    of p_i C[i, j]) instead of the top-1 class. It shows what cost-aware
    decisions would save. With `review_below`, `review_rate` and its Wilson
    interval (`review_ci_low`, `review_ci_high`) are added.
    """
    matrix = resolve_cost_matrix(cost_matrix, predictions.class_names)
    _check_review(review_below, review_cost)
    costs = metrics.per_sample_cost(
        predictions.labels,
        predictions.predicted,
        matrix,
        confidence=predictions.confidence,
        review_below=review_below,
        review_cost=review_cost,
    )
    bayes = metrics.bayes_decision(predictions.probabilities, matrix)
    bayes_costs = matrix[predictions.labels, bayes]
    columns = normalise_by(by)
    rows = []
    for group in split_groups(predictions.metadata, columns, groups=groups):
        row = _cost_row(costs, predictions, group, review_below, intervals)
        bayes_cost = float(bayes_costs[group.indices].mean()) if row.n else math.nan
        rows.append(
            replace(row, extras={**row.extras, "bayes_expected_cost": bayes_cost})
        )
    return Measurement(
        "expected_cost", _index_names(columns), rows, intervals.confidence, "bootstrap"
    )


def measure_robustness(
    clean: Predictions,
    corrupted: Sequence[Predictions],
    *,
    by: str | Sequence[str] | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure accuracy under each corruption and its drop from clean, per group.

    The value column is the corrupted accuracy with its Wilson interval;
    `clean_accuracy`, `drop` and the drop's paired bootstrap interval
    (`drop_ci_low`, `drop_ci_high`) sit beside it.
    """
    columns = normalise_by(by)
    split = split_groups(clean.metadata, columns, groups=groups)
    rows = []
    for predictions in corrupted:
        for group in split:
            rows.append(_robustness_row(clean, predictions, group, intervals))
    index_names = ("corruption", "severity", *_index_names(columns))
    return Measurement("accuracy", index_names, rows, intervals.confidence, "wilson")


def measure_mean_robustness(
    clean: Predictions,
    corrupted: Sequence[Predictions],
    *,
    by: str | Sequence[str] | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure accuracy per corruption averaged over its severities, per group.

    Rows have the severity "mean". Each image scores the share of the
    severities under which it is classified right, and the value is the mean
    of those scores with a bootstrap interval over images, so n is the
    group's images. `drop` is the clean accuracy minus that mean, with a
    paired bootstrap interval.
    """
    columns = normalise_by(by)
    split = split_groups(clean.metadata, columns, groups=groups)
    by_corruption: dict[str, list[Predictions]] = {}
    for predictions in corrupted:
        by_corruption.setdefault(str(predictions.corruption), []).append(predictions)
    rows = []
    for name, runs in by_corruption.items():
        scores = np.mean([run.correct for run in runs], axis=0)
        for group in split:
            rows.append(_mean_robustness_row(clean, name, scores, group, intervals))
    index_names = ("corruption", "severity", *_index_names(columns))
    return Measurement("accuracy", index_names, rows, intervals.confidence, "bootstrap")


def _mean_robustness_row(
    clean: Predictions,
    name: str,
    scores: np.ndarray,
    group: Group,
    intervals: IntervalSettings,
) -> MeasuredRow:
    key = (name, "mean", *group.index_key)
    label = f"{name}@mean" + (f", {group.label}" if group.key else "")
    n = int(group.indices.size)
    if n == 0:
        extras = dict.fromkeys(
            ("clean_accuracy", "drop", "drop_ci_low", "drop_ci_high"), math.nan
        )
        return MeasuredRow(key, label, 0, math.nan, math.nan, math.nan, extras)
    group_scores = scores[group.indices]
    clean_correct = clean.correct[group.indices].astype(np.float64)
    low, high = _mean_interval(group_scores, intervals)
    drop_low, drop_high = _mean_interval(clean_correct - group_scores, intervals)
    value = float(group_scores.mean())
    extras = {
        "clean_accuracy": float(clean_correct.mean()),
        "drop": float(clean_correct.mean()) - value,
        "drop_ci_low": drop_low,
        "drop_ci_high": drop_high,
    }
    return MeasuredRow(key, label, n, value, low, high, extras)


def _mean_interval(
    values: np.ndarray, intervals: IntervalSettings
) -> tuple[float, float]:
    if len(values) < MIN_BOOTSTRAP_SAMPLES:
        return math.nan, math.nan
    return metrics.bootstrap_mean_interval(
        values,
        n_resamples=intervals.n_resamples,
        confidence=intervals.confidence,
        seed=intervals.seed,
    )


def measure_corruption_error(
    clean: Predictions,
    corrupted: Sequence[Predictions],
    reference_clean: Predictions,
    reference_corrupted: Sequence[Predictions],
    *,
    by: str | Sequence[str] | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure the corruption error (CE) relative to a reference model, per group.

    The definitions follow Hendrycks and Dietterich (2019, "Benchmarking
    Neural Network Robustness to Common Corruptions and Perturbations"). For
    corruption c the CE is the model's top-1 errors summed over the
    severities, divided by the reference model's. The relative CE divides
    the errors added to each model's clean error in the same way. The rows
    with corruption "mean" contain mCE and relative mCE, the means over the
    corruptions. Values below 1 mean
    the model is more robust than the reference. Intervals come from a
    bootstrap over images, which keeps each image's errors under every
    corruption, severity and model together.
    """
    names = list(dict.fromkeys(str(run.corruption) for run in corrupted))
    errors = _errors_per_image(corrupted, names)
    reference_errors = _errors_per_image(reference_corrupted, names)
    severities = len(corrupted) // len(names)
    clean_errors = (~clean.correct).astype(np.float64) * severities
    reference_clean_errors = (~reference_clean.correct).astype(np.float64) * severities
    columns = normalise_by(by)
    rows = []
    for group in split_groups(clean.metadata, columns, groups=groups):
        arrays = (
            errors[group.indices],
            reference_errors[group.indices],
            clean_errors[group.indices],
            reference_clean_errors[group.indices],
        )
        for column, name in enumerate([*names, "mean"]):
            selected = None if name == "mean" else column
            rows.append(_corruption_error_row(name, selected, arrays, group, intervals))
    return Measurement(
        "ce",
        ("corruption", *_index_names(columns)),
        rows,
        intervals.confidence,
        "bootstrap",
    )


def _errors_per_image(runs: Sequence[Predictions], names: list[str]) -> np.ndarray:
    """Return N×C counts of the severities under which each image is misclassified."""
    counts = np.zeros((len(runs[0]), len(names)), dtype=np.float64)
    for run in runs:
        counts[:, names.index(str(run.corruption))] += ~run.correct
    return counts


def _corruption_error_row(
    name: str,
    column: int | None,
    arrays: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    group: Group,
    intervals: IntervalSettings,
) -> MeasuredRow:
    key = (name, *group.index_key)
    label = name + (f", {group.label}" if group.key else "")
    n = int(group.indices.size)
    if n == 0:
        extras = {"relative_ce": math.nan}
        return MeasuredRow(key, label, 0, math.nan, math.nan, math.nan, extras)

    def ce(errors: np.ndarray, reference: np.ndarray, *_: np.ndarray) -> float:
        return _ratio_of_sums(errors, reference, column)

    def relative(
        errors: np.ndarray,
        reference: np.ndarray,
        clean: np.ndarray,
        reference_clean: np.ndarray,
    ) -> float:
        added = errors - clean[:, None]
        reference_added = reference - reference_clean[:, None]
        return _ratio_of_sums(added, reference_added, column)

    value = ce(*arrays)
    low, high = math.nan, math.nan
    if n >= MIN_BOOTSTRAP_SAMPLES:
        low, high = metrics.bootstrap_interval(
            ce,
            arrays,
            n_resamples=intervals.n_resamples,
            confidence=intervals.confidence,
            seed=intervals.seed,
        )
    return MeasuredRow(
        key, label, n, value, low, high, {"relative_ce": relative(*arrays)}
    )


def _ratio_of_sums(
    errors: np.ndarray, reference: np.ndarray, column: int | None
) -> float:
    """Return one corruption's ratio of summed errors, or the mean over corruptions."""
    totals = errors.sum(axis=0)
    reference_totals = reference.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(reference_totals != 0, totals / reference_totals, np.nan)
    if column is not None:
        return float(ratios[column])
    return float(ratios.mean())


def measure_coverage(
    predictions: Predictions,
    *,
    review_rates: Sequence[float],
    by: str | Sequence[str] | None,
    intervals: IntervalSettings,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> Measurement:
    """Measure the accuracy of the automatic decisions at each review rate.

    For a target review rate r, the confidence threshold t sends the r least
    confident share of all images to review (confidence below t), and the
    same t applies to every group. Each row gives, for one
    target and group, the accuracy of the images decided automatically, its
    Wilson interval, n (the images decided automatically), `threshold` and
    the group's actual `review_rate`. Tied confidences share a side of the
    threshold, so the actual rate can fall short of the target.
    """
    rates = _check_review_rates(review_rates)
    columns = normalise_by(by)
    split = split_groups(predictions.metadata, columns, groups=groups)
    ordered = np.sort(predictions.confidence)
    rows = []
    for rate in rates:
        position = math.ceil(rate * len(ordered))
        threshold = float(ordered[position]) if position < len(ordered) else math.inf
        automatic = predictions.confidence >= threshold
        for group in split:
            rows.append(
                _coverage_row(predictions, group, rate, threshold, automatic, intervals)
            )
    index_names = ("review_target", *_index_names(columns))
    return Measurement("accuracy", index_names, rows, intervals.confidence, "wilson")


def _coverage_row(
    predictions: Predictions,
    group: Group,
    rate: float,
    threshold: float,
    automatic: np.ndarray,
    intervals: IntervalSettings,
) -> MeasuredRow:
    decided = group.indices[automatic[group.indices]]
    n = int(decided.size)
    successes = int(np.count_nonzero(predictions.correct[decided]))
    low, high = _wilson(successes, n, intervals.confidence)
    size = int(group.indices.size)
    extras = {
        "threshold": threshold,
        "review_rate": (size - n) / size if size else math.nan,
    }
    value = successes / n if n else math.nan
    key = (rate, *group.index_key)
    return MeasuredRow(key, group.label, n, value, low, high, extras, successes)


def _check_review_rates(review_rates: Sequence[float]) -> list[float]:
    rates = (
        [review_rates] if isinstance(review_rates, int | float) else list(review_rates)
    )
    for rate in rates:
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not 0 <= rate <= 1
        ):
            raise VisionGuardError(
                f"review rates must be shares in [0, 1] such as 0.05, got {rate!r}"
            )
    if not rates:
        raise VisionGuardError(
            "review_rates is empty; pass shares such as (0.01, 0.05)"
        )
    return [float(rate) for rate in rates]


def check_metric_name(name: str) -> str:
    """Return `name` when it is a known rate metric, else raise."""
    if name not in metrics.RATE_METRICS:
        import difflib

        close = difflib.get_close_matches(str(name), metrics.RATE_METRICS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        raise VisionGuardError(
            f"unknown metric {name!r}{hint} the metrics are: "
            f"{', '.join(metrics.RATE_METRICS)}"
        )
    return name


def resolve_positive(
    name: str, positive: int | str | None, predictions: Predictions
) -> int | None:
    """Return the positive class index for a per-class metric.

    Raises:
        VisionGuardError: for an unknown class name, an index outside
            [0, K), or a missing `positive` with more than two classes.
    """
    names = predictions.class_names
    if name not in metrics.PER_CLASS_METRICS:
        if positive is not None:
            raise VisionGuardError(f"{name} is not a per-class metric; drop positive=")
        return None
    if positive is None:
        if predictions.num_classes == 2:
            return 1
        raise VisionGuardError(
            f"{name} is per class; pass positive= with a class index or one of "
            f"{names[:10]}{'...' if len(names) > 10 else ''}"
        )
    if isinstance(positive, str):
        if positive not in names:
            raise VisionGuardError(
                f"positive={positive!r} is not a class name; the classes are "
                f"{names[:20]}{'...' if len(names) > 20 else ''}"
            )
        return names.index(positive)
    if isinstance(positive, bool) or not isinstance(positive, int | np.integer):
        raise VisionGuardError(
            f"positive must be a class index or name, got {positive!r}"
        )
    if not 0 <= int(positive) < predictions.num_classes:
        raise VisionGuardError(
            f"positive={positive} is outside [0, {predictions.num_classes}); the "
            f"model has {predictions.num_classes} classes"
        )
    return int(positive)


def resolve_cost_matrix(cost_matrix: Any, class_names: list[str]) -> np.ndarray:
    """Return a K×K float64 cost matrix, rows true class and columns predicted.

    A DataFrame whose index and columns are class names is reordered to the
    class order; any other input is taken in class-index order.
    """
    num_classes = len(class_names)
    if isinstance(cost_matrix, pd.DataFrame):
        cost_matrix = _reorder_cost_frame(cost_matrix, class_names)
    return metrics.check_cost_matrix(cost_matrix, num_classes)


def _reorder_cost_frame(frame: pd.DataFrame, class_names: list[str]) -> Any:
    """Return the frame's values in class order, matched by its labels.

    A frame with the default 0..K-1 labels is taken in class-index order;
    any other labels must be the class names.
    """
    positions = list(range(len(class_names)))
    if list(frame.index) == positions and list(frame.columns) == positions:
        return frame.to_numpy()
    for axis, values in (("row", frame.index), ("column", frame.columns)):
        unknown = [str(value) for value in values if str(value) not in class_names]
        if unknown:
            raise VisionGuardError(
                f"cost matrix {axis} labels {unknown} are not class names; label "
                f"rows and columns with the classes {class_names}, or pass a "
                "plain K×K array in class-index order"
            )
    renamed = frame.rename(index=str, columns=str)
    missing = [
        name
        for name in class_names
        if name not in renamed.index or name not in renamed.columns
    ]
    if missing:
        raise VisionGuardError(
            f"cost matrix has no row or column for classes {missing}; give one per "
            "class, rows the true class and columns the predicted class"
        )
    return renamed.loc[class_names, class_names].to_numpy()


def _rate_row(
    name: str,
    labels: np.ndarray,
    predicted: np.ndarray,
    positive: int | None,
    group: Group,
    intervals: IntervalSettings,
) -> MeasuredRow:
    if name == "f1":
        value = metrics.rate_value(name, labels, predicted, positive=positive)
        assert positive is not None
        support = int(np.count_nonzero((labels == positive) | (predicted == positive)))
        low, high = _f1_interval(labels, predicted, positive, intervals)
        return MeasuredRow(group.index_key, group.label, support, value, low, high)
    successes, n = metrics.rate_counts(name, labels, predicted, positive=positive)
    value = successes / n if n else math.nan
    low, high = _wilson(successes, n, intervals.confidence)
    return MeasuredRow(
        group.index_key, group.label, n, value, low, high, successes=successes
    )


def _wilson(successes: int, n: int, confidence: float) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    low, high = metrics.wilson_interval(successes, n, confidence=confidence)
    return float(low), float(high)


def _f1_interval(
    labels: np.ndarray,
    predicted: np.ndarray,
    positive: int,
    intervals: IntervalSettings,
) -> tuple[float, float]:
    if labels.size < MIN_BOOTSTRAP_SAMPLES:
        return math.nan, math.nan

    def statistic(sample_labels: np.ndarray, sample_predicted: np.ndarray) -> float:
        return metrics.rate_value(
            "f1", sample_labels, sample_predicted, positive=positive
        )

    return metrics.bootstrap_interval(
        statistic,
        (labels, predicted),
        n_resamples=intervals.n_resamples,
        confidence=intervals.confidence,
        seed=intervals.seed,
    )


def _calibration_row(
    predictions: Predictions,
    group: Group,
    n_bins: int,
    norm: str,
    intervals: IntervalSettings,
) -> MeasuredRow:
    n = int(group.indices.size)
    if n == 0:
        extras = dict.fromkeys(CALIBRATION_EXTRAS, math.nan)
        return MeasuredRow(
            group.index_key, group.label, 0, math.nan, math.nan, math.nan, extras
        )
    probabilities = predictions.probabilities[group.indices]
    labels = predictions.labels[group.indices]
    value = metrics.expected_calibration_error(
        probabilities, labels, n_bins=n_bins, norm=norm
    )
    low, high = math.nan, math.nan
    if n >= MIN_BOOTSTRAP_SAMPLES:
        low, high = metrics.bootstrap_ece_interval(
            probabilities,
            labels,
            n_bins=n_bins,
            norm=norm,
            n_resamples=intervals.n_resamples,
            confidence=intervals.confidence,
            seed=intervals.seed,
        )
    extras = {
        "mce": metrics.maximum_calibration_error(probabilities, labels, n_bins=n_bins),
        "ace": metrics.adaptive_calibration_error(probabilities, labels, n_bins=n_bins),
        "classwise_ece": metrics.classwise_calibration_error(
            probabilities, labels, n_bins=n_bins
        ),
        "brier": metrics.brier_score(probabilities, labels),
        "nll": metrics.negative_log_likelihood(probabilities, labels),
    }
    return MeasuredRow(group.index_key, group.label, n, value, low, high, extras)


def _cost_row(
    costs: np.ndarray,
    predictions: Predictions,
    group: Group,
    review_below: float | None,
    intervals: IntervalSettings,
) -> MeasuredRow:
    n = int(group.indices.size)
    extras: dict[str, float] = {}
    if review_below is not None:
        reviewed = int(
            np.count_nonzero(predictions.confidence[group.indices] < review_below)
        )
        low, high = _wilson(reviewed, n, intervals.confidence)
        extras = {
            "review_rate": reviewed / n if n else math.nan,
            "review_ci_low": low,
            "review_ci_high": high,
        }
    if n == 0:
        return MeasuredRow(
            group.index_key, group.label, 0, math.nan, math.nan, math.nan, extras
        )
    group_costs = costs[group.indices]
    low, high = _mean_interval(group_costs, intervals)
    return MeasuredRow(
        group.index_key, group.label, n, float(group_costs.mean()), low, high, extras
    )


def _robustness_row(
    clean: Predictions,
    corrupted: Predictions,
    group: Group,
    intervals: IntervalSettings,
) -> MeasuredRow:
    key = (corrupted.corruption, corrupted.severity, *group.index_key)
    label = f"{corrupted.corruption}@{corrupted.severity}"
    if group.key:
        label = f"{label}, {group.label}"
    n = int(group.indices.size)
    clean_correct = clean.correct[group.indices]
    corrupted_correct = corrupted.correct[group.indices]
    successes = int(np.count_nonzero(corrupted_correct))
    value = successes / n if n else math.nan
    low, high = _wilson(successes, n, intervals.confidence)
    clean_accuracy = float(clean_correct.mean()) if n else math.nan
    drop_low, drop_high = math.nan, math.nan
    if n:
        drop_low, drop_high = _mean_interval(
            clean_correct.astype(np.float64) - corrupted_correct.astype(np.float64),
            intervals,
        )
    extras = {
        "clean_accuracy": clean_accuracy,
        "drop": clean_accuracy - value,
        "drop_ci_low": drop_low,
        "drop_ci_high": drop_high,
    }
    return MeasuredRow(key, label, n, value, low, high, extras)


def _check_n_bins(n_bins: int) -> None:
    if not is_integer(n_bins) or n_bins < 1:
        raise VisionGuardError(f"n_bins must be a positive integer, got {n_bins!r}")


def _check_review(review_below: float | None, review_cost: float | None) -> None:
    if review_below is None:
        if review_cost is not None:
            raise VisionGuardError("review_cost was given without review_below")
        return
    if not is_real_number(review_below) or not 0.0 <= review_below <= 1.0:
        raise VisionGuardError(
            f"review_below must be a confidence in [0, 1], got {review_below!r}"
        )
    if review_cost is None:
        raise VisionGuardError(
            "review_below needs review_cost, the price of a human review per image"
        )
    if (
        not is_real_number(review_cost)
        or not math.isfinite(review_cost)
        or review_cost < 0
    ):
        raise VisionGuardError(
            f"review_cost must be a finite non-negative number, got {review_cost!r}"
        )


def _index_names(columns: tuple[str, ...]) -> tuple[str, ...]:
    return columns or ("group",)


def _interval_kind(name: str) -> str:
    return "bootstrap" if name == "f1" else "wilson"


__all__ = [
    "IntervalSettings",
    "MeasuredRow",
    "Measurement",
    "group_index",
    "measure_calibration",
    "measure_cost",
    "measure_corruption_error",
    "measure_coverage",
    "measure_mean_robustness",
    "measure_rate",
    "measure_robustness",
]
