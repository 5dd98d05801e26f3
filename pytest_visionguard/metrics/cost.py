"""Cost-sensitive evaluation: expected cost, human review and the Bayes decision.

A cost matrix C is K×K with rows the true class and columns the predicted
class, so C[i, j] is the cost of predicting j for an image of class i. With
review, a prediction whose confidence is below `review_below` is sent to a
human at `review_cost` instead of incurring C[label, predicted].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import as_float64
from pytest_visionguard.metrics._convert import check_class_indices
from pytest_visionguard.metrics._convert import check_non_negative_number
from pytest_visionguard.metrics._convert import check_positive_int
from pytest_visionguard.metrics._convert import check_probabilities
from pytest_visionguard.metrics._convert import check_same_length
from pytest_visionguard.metrics._convert import check_unit_interval
from pytest_visionguard.metrics._convert import to_numpy


def check_cost_matrix(
    cost_matrix: ArrayInput, num_classes: int
) -> npt.NDArray[np.float64]:
    """Check that `cost_matrix` is K×K, finite and non-negative, and convert it.

    Args:
        cost_matrix: a numpy array, nested list, tensor or pandas DataFrame
            (whose values are used in row and column order, so reorder a
            frame labelled with class names to class-index order first).
        num_classes: K, the number of classes.

    Returns:
        The cost matrix as a new float64 array.

    Raises:
        VisionGuardError: if the shape is not K×K, or an entry is negative,
            NaN or infinite. The message names the shape or the entry.

    Example:
        >>> check_cost_matrix([[0, 1], [5, 0]], num_classes=2).tolist()
        [[0.0, 1.0], [5.0, 0.0]]
    """
    num_classes = check_positive_int(num_classes, "num_classes")
    matrix = to_numpy(cost_matrix, "cost_matrix")
    if matrix.shape != (num_classes, num_classes):
        raise VisionGuardError(
            f"cost_matrix has shape {matrix.shape}, expected ({num_classes}, "
            f"{num_classes}) for {num_classes} classes: one row per true class "
            "and one column per predicted class."
        )
    if matrix.dtype.kind not in "biuf":
        raise VisionGuardError(
            f"cost_matrix must contain numbers, got dtype {matrix.dtype}; "
            "convert it with .astype(float)."
        )
    matrix = np.array(matrix, dtype=np.float64)
    bad = np.argwhere(~np.isfinite(matrix) | (matrix < 0))
    if bad.size:
        row, column = (int(i) for i in bad[0])
        raise VisionGuardError(
            f"cost_matrix[{row}, {column}] is {matrix[row, column]}, but costs "
            "must be finite and non-negative; use 0 for a correct prediction."
        )
    return matrix


def per_sample_cost(
    labels: ArrayInput,
    predicted: ArrayInput,
    cost_matrix: ArrayInput,
    *,
    confidence: ArrayInput | None = None,
    review_below: float | None = None,
    review_cost: float | None = None,
) -> npt.NDArray[np.float64]:
    """Compute the cost of each prediction, with optional human review.

    Without review, image i costs C[labels[i], predicted[i]]. With
    `review_below=t`, an image whose confidence is below t costs
    `review_cost` instead, whatever the prediction.

    Args:
        labels: N true class indices in [0, K).
        predicted: N predicted class indices in [0, K).
        cost_matrix: the K×K cost matrix, rows true and columns predicted.
        confidence: N top-label confidences in [0, 1]; required with
            `review_below`, ignored without it.
        review_below: the confidence threshold in [0, 1] below which an
            image goes to review.
        review_cost: the cost of reviewing one image; required with
            `review_below`.

    Returns:
        A float64 array of N costs.

    Raises:
        VisionGuardError: for a bad cost matrix, labels outside [0, K), a
            review threshold without `confidence` or `review_cost`, or a
            `review_cost` without a threshold.

    Example:
        >>> costs = [[0, 1], [10, 0]]
        >>> per_sample_cost([0, 1, 1], [0, 0, 1], costs).tolist()
        [0.0, 10.0, 0.0]
        >>> per_sample_cost([0, 1, 1], [0, 0, 1], costs, confidence=[0.9, 0.6, 0.8],
        ...                 review_below=0.7, review_cost=2).tolist()
        [0.0, 2.0, 0.0]
    """
    matrix = _check_cost_matrix_shape(cost_matrix)
    num_classes = matrix.shape[0]
    labels_array = check_class_indices(labels, "labels", num_classes)
    predicted_array = check_class_indices(predicted, "predicted", num_classes)
    check_same_length(labels_array, "labels", predicted_array, "predicted")
    review = _check_review(confidence, review_below, review_cost, len(labels_array))

    costs = matrix[labels_array, predicted_array]
    if review is not None:
        reviewed, cost_of_review = review
        costs[reviewed] = cost_of_review
    return costs


def expected_cost(
    labels: ArrayInput,
    predicted: ArrayInput,
    cost_matrix: ArrayInput,
    *,
    confidence: ArrayInput | None = None,
    review_below: float | None = None,
    review_cost: float | None = None,
) -> float:
    """Compute the mean cost per image, with optional human review.

    This is the mean of `per_sample_cost`, which takes the same arguments.

    Returns:
        The expected cost, or NaN when there are no images.

    Raises:
        VisionGuardError: as `per_sample_cost`.

    Example:
        >>> expected_cost([0, 1, 1, 0], [0, 0, 1, 1], [[0, 1], [10, 0]])
        2.75
    """
    costs = per_sample_cost(
        labels,
        predicted,
        cost_matrix,
        confidence=confidence,
        review_below=review_below,
        review_cost=review_cost,
    )

    return float(np.mean(costs)) if costs.size else float("nan")


def review_rate(confidence: ArrayInput, review_below: float) -> float:
    """Compute the share of images whose confidence is below `review_below`.

    Args:
        confidence: N top-label confidences in [0, 1].
        review_below: the threshold in [0, 1]; a confidence equal to it is not
            reviewed.

    Returns:
        The review rate in [0, 1], or NaN when there are no images.

    Raises:
        VisionGuardError: for confidences outside [0, 1] or a bad threshold.

    Example:
        >>> review_rate([0.9, 0.6, 0.7, 0.5], review_below=0.7)
        0.5
    """
    threshold = check_unit_interval(review_below, "review_below")
    confidences = _check_confidences(confidence)

    if confidences.size == 0:
        return float("nan")
    return float(np.mean(confidences < threshold))


def bayes_decision(probs: ArrayInput, cost_matrix: ArrayInput) -> npt.NDArray[np.int64]:
    """Choose for each image the class with the lowest expected cost.

    Predicting j for an image with probabilities p costs sum_i p_i·C[i, j]
    in expectation. This returns the j that minimises it, and the lowest
    class index among ties. With 0-1 costs it is the argmax of p.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        cost_matrix: the K×K cost matrix, rows true and columns predicted.

    Returns:
        An int64 array of N class indices.

    Raises:
        VisionGuardError: for invalid probabilities or a cost matrix that is
            not K×K, finite and non-negative.

    Example:
        >>> bayes_decision([[0.8, 0.2], [0.95, 0.05]], [[0, 1], [10, 0]]).tolist()
        [1, 0]
    """
    probs_array = check_probabilities(probs)
    matrix = check_cost_matrix(cost_matrix, probs_array.shape[1])

    expected = probs_array @ matrix
    return np.asarray(expected.argmin(axis=1), dtype=np.int64)


def _check_cost_matrix_shape(cost_matrix: ArrayInput) -> npt.NDArray[np.float64]:
    """Check a cost matrix whose size K is taken from its own square shape."""
    shape = to_numpy(cost_matrix, "cost_matrix").shape
    if len(shape) != 2 or shape[0] != shape[1] or shape[0] < 1:
        raise VisionGuardError(
            f"cost_matrix has shape {shape}, expected a square K×K matrix with "
            "one row per true class and one column per predicted class."
        )
    return check_cost_matrix(cost_matrix, shape[0])


def _check_review(
    confidence: ArrayInput | None,
    review_below: float | None,
    review_cost: float | None,
    num_samples: int,
) -> tuple[npt.NDArray[np.bool_], float] | None:
    """Return the reviewed-image mask and the review cost, or None without review."""
    if review_below is None:
        if review_cost is not None:
            raise VisionGuardError(
                f"review_cost={review_cost!r} has no effect without review_below; "
                "set review_below to the confidence threshold for review."
            )
        return None
    threshold = check_unit_interval(review_below, "review_below")
    if review_cost is None:
        raise VisionGuardError(
            "review_below is set but review_cost is not; pass the cost of "
            "reviewing one image, for example review_cost=1.0."
        )
    cost_of_review = check_non_negative_number(review_cost, "review_cost")
    if confidence is None:
        raise VisionGuardError(
            "review_below is set but confidence is not; pass each image's "
            "top-label confidence (its largest probability)."
        )
    confidences = _check_confidences(confidence)
    if len(confidences) != num_samples:
        raise VisionGuardError(
            f"confidence has {len(confidences)} samples but labels has "
            f"{num_samples}; pass one confidence per image."
        )
    return confidences < threshold, cost_of_review


def _check_confidences(confidence: ArrayInput) -> npt.NDArray[np.float64]:
    confidences = as_float64(confidence, "confidence")
    if confidences.ndim != 1:
        raise VisionGuardError(
            f"confidence must be a 1-D array of N values, got shape "
            f"{confidences.shape}."
        )
    outside = np.flatnonzero((confidences < 0) | (confidences > 1))
    if outside.size:
        raise VisionGuardError(
            f"confidence[{outside[0]}] is {confidences[outside[0]]}, but "
            "confidences must be in [0, 1]; pass the largest probability of each "
            "image."
        )
    return confidences
