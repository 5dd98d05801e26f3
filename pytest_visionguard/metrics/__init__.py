"""Pure metric functions on numpy arrays and torch tensors, usable without pytest.

Inputs may be numpy arrays, nested sequences or torch tensors on any device.
Probabilities are N×K with rows summing to 1; labels and predictions are N
class indices. Every function checks its arguments and raises
`VisionGuardError` with the offending value and the fix.
"""

from __future__ import annotations

from pytest_visionguard.metrics._convert import PROBABILITY_SUM_TOLERANCE
from pytest_visionguard.metrics.bootstrap import bootstrap_ece_interval
from pytest_visionguard.metrics.bootstrap import bootstrap_gap_interval
from pytest_visionguard.metrics.bootstrap import bootstrap_interval
from pytest_visionguard.metrics.bootstrap import bootstrap_mean_interval
from pytest_visionguard.metrics.calibration import RELIABILITY_COLUMNS
from pytest_visionguard.metrics.calibration import adaptive_calibration_error
from pytest_visionguard.metrics.calibration import classwise_calibration_error
from pytest_visionguard.metrics.calibration import expected_calibration_error
from pytest_visionguard.metrics.calibration import maximum_calibration_error
from pytest_visionguard.metrics.calibration import reliability_table
from pytest_visionguard.metrics.cost import bayes_decision
from pytest_visionguard.metrics.cost import check_cost_matrix
from pytest_visionguard.metrics.cost import expected_cost
from pytest_visionguard.metrics.cost import per_sample_cost
from pytest_visionguard.metrics.cost import review_rate
from pytest_visionguard.metrics.intervals import two_sided_z
from pytest_visionguard.metrics.intervals import wilson_interval
from pytest_visionguard.metrics.rates import PER_CLASS_METRICS
from pytest_visionguard.metrics.rates import PROPORTION_METRICS
from pytest_visionguard.metrics.rates import RATE_METRICS
from pytest_visionguard.metrics.rates import accuracy
from pytest_visionguard.metrics.rates import confusion_matrix
from pytest_visionguard.metrics.rates import rate_counts
from pytest_visionguard.metrics.rates import rate_value
from pytest_visionguard.metrics.scoring import NLL_EPSILON
from pytest_visionguard.metrics.scoring import brier_score
from pytest_visionguard.metrics.scoring import negative_log_likelihood
from pytest_visionguard.metrics.temperature import apply_temperature
from pytest_visionguard.metrics.temperature import fit_temperature

__all__ = [
    "NLL_EPSILON",
    "PER_CLASS_METRICS",
    "PROBABILITY_SUM_TOLERANCE",
    "PROPORTION_METRICS",
    "RATE_METRICS",
    "RELIABILITY_COLUMNS",
    "accuracy",
    "adaptive_calibration_error",
    "apply_temperature",
    "bayes_decision",
    "bootstrap_ece_interval",
    "bootstrap_gap_interval",
    "bootstrap_interval",
    "bootstrap_mean_interval",
    "brier_score",
    "check_cost_matrix",
    "classwise_calibration_error",
    "confusion_matrix",
    "expected_calibration_error",
    "expected_cost",
    "fit_temperature",
    "maximum_calibration_error",
    "negative_log_likelihood",
    "per_sample_cost",
    "rate_counts",
    "rate_value",
    "reliability_table",
    "review_rate",
    "two_sided_z",
    "wilson_interval",
]
