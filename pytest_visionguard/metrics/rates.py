"""Accuracy, the confusion matrix and the per-class rates the gates use by name.

A rate that is undefined because its denominator is zero (the recall of a
group with no positives, say) is NaN, never 0: a gate must be able to tell
"no data" from "always wrong".
"""

from __future__ import annotations

import difflib
import numbers
from typing import NamedTuple

import numpy as np
import numpy.typing as npt

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import check_class_indices
from pytest_visionguard.metrics._convert import check_positive_int
from pytest_visionguard.metrics._convert import check_same_length

RATE_METRICS: tuple[str, ...] = (
    "accuracy",
    "recall",
    "precision",
    "f1",
    "false_positive_rate",
    "false_negative_rate",
    "selection_rate",
)
"""The rate metrics that gates accept by name."""

PROPORTION_METRICS: tuple[str, ...] = tuple(m for m in RATE_METRICS if m != "f1")
"""The rate metrics that are a proportion k/n, and so get Wilson score intervals."""

PER_CLASS_METRICS: tuple[str, ...] = tuple(m for m in RATE_METRICS if m != "accuracy")
"""The rate metrics that need a positive class (`positive=`)."""


class _BinaryCounts(NamedTuple):
    """Confusion counts for one class against the rest."""

    true_positives: int
    false_positives: int
    false_negatives: int
    true_negatives: int


def accuracy(labels: ArrayInput, predicted: ArrayInput) -> float:
    """Compute the share of samples whose predicted class equals the label.

    Args:
        labels: N true class indices.
        predicted: N predicted class indices.

    Returns:
        The accuracy in [0, 1], or NaN when there are no samples.

    Raises:
        VisionGuardError: if the inputs are not 1-D non-negative integers of
            the same length.

    Example:
        >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
        0.75
    """
    labels_array, predicted_array = _check_label_pair(labels, predicted)

    if labels_array.size == 0:
        return float("nan")
    return float(np.mean(labels_array == predicted_array))


def confusion_matrix(
    labels: ArrayInput, predicted: ArrayInput, num_classes: int
) -> npt.NDArray[np.int64]:
    """Count the samples for each pair of true and predicted class.

    Args:
        labels: N true class indices in [0, num_classes).
        predicted: N predicted class indices in [0, num_classes).
        num_classes: K, the number of classes.

    Returns:
        An int64 K×K array whose entry [i, j] counts the samples of true class
        i predicted as class j. It is always K×K, with zero rows and columns
        for classes that do not occur.

    Raises:
        VisionGuardError: if an index is outside [0, num_classes) or the
            lengths differ.

    Example:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=3).tolist()
        [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    labels_array = check_class_indices(labels, "labels", num_classes)
    predicted_array = check_class_indices(predicted, "predicted", num_classes)
    check_same_length(labels_array, "labels", predicted_array, "predicted")

    flat = labels_array * num_classes + predicted_array
    counts = np.bincount(flat, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def rate_counts(
    name: str,
    labels: ArrayInput,
    predicted: ArrayInput,
    *,
    positive: int | None = None,
) -> tuple[int, int]:
    """Count the numerator and denominator of a proportion metric.

    TP, FP, FN and TN count `positive` against all other classes. Then:

    - accuracy is correct / all (and ignores `positive`),
    - recall is TP / (TP + FN),
    - precision is TP / (TP + FP),
    - false_positive_rate is FP / (FP + TN),
    - false_negative_rate is FN / (TP + FN),
    - selection_rate is (TP + FP) / all.

    Args:
        name: one of `PROPORTION_METRICS`.
        labels: N true class indices.
        predicted: N predicted class indices.
        positive: the class index treated as positive. Required for every
            metric but accuracy, which ignores it.

    Returns:
        `(k, n)`: the numerator and the denominator, which is the number of
        samples the rate is computed on (the positives, for recall).

    Raises:
        VisionGuardError: for an unknown name, for "f1" (which is not a
            proportion; use `rate_value`), a missing `positive`, or bad labels.

    Example:
        >>> rate_counts("recall", [1, 1, 0, 1], [1, 0, 0, 1], positive=1)
        (2, 3)
    """
    if name == "f1":
        raise VisionGuardError(
            "f1 is not a proportion k/n, so it has no (numerator, denominator) "
            "counts; use rate_value('f1', ...) for its value."
        )
    _check_rate_name(name, PROPORTION_METRICS)
    labels_array, predicted_array = _check_label_pair(labels, predicted)
    positive = _check_positive(name, positive)

    if name == "accuracy":
        return int(np.sum(labels_array == predicted_array)), int(labels_array.size)
    counts = _binary_counts(labels_array, predicted_array, positive)
    return _proportion_counts(name, counts)


def rate_value(
    name: str,
    labels: ArrayInput,
    predicted: ArrayInput,
    *,
    positive: int | None = None,
) -> float:
    """Compute a rate metric by name.

    f1 is 2·TP / (2·TP + FP + FN), the harmonic mean of precision and recall.
    The other metrics are the proportions that `rate_counts` describes.

    Args:
        name: one of `RATE_METRICS`.
        labels: N true class indices.
        predicted: N predicted class indices.
        positive: the class index treated as positive. Required for every
            metric but accuracy, which ignores it.

    Returns:
        The rate, or NaN when its denominator is zero (0/0 is undefined, not
        0).

    Raises:
        VisionGuardError: for an unknown name, a missing `positive`, or bad
            labels.

    Example:
        >>> rate_value("precision", [1, 0, 0], [1, 1, 0], positive=1)
        0.5
        >>> rate_value("recall", [0, 0], [0, 1], positive=2)
        nan
    """
    _check_rate_name(name, RATE_METRICS)
    labels_array, predicted_array = _check_label_pair(labels, predicted)
    positive = _check_positive(name, positive)

    if name == "accuracy":
        numerator = int(np.sum(labels_array == predicted_array))
        denominator = int(labels_array.size)
    elif name == "f1":
        counts = _binary_counts(labels_array, predicted_array, positive)
        numerator = 2 * counts.true_positives
        denominator = numerator + counts.false_positives + counts.false_negatives
    else:
        counts = _binary_counts(labels_array, predicted_array, positive)
        numerator, denominator = _proportion_counts(name, counts)
    return numerator / denominator if denominator else float("nan")


def _check_label_pair(
    labels: ArrayInput, predicted: ArrayInput
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    labels_array = check_class_indices(labels, "labels")
    predicted_array = check_class_indices(predicted, "predicted")
    check_same_length(labels_array, "labels", predicted_array, "predicted")
    return labels_array, predicted_array


def _check_rate_name(name: object, allowed: tuple[str, ...]) -> None:
    if name in allowed:
        return
    close = difflib.get_close_matches(str(name), allowed, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise VisionGuardError(
        f"Unknown rate metric {name!r}; expected one of {', '.join(allowed)}.{hint}"
    )


def _check_positive(name: str, positive: object) -> int:
    """Return the positive class index, or -1 for accuracy, which ignores it."""
    if name == "accuracy":
        return -1
    if positive is None:
        raise VisionGuardError(
            f"{name} is computed for one class against the rest, so it needs "
            "positive=<class index>, for example positive=1."
        )
    if isinstance(positive, bool) or not isinstance(positive, numbers.Integral):
        raise VisionGuardError(
            f"positive must be an integer class index, got {positive!r} of type "
            f"{type(positive).__name__}."
        )
    if positive < 0:
        raise VisionGuardError(
            f"positive must be a non-negative class index, got {positive}."
        )
    return int(positive)


def _binary_counts(
    labels: npt.NDArray[np.int64], predicted: npt.NDArray[np.int64], positive: int
) -> _BinaryCounts:
    actual = labels == positive
    flagged = predicted == positive
    true_positives = int(np.sum(actual & flagged))
    false_positives = int(np.sum(~actual & flagged))
    false_negatives = int(np.sum(actual & ~flagged))
    true_negatives = labels.size - true_positives - false_positives - false_negatives
    return _BinaryCounts(
        true_positives, false_positives, false_negatives, int(true_negatives)
    )


def _proportion_counts(name: str, counts: _BinaryCounts) -> tuple[int, int]:
    tp, fp, fn, tn = counts
    if name == "recall":
        return tp, tp + fn
    if name == "precision":
        return tp, tp + fp
    if name == "false_positive_rate":
        return fp, fp + tn
    if name == "false_negative_rate":
        return fn, tp + fn
    if name == "selection_rate":
        return tp + fp, tp + fp + fn + tn
    raise AssertionError(f"no counts defined for {name!r}")
