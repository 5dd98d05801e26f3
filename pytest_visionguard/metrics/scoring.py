"""Proper scoring rules: the Brier score and the negative log-likelihood."""

from __future__ import annotations

import numpy as np

from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import check_probabilities_and_labels

NLL_EPSILON = float(np.finfo(np.float64).eps)
"""The floor on p_y in `negative_log_likelihood` (2.2e-16), as in scikit-learn's
`log_loss` for float64 input (scikit-learn 1.9), so that p_y = 0 costs
-log(2.2e-16) ≈ 36.04 instead of infinity."""


def brier_score(probs: ArrayInput, labels: ArrayInput) -> float:
    """Compute the multiclass Brier score.

    The mean over samples of sum_k (p_k - 1[label = k])², between 0 and 2.
    For two classes this is twice the binary Brier score of scikit-learn's
    `brier_score_loss`, which scores only the positive class.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).

    Returns:
        The Brier score, or NaN when there are no samples.

    Raises:
        VisionGuardError: for invalid probabilities or labels.

    Example:
        >>> round(brier_score([[0.8, 0.2], [0.5, 0.5]], [0, 1]), 4)
        0.29
    """
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    if len(probs_array) == 0:
        return float("nan")
    errors = probs_array.copy()
    errors[np.arange(len(errors)), labels_array] -= 1.0
    return float(np.mean(np.sum(errors**2, axis=1)))


def negative_log_likelihood(probs: ArrayInput, labels: ArrayInput) -> float:
    """Compute the mean negative log-likelihood (cross-entropy, log loss).

    The mean over samples of -log p_y, the probability given to the true
    class. p_y is clipped below at `NLL_EPSILON` (2.2e-16, the float64
    machine epsilon), so a zero probability on the true class gives a large
    finite value, about 36.04, rather than infinity.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).

    Returns:
        The negative log-likelihood in nats, or NaN when there are no samples.

    Raises:
        VisionGuardError: for invalid probabilities or labels.

    Example:
        >>> round(negative_log_likelihood([[0.5, 0.5], [0.25, 0.75]], [0, 1]), 4)
        0.4904
    """
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    if len(probs_array) == 0:
        return float("nan")
    true_class = probs_array[np.arange(len(probs_array)), labels_array]
    return float(-np.mean(np.log(np.maximum(true_class, NLL_EPSILON))))
