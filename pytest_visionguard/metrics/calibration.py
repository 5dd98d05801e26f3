"""Calibration errors (ECE, MCE, adaptive and classwise ECE) and reliability tables.

All of them use the top-label convention, for two classes as for many: the
confidence of a prediction is its largest probability and it is correct when
that class is the label. Binary libraries that bin the positive-class
probability against the 0/1 label (scikit-learn's `calibration_curve`,
torchmetrics' `binary_calibration_error`) give other numbers on the same
two-class input.

Equal-width bins have edges k/B in float64. Bin k is [k/B, (k+1)/B) and
the last bin is closed, so a confidence of exactly 1.0 falls in it and 0.0 in
the first. Confidences are converted to float64 before binning, so a value
lands in the same bin whether it arrives as float16, float32 or float64 (the
float32 nearest to 0.7 is 0.699999988, which falls below the edge 0.7). Each
bin weighs count / N, and empty bins are skipped.

These agree with torchmetrics' `multiclass_calibration_error` for the same
norm and bins, except in two places where torchmetrics 1.9 is wrong. It gives
a confidence of exactly 1.0 a bin of its own. It also casts confidences to
float32 and compares them against float32 bin edges.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from pytest_visionguard.metrics._binning import BinTotals
from pytest_visionguard.metrics._binning import bin_totals
from pytest_visionguard.metrics._binning import calibration_error_from_totals
from pytest_visionguard.metrics._binning import equal_mass_bin_index
from pytest_visionguard.metrics._binning import equal_mass_cuts
from pytest_visionguard.metrics._binning import equal_width_bin_index
from pytest_visionguard.metrics._binning import equal_width_edges
from pytest_visionguard.metrics._binning import top_label
from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import check_norm
from pytest_visionguard.metrics._convert import check_positive_int
from pytest_visionguard.metrics._convert import check_probabilities_and_labels

if TYPE_CHECKING:
    import pandas as pd

RELIABILITY_COLUMNS = (
    "bin",
    "lower",
    "upper",
    "count",
    "weight",
    "confidence",
    "accuracy",
    "gap",
    "empty",
)


def expected_calibration_error(
    probs: ArrayInput, labels: ArrayInput, *, n_bins: int = 15, norm: str = "l1"
) -> float:
    """Compute the expected calibration error (ECE) over equal-width bins.

    With B bins, n_b samples in bin b and N in all, the "l1" norm is
    sum_b (n_b / N)·|acc_b - conf_b|, "l2" is
    sqrt(sum_b (n_b / N)·(acc_b - conf_b)²) as in torchmetrics, and "max" is
    max_b |acc_b - conf_b| over occupied bins, the MCE. Confidences are
    top-label: for two classes this differs from the positive-class
    convention of binary libraries.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).
        n_bins: the number of equal-width bins B.
        norm: "l1", "l2" or "max".

    Returns:
        The calibration error in [0, 1], or NaN when there are no samples.

    Raises:
        VisionGuardError: for NaN or infinite inputs, probabilities outside
            [0, 1] or rows that do not sum to 1, labels outside [0, K), a
            non-positive `n_bins` or an unknown `norm`.

    Example:
        >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
        >>> round(expected_calibration_error(probs, [0, 1, 1, 1], n_bins=5), 4)
        0.25
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    norm = check_norm(norm)
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    if len(probs_array) == 0:
        return float("nan")
    confidences, correct = top_label(probs_array, labels_array)
    bin_index = equal_width_bin_index(confidences, n_bins)
    totals = bin_totals(bin_index, confidences, correct, n_bins)
    return float(calibration_error_from_totals(totals, norm))


def maximum_calibration_error(
    probs: ArrayInput, labels: ArrayInput, *, n_bins: int = 15
) -> float:
    """Compute the maximum calibration error (MCE) over equal-width bins.

    This is `expected_calibration_error` with norm="max": the largest
    |accuracy - confidence| over the occupied bins.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).
        n_bins: the number of equal-width bins.

    Returns:
        The MCE in [0, 1], or NaN when there are no samples.

    Raises:
        VisionGuardError: for invalid probabilities, labels or `n_bins`.

    Example:
        >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
        >>> round(maximum_calibration_error(probs, [0, 1, 1, 1], n_bins=5), 4)
        0.35
    """
    return expected_calibration_error(probs, labels, n_bins=n_bins, norm="max")


def adaptive_calibration_error(
    probs: ArrayInput, labels: ArrayInput, *, n_bins: int = 15, norm: str = "l1"
) -> float:
    """Compute the calibration error over equal-mass (adaptive) bins.

    The bin edges are empirical quantiles of the top-label confidences: the
    k-th edge is the order statistic at position floor(k·N / B). A value
    equal to an edge goes to the bin above it, so tied confidences always
    share a bin. Bins whose edges coincide merge. Every sample is counted,
    and when B does not divide N the bin sizes differ by one. Many ties, or
    fewer samples than bins, give fewer than B bins but never zero. The norms
    are those of `expected_calibration_error`.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).
        n_bins: the largest number of bins B.
        norm: "l1", "l2" or "max".

    Returns:
        The calibration error in [0, 1], or NaN when there are no samples.

    Raises:
        VisionGuardError: for invalid probabilities, labels, `n_bins` or
            `norm`.

    Example:
        >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
        >>> round(adaptive_calibration_error(probs, [0, 1, 1, 1], n_bins=2), 4)
        0.25
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    norm = check_norm(norm)
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    if len(probs_array) == 0:
        return float("nan")
    confidences, correct = top_label(probs_array, labels_array)
    cuts = equal_mass_cuts(confidences, n_bins)
    bin_index = equal_mass_bin_index(confidences, cuts)
    totals = bin_totals(bin_index, confidences, correct, len(cuts) + 1)
    return float(calibration_error_from_totals(totals, norm))


def classwise_calibration_error(
    probs: ArrayInput, labels: ArrayInput, *, n_bins: int = 15, norm: str = "l1"
) -> float:
    """Compute the classwise ECE: the mean over classes of each class's ECE.

    For class k, the probability p_k of every sample is binned into
    equal-width bins and compared with the indicator 1[label = k]. The result
    is the unweighted mean over all K classes, including classes that never
    occur as a label.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).
        n_bins: the number of equal-width bins per class.
        norm: "l1", "l2" or "max", applied within each class.

    Returns:
        The classwise calibration error in [0, 1], or NaN when there are no
        samples.

    Raises:
        VisionGuardError: for invalid probabilities, labels, `n_bins` or
            `norm`.

    Example:
        >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
        >>> round(classwise_calibration_error(probs, [0, 1, 1, 1], n_bins=5), 4)
        0.425
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    norm = check_norm(norm)
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    if len(probs_array) == 0:
        return float("nan")
    num_classes = probs_array.shape[1]
    is_label = labels_array[:, None] == np.arange(num_classes)
    # One bincount over all classes: cell k·B + b is bin b of class k.
    cells = np.arange(num_classes) * n_bins + equal_width_bin_index(probs_array, n_bins)
    size = num_classes * n_bins
    totals = BinTotals(
        np.bincount(cells.ravel(), minlength=size).reshape(num_classes, n_bins),
        np.bincount(cells.ravel(), probs_array.ravel(), size).reshape(num_classes, -1),
        np.bincount(cells.ravel(), is_label.ravel(), size).reshape(num_classes, -1),
    )
    return float(np.mean(calibration_error_from_totals(totals, norm)))


def reliability_table(
    probs: ArrayInput, labels: ArrayInput, *, n_bins: int = 15, adaptive: bool = False
) -> pd.DataFrame:
    """Tabulate accuracy against confidence per bin, for a reliability diagram.

    Bins are the equal-width bins of `expected_calibration_error`, or with
    `adaptive=True` the equal-mass bins of `adaptive_calibration_error`
    (which may number fewer than `n_bins`). Empty bins are kept, with
    `empty` True and NaN confidence, accuracy and gap.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).
        n_bins: the number of bins (the largest number, when adaptive).
        adaptive: use equal-mass bins instead of equal-width ones.

    Returns:
        A DataFrame with one row per bin. Its columns are `bin` (0-based
        index), `lower` and `upper` (the bin is [lower, upper), and the last
        bin also contains its upper edge), `count`, `weight` (count / N),
        `confidence` (mean top-label confidence), `accuracy`, `gap`
        (|accuracy - confidence|, so that sum(weight · gap) is the ECE) and
        `empty`.

    Raises:
        VisionGuardError: for invalid probabilities, labels or `n_bins`.

    Example:
        >>> probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
        >>> table = reliability_table(probs, [0, 1, 1, 1], n_bins=2)
        >>> table[["lower", "upper", "count", "accuracy", "empty"]]
           lower  upper  count  accuracy  empty
        0    0.0    0.5      0       NaN   True
        1    0.5    1.0      4       0.5  False
    """
    import pandas as pd

    n_bins = check_positive_int(n_bins, "n_bins")
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    confidences, correct = top_label(probs_array, labels_array)
    if adaptive and len(confidences):
        cuts = equal_mass_cuts(confidences, n_bins)
        edges = np.concatenate(([0.0], cuts, [1.0]))
        bin_index = equal_mass_bin_index(confidences, cuts)
    else:
        edges = equal_width_edges(n_bins)
        bin_index = equal_width_bin_index(confidences, n_bins)
    counts, confidence_sums, correct_sums = bin_totals(
        bin_index, confidences, correct, len(edges) - 1
    )

    occupied = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.where(occupied, confidence_sums / counts, np.nan)
        mean_accuracy = np.where(occupied, correct_sums / counts, np.nan)
        weight = counts / counts.sum() if counts.sum() else np.zeros(len(counts))
    table = {
        "bin": np.arange(len(counts)),
        "lower": edges[:-1],
        "upper": edges[1:],
        "count": counts.astype(np.int64),
        "weight": weight,
        "confidence": mean_confidence,
        "accuracy": mean_accuracy,
        "gap": np.abs(mean_accuracy - mean_confidence),
        "empty": ~occupied,
    }
    return pd.DataFrame(table, columns=list(RELIABILITY_COLUMNS))
