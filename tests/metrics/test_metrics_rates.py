"""Accuracy, confusion matrix and rates against brute force, sklearn and fairlearn."""

from __future__ import annotations

import functools
import math
import warnings

import fairlearn.metrics as fairlearn_metrics
import metric_references as reference
import numpy as np
import pytest
import sklearn.metrics as sklearn_metrics
import torch
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import PER_CLASS_METRICS
from pytest_visionguard.metrics import PROPORTION_METRICS
from pytest_visionguard.metrics import RATE_METRICS
from pytest_visionguard.metrics import accuracy
from pytest_visionguard.metrics import confusion_matrix
from pytest_visionguard.metrics import rate_counts
from pytest_visionguard.metrics import rate_value


@st.composite
def label_pairs(draw: st.DrawFn) -> tuple[list[int], list[int], int]:
    num_classes = draw(st.integers(1, 5))
    n = draw(st.integers(0, 30))
    classes = st.integers(0, num_classes - 1)
    labels = draw(st.lists(classes, min_size=n, max_size=n))
    predicted = draw(st.lists(classes, min_size=n, max_size=n))
    return labels, predicted, num_classes


def test_metric_name_tuples():
    assert RATE_METRICS == (
        "accuracy",
        "recall",
        "precision",
        "f1",
        "false_positive_rate",
        "false_negative_rate",
        "selection_rate",
    )
    assert "f1" not in PROPORTION_METRICS
    assert set(PROPORTION_METRICS) | {"f1"} == set(RATE_METRICS)
    assert set(PER_CLASS_METRICS) == set(RATE_METRICS) - {"accuracy"}


@settings(max_examples=100, deadline=None)
@given(label_pairs())
def test_rates_match_brute_force(pair):
    labels, predicted, num_classes = pair
    for name in RATE_METRICS:
        for positive in range(num_classes):
            expected = reference.rate_value(name, labels, predicted, positive)
            value = rate_value(name, labels, predicted, positive=positive)
            if math.isnan(expected):
                assert math.isnan(value), (name, positive)
            else:
                assert value == pytest.approx(expected, abs=1e-15), (name, positive)


@settings(max_examples=100, deadline=None)
@given(label_pairs())
def test_rate_counts_divide_to_rate_value(pair):
    labels, predicted, num_classes = pair
    for name in PROPORTION_METRICS:
        for positive in range(num_classes):
            k, n = rate_counts(name, labels, predicted, positive=positive)
            assert 0 <= k <= n
            value = rate_value(name, labels, predicted, positive=positive)
            if n == 0:
                assert math.isnan(value)
            else:
                assert value == k / n


@settings(max_examples=100, deadline=None)
@given(label_pairs())
def test_confusion_matrix_matches_loop(pair):
    labels, predicted, num_classes = pair
    expected = np.zeros((num_classes, num_classes), dtype=np.int64)
    for label, guess in zip(labels, predicted, strict=True):
        expected[label, guess] += 1
    matrix = confusion_matrix(labels, predicted, num_classes)
    assert matrix.dtype == np.int64
    assert matrix.shape == (num_classes, num_classes)
    np.testing.assert_array_equal(matrix, expected)


def test_confusion_matrix_keeps_absent_classes():
    matrix = confusion_matrix([0, 0], [0, 0], num_classes=4)
    assert matrix.shape == (4, 4)
    assert matrix.sum() == 2


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, 500)
    predicted = rng.integers(0, 6, 500)
    expected = sklearn_metrics.confusion_matrix(labels, predicted, labels=range(6))
    np.testing.assert_array_equal(confusion_matrix(labels, predicted, 6), expected)


def test_accuracy_hand_computed():
    assert accuracy([0, 1, 2, 2], [0, 1, 1, 2]) == 0.75


def test_accuracy_empty_is_nan():
    assert math.isnan(accuracy([], []))


def test_accuracy_accepts_tensors():
    labels = torch.tensor([0, 1, 1])
    predicted = torch.tensor([0, 1, 0])
    assert accuracy(labels, predicted) == pytest.approx(2 / 3)


def test_accuracy_ignores_positive():
    assert rate_counts("accuracy", [0, 1], [0, 0], positive=5) == (1, 2)
    assert rate_value("accuracy", [0, 1], [0, 0]) == 0.5


def test_recall_hand_computed():
    assert rate_counts("recall", [1, 1, 0, 1], [1, 0, 0, 1], positive=1) == (2, 3)


def test_each_denominator():
    # Class 1: TP 2, FN 1, FP 1, TN 2.
    labels = [1, 1, 1, 0, 0, 0]
    predicted = [1, 1, 0, 1, 0, 0]
    expected = {
        "recall": (2, 3),
        "precision": (2, 3),
        "false_positive_rate": (1, 3),
        "false_negative_rate": (1, 3),
        "selection_rate": (3, 6),
    }
    for name, counts in expected.items():
        assert rate_counts(name, labels, predicted, positive=1) == counts, name
    assert rate_value("f1", labels, predicted, positive=1) == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("name", "labels", "predicted"),
    [
        ("recall", [0, 0], [0, 1]),
        ("false_negative_rate", [0, 0], [0, 1]),
        ("precision", [1, 0], [0, 0]),
        ("false_positive_rate", [1, 1], [1, 0]),
        ("f1", [0, 0], [0, 0]),
    ],
)
def test_undefined_rate_is_nan(name, labels, predicted):
    assert math.isnan(rate_value(name, labels, predicted, positive=1))


def test_f1_has_no_counts():
    with pytest.raises(VisionGuardError, match="use rate_value"):
        rate_counts("f1", [1], [1], positive=1)


@pytest.mark.parametrize("name", PER_CLASS_METRICS)
def test_missing_positive_raises(name):
    with pytest.raises(VisionGuardError, match="needs positive="):
        rate_value(name, [1], [1])


@pytest.mark.parametrize("positive", [-1, 1.0, "1", True])
def test_bad_positive_raises(positive):
    with pytest.raises(VisionGuardError, match="positive must be"):
        rate_value("recall", [1], [1], positive=positive)


def test_unknown_metric_suggests_closest():
    with pytest.raises(VisionGuardError, match="Did you mean 'recall'"):
        rate_value("recal", [1], [1], positive=1)


def test_label_checks():
    with pytest.raises(VisionGuardError, match="labels has 2 samples but predicted"):
        accuracy([0, 1], [0])
    with pytest.raises(VisionGuardError, match=r"labels\[1\] is -1"):
        accuracy([0, -1], [0, 0])
    with pytest.raises(VisionGuardError, match=r"predicted\[0\] is 3"):
        confusion_matrix([0], [3], num_classes=3)
    with pytest.raises(VisionGuardError, match="not a whole number"):
        accuracy([0.5], [0])
    with pytest.raises(VisionGuardError, match="1-D"):
        accuracy([[0, 1]], [[0, 1]])


def test_whole_float_labels_are_accepted():
    assert accuracy(np.array([0.0, 1.0]), np.array([0, 1])) == 1.0


# fairlearn 0.15 MetricFrame with scikit-learn 1.9 metrics, per group.

FAIRLEARN_METRICS = {
    "recall": functools.partial(sklearn_metrics.recall_score, pos_label=1),
    "precision": functools.partial(sklearn_metrics.precision_score, pos_label=1),
    "f1": functools.partial(sklearn_metrics.f1_score, pos_label=1),
    "false_positive_rate": functools.partial(
        fairlearn_metrics.false_positive_rate, pos_label=1
    ),
    "false_negative_rate": functools.partial(
        fairlearn_metrics.false_negative_rate, pos_label=1
    ),
    "selection_rate": functools.partial(fairlearn_metrics.selection_rate, pos_label=1),
}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_group_rates_match_fairlearn(seed):
    rng = np.random.default_rng(seed)
    n, num_classes = 600, 4
    labels = rng.integers(0, num_classes, n)
    predicted = np.where(rng.uniform(size=n) < 0.6, labels, rng.integers(0, 4, n))
    groups = rng.choice(["clinic", "rural", "mobile"], size=n)

    for positive in range(num_classes):
        frame = fairlearn_metrics.MetricFrame(
            metrics={
                "accuracy": sklearn_metrics.accuracy_score,
                **FAIRLEARN_METRICS,
            },
            y_true=(labels == positive).astype(int),
            y_pred=(predicted == positive).astype(int),
            sensitive_features=groups,
        )
        for group, row in frame.by_group.iterrows():
            member = groups == group
            for name in FAIRLEARN_METRICS:
                ours = rate_value(
                    name, labels[member], predicted[member], positive=positive
                )
                assert ours == pytest.approx(row[name], abs=1e-12), (name, group)
            binary_accuracy = rate_value(
                "accuracy",
                labels[member] == positive,
                predicted[member] == positive,
            )
            assert binary_accuracy == pytest.approx(row["accuracy"], abs=1e-12)

    overall = sklearn_metrics.accuracy_score(labels, predicted)
    assert accuracy(labels, predicted) == pytest.approx(overall, abs=1e-15)


def test_fairlearn_and_sklearn_report_undefined_rates_as_zero():
    # Observed with fairlearn 0.15.0 and scikit-learn 1.9.1: for a group with
    # no positives, recall_score returns 0.0 with an UndefinedMetricWarning,
    # and fairlearn's false_negative_rate returns 0.0 with no warning (it
    # normalises a confusion-matrix row of zeros and replaces the NaN). A
    # gate would read that group as "never misses"; ours is NaN, undefined.
    labels = np.array([0, 0, 0])
    predicted = np.array([0, 1, 0])

    with pytest.warns(UndefinedMetricWarning, match="Recall is ill-defined"):
        assert sklearn_metrics.recall_score(labels, predicted, pos_label=1) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fnr = fairlearn_metrics.false_negative_rate(labels, predicted, pos_label=1)
    assert fnr == 0.0

    assert math.isnan(rate_value("recall", labels, predicted, positive=1))
    assert math.isnan(rate_value("false_negative_rate", labels, predicted, positive=1))
    assert rate_counts("false_negative_rate", labels, predicted, positive=1) == (0, 0)


def test_fairlearn_reports_undefined_fpr_as_zero():
    # Observed with fairlearn 0.15.0: a group with no negatives gets a false
    # positive rate of 0.0, silently.
    labels = np.array([1, 1])
    predicted = np.array([1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fpr = fairlearn_metrics.false_positive_rate(labels, predicted, pos_label=1)
    assert fpr == 0.0
    assert math.isnan(rate_value("false_positive_rate", labels, predicted, positive=1))


def test_sklearn_reports_undefined_precision_as_zero():
    # Observed with scikit-learn 1.9.1: no predicted positives gives precision
    # 0.0 with an UndefinedMetricWarning.
    labels = np.array([1, 0])
    predicted = np.array([0, 0])
    with pytest.warns(UndefinedMetricWarning, match="Precision is ill-defined"):
        assert sklearn_metrics.precision_score(labels, predicted) == 0.0
    assert math.isnan(rate_value("precision", labels, predicted, positive=1))
