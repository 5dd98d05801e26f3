"""Temperature scaling: the one-parameter recalibration of a classifier.

Dividing the logits by a temperature T > 0 before the softmax keeps every
prediction and changes only the confidences (Guo et al. 2017, "On Calibration
of Modern Neural Networks"). Log-probabilities are logits up to a per-row
constant, which the softmax ignores, so probabilities suffice.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import check_probabilities_and_labels
from pytest_visionguard.metrics.scoring import NLL_EPSILON

# Golden-section search over log T in this range; a fitted temperature at
# either end means the search was cut off, not that it converged.
LOG_TEMPERATURE_RANGE = (math.log(0.05), math.log(20.0))
_ITERATIONS = 60


def fit_temperature(probs: ArrayInput, labels: ArrayInput) -> float:
    """Fit the temperature that minimises the negative log-likelihood.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).

    Returns:
        The temperature T in [0.05, 20]; T > 1 softens overconfident
        predictions, T < 1 sharpens underconfident ones.

    Raises:
        VisionGuardError: for invalid probabilities or labels.

    Example:
        >>> overconfident = [[0.99, 0.01], [0.99, 0.01], [0.01, 0.99], [0.99, 0.01]]
        >>> fit_temperature(overconfident, [0, 1, 1, 0]) > 1
        True
    """
    checked_probs, checked_labels = check_probabilities_and_labels(probs, labels)
    log_probs = np.log(np.clip(checked_probs, NLL_EPSILON, 1.0))
    low, high = LOG_TEMPERATURE_RANGE
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a = _scaled_nll(log_probs, checked_labels, math.exp(a))
    loss_b = _scaled_nll(log_probs, checked_labels, math.exp(b))
    for _ in range(_ITERATIONS):
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = _scaled_nll(log_probs, checked_labels, math.exp(a))
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = _scaled_nll(log_probs, checked_labels, math.exp(b))
    return math.exp((low + high) / 2.0)


def apply_temperature(probs: ArrayInput, temperature: float) -> npt.NDArray[np.float64]:
    """Return the probabilities after dividing the logits by `temperature`.

    Example:
        >>> apply_temperature([[0.8, 0.2]], 1.0).round(3).tolist()
        [[0.8, 0.2]]
    """
    checked = np.asarray(probs, dtype=np.float64)
    return _softmax(np.log(np.clip(checked, NLL_EPSILON, 1.0)) / temperature)


def _scaled_nll(
    log_probs: npt.NDArray[np.float64],
    labels: npt.NDArray[np.int64],
    temperature: float,
) -> float:
    scaled = log_probs / temperature
    shifted = scaled - scaled.max(axis=1, keepdims=True)
    log_normaliser = np.log(np.exp(shifted).sum(axis=1))
    picked = shifted[np.arange(len(labels)), labels]
    return float(np.mean(log_normaliser - picked))


def _softmax(logits: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return np.asarray(shifted / shifted.sum(axis=1, keepdims=True), dtype=np.float64)
