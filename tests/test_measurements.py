"""Measurement tables computed in-process, checked against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import pytest_visionguard as vg
from pytest_visionguard.evaluation import Evaluation
from pytest_visionguard.guard import VisionGuard
from pytest_visionguard.metrics import expected_calibration_error


class ProbabilityReader(torch.nn.Module):
    """Returns the class probabilities stored in row 0 of each image."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0, 0, :2].double()


def _guard(
    confidences: list[float], correct: list[bool], metadata: pd.DataFrame | None = None
) -> VisionGuard:
    labels = np.zeros(len(confidences), dtype=np.int64)
    images = torch.zeros(len(confidences), 1, 8, 8, dtype=torch.float64)
    for i, (confidence, right) in enumerate(zip(confidences, correct, strict=True)):
        first = confidence if right else 1 - confidence
        images[i, 0, 0, 0] = first
        images[i, 0, 0, 1] = 1 - first
    data = vg.EvalSet(images, labels, metadata=metadata, class_names=["yes", "no"])
    evaluation = Evaluation(
        vg.Classifier(ProbabilityReader(), outputs="probabilities"),
        data,
        device=torch.device("cpu"),
    )
    return VisionGuard(evaluation)


def test_coverage_by_review_rate() -> None:
    # Ten images, confidences 0.55 ... 1.0; the two least confident are wrong.
    confidences = [0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1.0]
    correct = [False, False] + [True] * 8
    guard = _guard(confidences, correct)
    table = guard.coverage(review_rates=(0.0, 0.1, 0.2, 0.5))
    assert table.index.names == ["review_target", "group"]
    assert table.loc[(0.0, "all"), "accuracy"] == 0.8
    assert table.loc[(0.0, "all"), "review_rate"] == 0.0
    assert table.loc[(0.1, "all"), "n"] == 9
    assert table.loc[(0.1, "all"), "accuracy"] == 8 / 9
    assert table.loc[(0.2, "all"), "accuracy"] == 1.0
    assert table.loc[(0.2, "all"), "threshold"] == pytest.approx(0.65)
    assert table.loc[(0.5, "all"), "review_rate"] == 0.5


def test_coverage_ties_stay_together() -> None:
    guard = _guard([0.9] * 10, [True] * 9 + [False])
    table = guard.coverage(review_rates=(0.3,))
    assert table.loc[(0.3, "all"), "review_rate"] == 0.0


def test_cost_table_shows_bayes_decision() -> None:
    # A confident "no" (class 1) that is wrong costs 10 under the matrix; the
    # cost-aware decision picks "yes" whenever p(yes) * 10 > p(no) * 1.
    guard = _guard([0.8, 0.8, 0.8, 0.8], [True, True, False, False])
    matrix = [[0, 10], [1, 0]]
    table = guard.cost(matrix)
    # Every prediction is "yes" with p = 0.8 or "no" with p = 0.8; the two
    # wrong ones predict "no" for a true "yes": 2 × 10 / 4 = 5.0.
    assert table["expected_cost"].iloc[0] == 5.0
    # Bayes: for p(yes) = 0.2, expected costs are yes 0.8 × 1, no 0.2 × 10: pick
    # "yes" everywhere, and every true label is "yes", so nothing is lost.
    assert table["bayes_expected_cost"].iloc[0] == 0.0


def test_calibration_reports_temperature_scaling() -> None:
    rng = np.random.default_rng(3)
    confidences = list(rng.uniform(0.9, 1.0, size=400))
    correct = list(rng.random(400) < 0.7)
    guard = _guard(confidences, correct)
    table = guard.calibration()
    row = table.iloc[0]
    assert row["temperature"] > 1
    assert row["ece_held_out_scaled"] < row["ece_held_out"]
    with pytest.raises(
        vg.GateFailure,
        match=r"Temperature scaling \(T = [0-9.]+, fitted on a random half",
    ):
        guard.assert_calibration(max_ece=0.05)


def test_calibration_value_matches_metric() -> None:
    rng = np.random.default_rng(4)
    confidences = list(rng.uniform(0.5, 1.0, size=200))
    correct = list(rng.random(200) < 0.75)
    guard = _guard(confidences, correct)
    predictions = guard.predictions()
    expected = expected_calibration_error(predictions.probabilities, predictions.labels)
    table = guard.calibration()
    assert table["ece"].iloc[0] == pytest.approx(expected, abs=1e-12)
    assert table["ci_low"].iloc[0] <= expected <= table["ci_high"].iloc[0]


def test_reliability_keeps_empty_bins() -> None:
    guard = _guard(
        [0.55, 0.95, 0.96],
        [True, True, False],
        metadata=pd.DataFrame({"s": ["a", "a", "b"]}),
    )
    table = guard.reliability(n_bins=10, by="s")
    assert set(table.index.get_level_values("group")) == {"s=a", "s=b"}
    first = table.loc["s=a"]
    assert len(first) == 10
    assert int(first["empty"].sum()) == 8


def test_metric_table_nan_for_undefined_rate() -> None:
    guard = _guard([0.9, 0.9], [True, True], metadata=pd.DataFrame({"s": ["a", "b"]}))
    # Every label is "yes" (0), so "no" (1) has no positives: recall is 0/0.
    table = guard.metric("recall", positive="no", by="s")
    assert table["n"].tolist() == [0, 0]
    assert table["recall"].isna().all()
    with pytest.raises(vg.GateFailure, match="too little data"):
        guard.assert_metric("recall", positive="no", at_least=0.5, by="s")


def test_min_group_size_counts_positives() -> None:
    guard = _guard([0.9] * 6, [True] * 6, metadata=pd.DataFrame({"s": ["a"] * 6}))
    result = guard.assert_metric(
        "recall", positive="yes", at_least=0.5, min_group_size=6
    )
    assert result.passed
    with pytest.raises(
        vg.GateFailure, match="n=6, threshold >= 0.500: too little data"
    ):
        guard.assert_metric("recall", positive="yes", at_least=0.5, min_group_size=7)
    with pytest.warns(vg.VisionGuardWarning, match="fewer than 7 samples"):
        guard.assert_metric(
            "recall",
            positive="yes",
            at_least=0.5,
            min_group_size=7,
            small_groups="warn",
        )


class MeanReader(torch.nn.Module):
    """Reads class round(2 * mean pixel) of three, so corruptions move it."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        predicted = (x.mean(dim=(1, 2, 3)) * 2).round().long().clamp(0, 2)
        return torch.nn.functional.one_hot(predicted, 3).double() * 4


class AlwaysWrong(torch.nn.Module):
    """Predicts class (label + 1) mod 3 for the MeanReader images below."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return MeanReader()(x).roll(1, dims=1)


def _mean_reader_data() -> vg.EvalSet:
    levels = torch.tensor([0.05, 0.5, 0.95] * 20)
    images = levels.view(-1, 1, 1, 1).repeat(1, 1, 8, 8)
    labels = [0, 1, 2] * 20
    return vg.EvalSet(
        images, labels, metadata=pd.DataFrame({"half": [0] * 30 + [1] * 30})
    )


def _evaluation(model: torch.nn.Module, data: vg.EvalSet) -> Evaluation:
    return Evaluation(vg.Classifier(model), data, device=torch.device("cpu"))


def test_robustness_mean_over_severities() -> None:
    data = _mean_reader_data()
    guard = VisionGuard(_evaluation(MeanReader(), data))
    per_severity = guard.robustness("contrast", severities=(1, 3, 5))
    mean = guard.robustness("contrast", severities=(1, 3, 5), mean_over_severities=True)
    expected = per_severity["accuracy"].mean()
    assert mean.loc[("contrast", "mean", "all"), "accuracy"] == pytest.approx(expected)
    assert mean.loc[("contrast", "mean", "all"), "n"] == 60
    assert mean.loc[("contrast", "mean", "all"), "drop"] == pytest.approx(
        1.0 - expected
    )
    result = guard.assert_robustness(
        "contrast", severity=(1, 3, 5), min_accuracy=0.0, mean_over_severities=True
    )
    assert "averaged over severities 1, 3, 5" in result.description


def test_corruption_error_against_itself_is_one() -> None:
    data = _mean_reader_data()
    guard = VisionGuard(
        _evaluation(MeanReader(), data), reference=_evaluation(MeanReader(), data)
    )
    table = guard.corruption_error(["brightness"], severities=(3, 5))
    assert table.index.names == ["corruption", "group"]
    assert table.loc[("brightness", "all"), "ce"] == pytest.approx(1.0)
    assert table.loc[("mean", "all"), "ce"] == pytest.approx(1.0)
    # Contrast keeps each image's mean, so neither model errs: 0 / 0 is NaN.
    undefined = guard.corruption_error("contrast", severities=(3,))
    assert np.isnan(undefined.loc[("contrast", "all"), "ce"])


def test_corruption_error_against_always_wrong_reference() -> None:
    # The reference misreads every image under every input, so its summed
    # errors are 60 images × 2 severities. The model's CE is its own error
    # count over that. The reference adds no errors to its clean ones, so
    # the relative CE is undefined there.
    data = _mean_reader_data()
    guard = VisionGuard(
        _evaluation(MeanReader(), data), reference=_evaluation(AlwaysWrong(), data)
    )
    table = guard.corruption_error(["contrast"], severities=(3, 5), by="half")
    accuracy = guard.robustness("contrast", severities=(3, 5), by="half")
    for half in (0, 1):
        errors = sum(
            (1 - accuracy.loc[("contrast", s, half), "accuracy"]) * 30 for s in (3, 5)
        )
        row = table.loc[("contrast", half)]
        assert row["ce"] == pytest.approx(errors / 60)
        assert row["ci_low"] <= row["ce"] <= row["ci_high"]
        assert np.isnan(row["relative_ce"])


def test_corruption_error_needs_reference() -> None:
    guard = VisionGuard(_evaluation(MeanReader(), _mean_reader_data()))
    with pytest.raises(
        vg.VisionGuardError, match="define a visionguard_reference_model fixture"
    ):
        guard.corruption_error("contrast")


def _site_guard() -> VisionGuard:
    metadata = pd.DataFrame({"site": ["a"] * 12 + ["b"]})
    return _guard([0.9] * 13, [True] * 10 + [False] * 3, metadata=metadata)


def test_threshold_outside_unit_range() -> None:
    with pytest.raises(
        vg.VisionGuardError,
        match=r"at_least=90 is outside \[0, 1\] \(write 0.9, not 90",
    ):
        _site_guard().assert_accuracy(at_least=90)
    with pytest.raises(
        vg.VisionGuardError, match=r"max_drop=-1.5 is outside \[-1, 1\]"
    ):
        _site_guard().assert_robustness("contrast", max_drop=-1.5)
    with pytest.raises(vg.VisionGuardError, match=r"at_most=-1 is outside \[0, inf\]"):
        _site_guard().assert_cost([[0, 1], [1, 0]], at_most=-1)


def test_numpy_scalars_accepted() -> None:
    guard = _site_guard()
    assert guard.assert_accuracy(
        at_least=np.float32(0.5), min_group_size=np.int64(1)
    ).passed
    noisy = VisionGuard(_evaluation(MeanReader(), _mean_reader_data()))
    result = noisy.assert_robustness(
        "contrast", severity=np.int64(1), max_drop=np.float64(1.0)
    )
    assert result.passed


def test_cost_frame_with_unknown_labels() -> None:
    frame = pd.DataFrame([[0, 1], [1, 0]], index=["x", "y"], columns=["x", "y"])
    with pytest.raises(
        vg.VisionGuardError,
        match=r"cost matrix row labels \['x', 'y'\] are not class names",
    ):
        _site_guard().cost(frame)
    positional = pd.DataFrame([[0, 1], [1, 0]])
    assert _site_guard().cost(positional)["expected_cost"].iloc[0] == pytest.approx(
        3 / 13
    )


def test_groups_must_be_mapping() -> None:
    with pytest.raises(
        vg.VisionGuardError, match=r"groups must map each by column to the values"
    ):
        _site_guard().accuracy(by="site", groups=["a", "b", "c"])  # type: ignore[arg-type]


def test_empty_evalset_rejected() -> None:
    with pytest.raises(
        vg.VisionGuardError,
        match="the evaluation set is empty; pass at least one image",
    ):
        vg.EvalSet(torch.zeros(0, 3, 8, 8, dtype=torch.uint8), [])


def test_dataset_with_mixed_channels() -> None:
    items = [(torch.zeros(3, 4, 4), 0), (torch.zeros(1, 4, 4), 1)]
    data = vg.EvalSet.from_dataset(items)
    with pytest.raises(
        vg.VisionGuardError,
        match=r"item 1 has 1 channels but item 0 has 3.*convert\('RGB'\)",
    ):
        next(data.batches(2))


def test_tiny_group_has_no_bootstrap_interval() -> None:
    # Group b has one image: a bootstrap of it would be one value repeated.
    table = _site_guard().calibration(by="site")
    assert np.isnan(table.loc["b", "ci_low"])
    assert np.isnan(table.loc["b", "ci_high"])
    assert np.isfinite(table.loc["a", "ci_low"])
    with pytest.raises(
        vg.GateFailure,
        match="site=b: ece .*inconclusive, counted as a failure .strict.; too few images",
    ):
        _site_guard().assert_calibration(
            max_ece=0.95, by="site", confidence=0.95, strict=True
        )


def test_gate_judging_no_group_warns() -> None:
    with pytest.warns(
        vg.VisionGuardWarning,
        match="accuracy_floor judged no group: all 2 have fewer than 100",
    ):
        result = _site_guard().assert_accuracy(
            at_least=0.99, by="site", min_group_size=100, small_groups="skip"
        )
    assert result.passed


def test_corrupt_rejects_family_name() -> None:
    with pytest.raises(
        vg.VisionGuardError,
        match="'noise' names several corruptions, but one corruption is needed",
    ):
        vg.corrupt(torch.zeros(1, 1, 8, 8), "noise", 2)


def test_warning_points_at_caller() -> None:
    with pytest.warns(vg.VisionGuardWarning) as caught:
        _site_guard().assert_accuracy(
            at_least=0.99, by="site", min_group_size=100, small_groups="skip"
        )
    assert caught[0].filename == __file__


def test_integer_model_outputs_rejected() -> None:
    def labels_only(x: torch.Tensor) -> torch.Tensor:
        return torch.zeros(len(x), 2, dtype=torch.int64)

    data = vg.EvalSet(torch.zeros(2, 1, 8, 8), [0, 1])
    evaluation = Evaluation(
        vg.Classifier(labels_only), data, device=torch.device("cpu")
    )
    with pytest.raises(
        vg.VisionGuardError,
        match="the model returned torch.int64 outputs; return floating",
    ):
        evaluation.predictions()
