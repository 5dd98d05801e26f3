"""`VisionGuard`: the measurements and gates offered by the `visionguard` fixture.

It also works without pytest:

    guard = VisionGuard(Evaluation(Classifier(model), data, device=torch.device("cpu")))
    guard.assert_accuracy(at_least=0.9, by="site")
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import replace
from typing import Any

import pandas as pd

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.evaluation import Evaluation
from pytest_visionguard.evaluation import Predictions
from pytest_visionguard.gates import Check
from pytest_visionguard.gates import DecisionSettings
from pytest_visionguard.gates import Direction
from pytest_visionguard.gates import GateResult
from pytest_visionguard.gates import apply_holm
from pytest_visionguard.gates import check_decision_settings
from pytest_visionguard.gates import check_thresholds
from pytest_visionguard.gates import format_figure
from pytest_visionguard.gates import is_integer
from pytest_visionguard.gates import make_check
from pytest_visionguard.gates import warn_small_groups
from pytest_visionguard.groups import normalise_by
from pytest_visionguard.measurements import IntervalSettings
from pytest_visionguard.measurements import MeasuredRow
from pytest_visionguard.measurements import Measurement
from pytest_visionguard.measurements import measure_calibration
from pytest_visionguard.measurements import measure_corruption_error
from pytest_visionguard.measurements import measure_cost
from pytest_visionguard.measurements import measure_coverage
from pytest_visionguard.measurements import measure_mean_robustness
from pytest_visionguard.measurements import measure_rate
from pytest_visionguard.measurements import measure_robustness

Groups = Mapping[str, Sequence[Any]] | None
Recorder = Callable[[GateResult, Measurement], None]
_UNSET: Any = object()


@dataclass(frozen=True)
class GuardSettings:
    """Run-wide defaults of the gates.

    Attributes:
        confidence: the default deciding interval level, or None.
        min_group_size: the default minimum number of samples per figure.
        small_groups: the default policy for groups below it.
        n_resamples: bootstrap resamples per interval.
        seed: the bootstrap seed.
    """

    confidence: float | None = None
    min_group_size: int = 1
    small_groups: str = "fail"
    n_resamples: int = 1000
    seed: int = 0


class VisionGuard:
    """Measurements and gates over one model on one evaluation set.

    Measurements return DataFrames with one row per group and the columns
    `n`, the value, `ci_low` and `ci_high`. Gates raise `GateFailure` (an
    `AssertionError`) naming each failing group with its figure, interval, n
    and the threshold.

    Args:
        evaluation: the cached inference of the model on the data.
        settings: run-wide defaults; per-call arguments override them.
        recorder: called with each gate's result and measurement, so the
            pytest plugin can report them.
        reference: the evaluation of a reference model on the same data, or
            a callable that returns it when first needed, for corruption
            errors.
    """

    def __init__(
        self,
        evaluation: Evaluation,
        *,
        settings: GuardSettings | None = None,
        recorder: Recorder | None = None,
        reference: Evaluation | Callable[[], Evaluation] | None = None,
    ) -> None:
        self.evaluation = evaluation
        self.settings = settings or GuardSettings()
        self._recorder = recorder
        self._reference = reference

    # Measurements

    def predictions(
        self, corruption: str | None = None, severity: int | None = None
    ) -> Predictions:
        """Return the raw predictions on clean images or under one corruption."""
        return self.evaluation.predictions(corruption, severity)

    def metric(
        self,
        name: str,
        *,
        by: str | Sequence[str] | None = None,
        positive: int | str | None = None,
        groups: Groups = None,
    ) -> pd.DataFrame:
        """Return a rate metric per group with its Wilson interval.

        Args:
            name: accuracy, recall, precision, f1, false_positive_rate,
                false_negative_rate or selection_rate.
            by: metadata column(s) that define the groups.
            positive: the class (index or name) of a per-class metric.
            groups: values each column must contain, even when absent.
        """
        return self._rate(name, by=by, positive=positive, groups=groups).frame()

    def accuracy(
        self, *, by: str | Sequence[str] | None = None, groups: Groups = None
    ) -> pd.DataFrame:
        """Return top-1 accuracy per group with its Wilson interval."""
        return self.metric("accuracy", by=by, groups=groups)

    def calibration(
        self,
        *,
        n_bins: int = 15,
        norm: str = "l1",
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
    ) -> pd.DataFrame:
        """Return top-label ECE per group with a bootstrap interval, and MCE, Brier, NLL."""
        return self._calibration(n_bins, norm, by, groups).frame()

    def cost(
        self,
        cost_matrix: Any,
        *,
        by: str | Sequence[str] | None = None,
        review_below: float | None = None,
        review_cost: float | None = None,
        groups: Groups = None,
    ) -> pd.DataFrame:
        """Return the expected cost per image per group, with a bootstrap interval.

        Args:
            cost_matrix: K×K, rows the true class, columns the predicted class;
                a DataFrame may label them with class names.
            by: metadata column(s) that define the groups.
            review_below: predictions with a confidence below this go to human
                review and cost `review_cost` instead.
            review_cost: the price of one review.
            groups: values each column must contain, even when absent.
        """
        return self._cost(cost_matrix, by, review_below, review_cost, groups).frame()

    def robustness(
        self,
        corruptions: str | Sequence[str],
        *,
        severities: int | Sequence[int] = (1, 2, 3, 4, 5),
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
        mean_over_severities: bool = False,
    ) -> pd.DataFrame:
        """Return accuracy per corruption, severity and group, with the drop from clean.

        With `mean_over_severities=True` each corruption has one row per
        group, severity "mean", averaging over `severities`.
        """
        return self._robustness(
            corruptions, severities, by, groups, mean=mean_over_severities
        ).frame()

    def corruption_error(
        self,
        corruptions: str | Sequence[str] = "all",
        *,
        severities: int | Sequence[int] = (1, 2, 3, 4, 5),
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
    ) -> pd.DataFrame:
        """Return the corruption error relative to the reference model, per group.

        `ce` is the model's errors summed over the severities divided by the
        reference model's, per corruption, and `relative_ce` the same ratio
        of the errors added to each model's clean error. The rows with
        corruption "mean" hold mCE and relative mCE. Under pytest the
        reference is the `visionguard_reference_model` fixture.

        Raises:
            VisionGuardError: when no reference model is defined.
        """
        from pytest_visionguard.corruptions import resolve_corruptions

        names = resolve_corruptions(corruptions)
        levels = _check_severities(severities)
        reference = self._reference_evaluation()
        inputs = [(name, level) for name in names for level in levels]
        measurement = measure_corruption_error(
            self.predictions(),
            [self.predictions(name, level) for name, level in inputs],
            reference.predictions(),
            [reference.predictions(name, level) for name, level in inputs],
            by=by,
            intervals=self._intervals(None),
            groups=groups,
        )
        return measurement.frame()

    def coverage(
        self,
        *,
        review_rates: Sequence[float] = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2),
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
    ) -> pd.DataFrame:
        """Return the accuracy of automatic decisions against the share sent to review.

        For each target review rate, the least confident images go to review
        and the rest are decided automatically. The table gives the accuracy
        of the automatic decisions, the confidence threshold and each group's
        actual review rate, so a team can pick the threshold that keeps
        review affordable.
        """
        measurement = measure_coverage(
            self.predictions(),
            review_rates=review_rates,
            by=by,
            intervals=self._intervals(None),
            groups=groups,
        )
        return measurement.frame()

    def reliability(
        self,
        *,
        n_bins: int = 15,
        adaptive: bool = False,
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
    ) -> pd.DataFrame:
        """Return the reliability table per group: confidence and accuracy per bin.

        Empty bins are kept and marked `empty`; with `adaptive=True` the
        bins hold equal numbers of images.
        """
        from pytest_visionguard.groups import split_groups
        from pytest_visionguard.metrics import reliability_table

        predictions = self.predictions()
        tables = {}
        for group in split_groups(predictions.metadata, by, groups=groups):
            if group.indices.size == 0:
                continue
            tables[group.label] = reliability_table(
                predictions.probabilities[group.indices],
                predictions.labels[group.indices],
                n_bins=n_bins,
                adaptive=adaptive,
            )
        return pd.concat(tables, names=["group", "row"])

    # Gates

    def assert_metric(
        self,
        name: str,
        *,
        at_least: float | None = None,
        at_most: float | None = None,
        by: str | Sequence[str] | None = None,
        positive: int | str | None = None,
        groups: Groups = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
    ) -> GateResult:
        """Require a rate metric to be at least and/or at most a threshold in every group.

        Raises:
            GateFailure: when a group fails, naming it with its figures.
        """
        __tracebackhide__ = True
        limits = check_thresholds("metric_limit", at_least, at_most)
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )
        measurement = self._rate(
            name, by=by, positive=positive, groups=groups, decision=decision
        )
        label = name if positive is None else f"{name}[{positive}]"
        checks = _checks(measurement, label, limits, decision)
        description = _limits_text(label, limits)
        return self._finish(
            "metric_limit", description, by, measurement, checks, decision
        )

    def assert_gap(
        self,
        name: str,
        *,
        at_most: float,
        by: str | Sequence[str],
        positive: int | str | None = None,
        groups: Groups = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
    ) -> GateResult:
        """Require the gap between the best and the worst group to be at most `at_most`.

        The gap is the largest minus the smallest group value of a proportion
        metric, such as the false negative rate of one class across skin
        tones, with a stratified bootstrap interval. Groups below
        `min_group_size` take no part in the gap and are reported as having
        too little data.

        Raises:
            GateFailure: when the gap exceeds `at_most`, or a group is too
                small under `small_groups="fail"`.
        """
        __tracebackhide__ = True
        limits = check_thresholds("max_gap", None, at_most)
        if not normalise_by(by):
            raise VisionGuardError(
                "max_gap needs by=, the column(s) whose groups are compared"
            )
        if name == "f1":
            raise VisionGuardError(
                "max_gap supports proportions only; f1 has no k/n form"
            )
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )
        measurement = self._rate(
            name, by=by, positive=positive, groups=groups, decision=decision
        )
        label = name if positive is None else f"{name}[{positive}]"
        checks = _gap_checks(
            measurement, label, limits[0][1], decision, self._intervals(decision)
        )
        description = f"gap in {label} between groups <= {format_figure(at_most)}"
        return self._finish("max_gap", description, by, measurement, checks, decision)

    def assert_accuracy(
        self,
        *,
        at_least: float,
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
    ) -> GateResult:
        """Require top-1 accuracy of at least `at_least` in every group.

        Raises:
            GateFailure: when a group is below the floor.
        """
        __tracebackhide__ = True
        limits = check_thresholds("accuracy_floor", at_least, None)
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )
        measurement = self._rate(
            "accuracy", by=by, positive=None, groups=groups, decision=decision
        )
        checks = _checks(measurement, "accuracy", limits, decision)
        description = _limits_text("accuracy", limits)
        return self._finish(
            "accuracy_floor", description, by, measurement, checks, decision
        )

    def assert_calibration(
        self,
        *,
        max_ece: float,
        n_bins: int = 15,
        norm: str = "l1",
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
    ) -> GateResult:
        """Require the top-label calibration error to be at most `max_ece` in every group.

        `norm` is "l1" (ECE), "l2" or "max" (MCE); bins are `n_bins`
        equal-width confidence bins.

        Raises:
            GateFailure: when a group's calibration error is above the limit.
        """
        __tracebackhide__ = True
        limits = check_thresholds("calibration", None, max_ece, names=("", "max_ece"))
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )
        measurement = self._calibration(n_bins, norm, by, groups, decision=decision)
        figure = {"l1": "ece", "l2": "ece_l2", "max": "mce"}[norm]
        checks = _checks(measurement, figure, limits, decision)
        description = _limits_text(figure, limits) + f" over {n_bins} bins"
        hint = _temperature_hint(measurement, checks) if norm == "l1" else None
        return self._finish(
            "calibration", description, by, measurement, checks, decision, hint
        )

    def assert_cost(
        self,
        cost_matrix: Any,
        *,
        at_most: float,
        by: str | Sequence[str] | None = None,
        review_below: float | None = None,
        review_cost: float | None = None,
        max_review_rate: float | None = None,
        groups: Groups = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
    ) -> GateResult:
        """Require the expected cost per image to be at most `at_most` in every group.

        With `max_review_rate`, the share of images sent to review must also
        stay at or below it.

        Raises:
            GateFailure: when a group's cost or review rate is above its limit.
        """
        __tracebackhide__ = True
        limits = check_thresholds("cost_budget", None, at_most, bounds=(0.0, math.inf))
        if max_review_rate is not None and review_below is None:
            raise VisionGuardError("max_review_rate needs review_below and review_cost")
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )
        measurement = self._cost(
            cost_matrix, by, review_below, review_cost, groups, decision=decision
        )
        checks = _checks(measurement, "expected_cost", limits, decision)
        description = _limits_text("expected cost", limits)
        if max_review_rate is not None:
            review_limits = check_thresholds(
                "cost_budget", None, max_review_rate, names=("", "max_review_rate")
            )
            checks += _extra_checks(measurement, "review_rate", review_limits, decision)
            description += f" with review_rate <= {format_figure(max_review_rate)}"
        return self._finish(
            "cost_budget", description, by, measurement, checks, decision
        )

    def assert_robustness(
        self,
        corruptions: str | Sequence[str],
        *,
        severity: int | Sequence[int] = 3,
        max_drop: float | None = None,
        min_accuracy: float | None = None,
        by: str | Sequence[str] | None = None,
        groups: Groups = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
        mean_over_severities: bool = False,
    ) -> GateResult:
        """Require accuracy under corruption to hold up in every group.

        Args:
            corruptions: a corruption name, several, a family or "all".
            severity: one severity or several, each from 1 to 5.
            max_drop: the largest allowed fall from clean accuracy.
            min_accuracy: the floor on accuracy under corruption.
            mean_over_severities: judge each corruption's accuracy averaged
                over `severity` (for example `severity=(1, 2, 3, 4, 5)`)
                instead of each severity on its own.

        Raises:
            GateFailure: when a group drops more than `max_drop` or falls
                below `min_accuracy` under any corruption.
        """
        __tracebackhide__ = True
        if max_drop is None and min_accuracy is None:
            raise VisionGuardError("robustness needs max_drop=, min_accuracy= or both")
        drop_limits = accuracy_limits = None
        if max_drop is not None:
            drop_limits = check_thresholds(
                "robustness", None, max_drop, bounds=(-1.0, 1.0), names=("", "max_drop")
            )
        if min_accuracy is not None:
            accuracy_limits = check_thresholds(
                "robustness", min_accuracy, None, names=("min_accuracy", "")
            )
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )
        measurement = self._robustness(
            corruptions,
            severity,
            by,
            groups,
            decision=decision,
            mean=mean_over_severities,
        )
        checks: list[Check] = []
        parts = []
        if drop_limits is not None:
            checks += _extra_checks(measurement, "drop", drop_limits, decision)
            parts.append(f"accuracy drop <= {format_figure(drop_limits[0][1])}")
        if accuracy_limits is not None:
            checks += _checks(measurement, "accuracy", accuracy_limits, decision)
            parts.append(f"accuracy >= {format_figure(accuracy_limits[0][1])}")
        names = ", ".join(dict.fromkeys(str(row.key[0]) for row in measurement.rows))
        levels = ", ".join(map(str, _check_severities(severity)))
        description = " and ".join(parts) + f" under {names}"
        if mean_over_severities:
            description += f" averaged over severities {levels}"
        else:
            description += f" at severity {levels}"
        return self._finish(
            "robustness", description, by, measurement, checks, decision
        )

    def assert_no_regression(
        self,
        name: str = "accuracy",
        *,
        by: str | Sequence[str] | None = None,
        tolerance: float = 0.01,
        positive: int | str | None = None,
        groups: Groups = None,
        corruption: str | None = None,
        severity: int | None = None,
        confidence: float | None = _UNSET,
        strict: bool = False,
        min_group_size: int | None = None,
        small_groups: str | None = None,
        correction: str | None = None,
        paired: bool = False,
    ) -> GateResult:
        """Require no group to be worse than in the baseline file by more than `tolerance`.

        Worse is lower for accuracy, recall, precision and F1, higher for the
        false positive and false negative rates, and either way for
        selection_rate. Under pytest the baseline file is
        `--visionguard-baseline`; `--visionguard-update-baseline` records
        missing and failing entries and `--visionguard-regenerate-baseline`
        every entry, and a gate whose entry was recorded passes.

        Args:
            name: the rate metric, as in `assert_metric`.
            by: metadata column(s) that define the groups.
            tolerance: the largest allowed change in the worse direction.
            positive: the class (index or name) of a per-class metric.
            groups: values each column must contain, even when absent.
            corruption: compare the figure under this corruption instead of
                on clean images.
            severity: the corruption's severity, 1 to 5.
            confidence: with a level, decide on the interval of the change
                from the baseline, as the other gates decide on intervals.
            strict: with `confidence`, pass only when the whole interval
                passes.
            min_group_size: the minimum number of samples a group's figure may use.
            small_groups: what smaller groups do: "fail", "warn" or "skip".
            correction: "holm" to control the family-wise error over the
                groups, with `confidence`.
            paired: store each image's outcome in the baseline and compare
                the same images with McNemar's exact test, which detects
                smaller changes than comparing two rates; it matters when
                `confidence` is set.

        Raises:
            GateFailure: when a group is worse than its baseline by more than
                `tolerance`, or the baseline has no entry for the figure (the
                message gives the command that records it).
        """
        __tracebackhide__ = True
        from pytest_visionguard import regression
        from pytest_visionguard.baselines import binding_for
        from pytest_visionguard.errors import GateFailure

        tolerance = regression.check_regression_arguments(name, tolerance, paired)
        binding = binding_for(self)
        decision = self._decision(
            confidence, strict, min_group_size, small_groups, correction
        )

        predictions = self.predictions(corruption, severity)
        measurement = measure_rate(
            predictions,
            name,
            by=by,
            positive=positive,
            intervals=self._intervals(decision),
            groups=groups,
        )

        spec, current = regression.describe_run(
            self.evaluation,
            predictions,
            measurement,
            by=by,
            positive=positive,
            groups=groups,
            tolerance=tolerance,
            paired=paired,
        )
        comparison = regression.compare_with_baseline(spec, current, binding, decision)

        result = GateResult(
            gate="no_regression",
            description=regression.describe_regression_gate(spec),
            by=spec.by,
            checks=comparison.checks,
            confidence=measurement.confidence,
            decided_by_interval=decision.confidence is not None,
            strict=decision.strict,
        )
        if self._recorder is not None:
            self._recorder(result, measurement)
        binding.emit(comparison.outcome)
        warn_small_groups(result, decision)
        if not result.passed:
            message = comparison.message(result, binding.session.path)
            raise GateFailure(message, result=result)
        return result

    # Steps shared by the gates

    def _decision(
        self,
        confidence: float | None,
        strict: bool,
        min_group_size: int | None,
        small_groups: str | None,
        correction: str | None = None,
    ) -> DecisionSettings:
        return check_decision_settings(
            self.settings.confidence if confidence is _UNSET else confidence,
            strict,
            self.settings.min_group_size if min_group_size is None else min_group_size,
            self.settings.small_groups if small_groups is None else small_groups,
            correction,
        )

    def _intervals(self, decision: DecisionSettings | None) -> IntervalSettings:
        level = decision.confidence if decision and decision.confidence else None
        level = level or self.settings.confidence or 0.95
        return IntervalSettings(level, self.settings.n_resamples, self.settings.seed)

    def _rate(
        self,
        name: str,
        *,
        by: str | Sequence[str] | None,
        positive: int | str | None,
        groups: Groups,
        decision: DecisionSettings | None = None,
    ) -> Measurement:
        return measure_rate(
            self.predictions(),
            name,
            by=by,
            positive=positive,
            intervals=self._intervals(decision),
            groups=groups,
        )

    def _calibration(
        self,
        n_bins: int,
        norm: str,
        by: str | Sequence[str] | None,
        groups: Groups,
        decision: DecisionSettings | None = None,
    ) -> Measurement:
        return measure_calibration(
            self.predictions(),
            n_bins=n_bins,
            norm=norm,
            by=by,
            intervals=self._intervals(decision),
            groups=groups,
        )

    def _cost(
        self,
        cost_matrix: Any,
        by: str | Sequence[str] | None,
        review_below: float | None,
        review_cost: float | None,
        groups: Groups,
        decision: DecisionSettings | None = None,
    ) -> Measurement:
        return measure_cost(
            self.predictions(),
            cost_matrix,
            by=by,
            review_below=review_below,
            review_cost=review_cost,
            intervals=self._intervals(decision),
            groups=groups,
        )

    def _robustness(
        self,
        corruptions: str | Sequence[str],
        severities: int | Sequence[int],
        by: str | Sequence[str] | None,
        groups: Groups,
        decision: DecisionSettings | None = None,
        mean: bool = False,
    ) -> Measurement:
        from pytest_visionguard.corruptions import resolve_corruptions

        names = resolve_corruptions(corruptions)
        levels = _check_severities(severities)
        clean = self.predictions()
        corrupted = [
            self.predictions(name, level) for name in names for level in levels
        ]
        measure = measure_mean_robustness if mean else measure_robustness
        return measure(
            clean, corrupted, by=by, intervals=self._intervals(decision), groups=groups
        )

    def _reference_evaluation(self) -> Evaluation:
        reference = self._reference
        if reference is None:
            raise VisionGuardError(
                "corruption errors need a reference model; pass VisionGuard("
                "reference=...) or, under pytest, define a "
                "visionguard_reference_model fixture"
            )
        if not isinstance(reference, Evaluation):
            reference = reference()
            self._reference = reference
        if reference.data is not self.evaluation.data:
            raise VisionGuardError(
                "the reference model must be evaluated on the same EvalSet as "
                "the model under test"
            )
        return reference

    def _finish(
        self,
        gate: str,
        description: str,
        by: str | Sequence[str] | None,
        measurement: Measurement,
        checks: list[Check],
        decision: DecisionSettings,
        hint: str | None = None,
    ) -> GateResult:
        __tracebackhide__ = True
        result = GateResult(
            gate=gate,
            description=description,
            by=normalise_by(by),
            checks=apply_holm(checks, decision),
            confidence=measurement.confidence,
            decided_by_interval=decision.confidence is not None,
            strict=decision.strict,
            hint=hint,
        )
        if self._recorder is not None:
            self._recorder(result, measurement)
        warn_small_groups(result, decision)
        result.raise_on_failure()
        return result


def _checks(
    measurement: Measurement,
    figure: str,
    limits: list[tuple[Direction, float]],
    decision: DecisionSettings,
) -> list[Check]:
    return [
        make_check(
            group=row.label,
            figure=figure,
            value=row.value,
            ci_low=row.ci_low,
            ci_high=row.ci_high,
            n=row.n,
            threshold=threshold,
            direction=direction,
            settings=decision,
        )
        for row in measurement.rows
        for direction, threshold in limits
    ]


def _gap_checks(
    measurement: Measurement,
    figure: str,
    threshold: float,
    decision: DecisionSettings,
    intervals: IntervalSettings,
) -> list[Check]:
    from pytest_visionguard.metrics import bootstrap_gap_interval

    usable = [
        r
        for r in measurement.rows
        if r.n >= decision.min_group_size and math.isfinite(r.value)
    ]
    left_out = [r for r in measurement.rows if r not in usable]
    checks = [
        make_check(
            group=row.label,
            figure=figure,
            value=row.value,
            ci_low=row.ci_low,
            ci_high=row.ci_high,
            n=row.n,
            threshold=threshold,
            direction="at_most",
            settings=decision,
        )
        for row in left_out
    ]
    if len(usable) < 2:
        raise VisionGuardError(
            f"max_gap needs at least two groups with data, found {len(usable)} "
            f"among {[row.label for row in measurement.rows]}"
        )
    best = max(usable, key=lambda row: row.value)
    worst = min(usable, key=lambda row: row.value)
    successes = [row.successes or 0 for row in usable]
    low, high = bootstrap_gap_interval(
        successes,
        [row.n for row in usable],
        n_resamples=intervals.n_resamples,
        confidence=intervals.confidence,
        seed=intervals.seed,
    )
    gap = make_check(
        group=f"{best.label} vs {worst.label}",
        figure=f"{figure} gap",
        value=best.value - worst.value,
        ci_low=low,
        ci_high=high,
        n=sum(row.n for row in usable),
        threshold=threshold,
        direction="at_most",
        settings=replace(decision, min_group_size=1),
    )
    return [gap, *checks]


def _extra_checks(
    measurement: Measurement,
    column: str,
    limits: list[tuple[Direction, float]],
    decision: DecisionSettings,
) -> list[Check]:
    """Checks on an extra column, whose interval is `<prefix>_ci_low`/`_ci_high`."""
    prefix = {"review_rate": "review", "drop": "drop"}[column]
    rows = [_with_extra_value(row, column, prefix) for row in measurement.rows]
    return _checks(replace(measurement, rows=rows), column, limits, decision)


def _with_extra_value(row: MeasuredRow, column: str, prefix: str) -> MeasuredRow:
    return replace(
        row,
        value=row.extras.get(column, math.nan),
        ci_low=row.extras.get(f"{prefix}_ci_low", math.nan),
        ci_high=row.extras.get(f"{prefix}_ci_high", math.nan),
    )


def _temperature_hint(measurement: Measurement, checks: list[Check]) -> str | None:
    """Say what temperature scaling would do for the groups that fail."""
    failing = {check.group for check in checks if not check.passed}
    rows = [row for row in measurement.rows if row.label in failing]
    temperature = rows[0].extras.get("temperature", math.nan) if rows else math.nan
    # At T close to 1 scaling changes nothing worth suggesting.
    if not math.isfinite(temperature) or abs(temperature - 1.0) < 0.05:
        return None
    parts = [
        f"{row.label} {format_figure(row.extras['ece_held_out'])} -> "
        f"{format_figure(row.extras['ece_held_out_scaled'])}"
        for row in rows
        if math.isfinite(row.extras.get("ece_held_out_scaled", math.nan))
    ]
    if not parts:
        return None
    return (
        f"Temperature scaling (T = {temperature:.2f}, fitted on a random half of "
        f"the images) would change the ECE on the other half: "
        f"{'; '.join(parts)}. It keeps every prediction and changes only the "
        "confidences, so it is the cheapest fix to try."
    )


def _limits_text(figure: str, limits: list[tuple[Direction, float]]) -> str:
    signs = {"at_least": ">=", "at_most": "<="}
    return " and ".join(f"{figure} {signs[d]} {format_figure(t)}" for d, t in limits)


def _check_severities(severities: int | Sequence[int]) -> tuple[int, ...]:
    if isinstance(severities, str) or not isinstance(severities, Sequence):
        levels: tuple[Any, ...] = (severities,)
    else:
        levels = tuple(severities)
    for level in levels:
        if not is_integer(level) or not 1 <= level <= 5:
            raise VisionGuardError(
                f"severity must be an integer from 1 to 5, got {level!r}"
            )
    if not levels:
        raise VisionGuardError("severities is empty; pass at least one from 1 to 5")
    return tuple(int(level) for level in levels)
