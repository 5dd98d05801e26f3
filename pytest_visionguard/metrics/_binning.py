"""Confidence binning shared by the calibration metrics and their bootstrap.

All comparisons happen in float64: the edges of equal-width bins are k/B
computed in float64, and confidences are float64 copies of the given values,
so a float32 input of 0.7 (which is 0.699999988...) falls below the edge 0.7.
"""

from __future__ import annotations

from typing import Any
from typing import NamedTuple

import numpy as np
import numpy.typing as npt


class BinTotals(NamedTuple):
    """Per-bin sums; the last axis is the bin, leading axes are batches."""

    counts: npt.NDArray[Any]
    confidence_sums: npt.NDArray[Any]
    correct_sums: npt.NDArray[Any]


def top_label(
    probs: npt.NDArray[np.float64], labels: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    """Return the top-label confidence and whether the top label is correct.

    Ties between classes go to the lowest class index, as `numpy.argmax` and
    `torch.max` break them.
    """
    predicted = probs.argmax(axis=1)
    confidences = probs[np.arange(len(probs)), predicted]
    return confidences, predicted == labels


def equal_width_edges(n_bins: int) -> npt.NDArray[np.float64]:
    """Return the n_bins + 1 edges k / n_bins, each correctly rounded in float64."""
    return np.arange(n_bins + 1, dtype=np.float64) / n_bins


def equal_width_bin_index(
    confidences: npt.NDArray[np.float64], n_bins: int
) -> npt.NDArray[np.int64]:
    """Assign each confidence in [0, 1] to its equal-width bin.

    Bin k is the interval [k/B, (k+1)/B), except that the last bin is closed,
    so 1.0 falls in bin B - 1. floor(c·B) alone misplaces values next to an
    edge because the product rounds (0.8999999999999999 * 10 is 9.0). It is
    off by at most one bin, so one comparison with each neighbouring float64
    edge fixes it. That gives the bins of `searchsorted` on the edges, and
    ran about 3.5 times faster on 100,000 confidences (2-core Xeon).
    """
    edges = equal_width_edges(n_bins)
    index = np.minimum((confidences * n_bins).astype(np.int64), n_bins - 1)
    index -= confidences < edges[index]
    index += (index < n_bins - 1) & (confidences >= edges[index + 1])
    return index


def equal_mass_cuts(
    confidences: npt.NDArray[np.float64], n_bins: int
) -> npt.NDArray[np.float64]:
    """Return the interior edges of up to n_bins equal-mass bins.

    The cut for the k-th boundary is the order statistic at position
    floor(k·N / B) of the sorted confidences. Coinciding cuts merge, and a cut
    equal to the smallest confidence is dropped, so no bin is empty and tied
    confidences always share a bin. N confidences give at most min(N, B)
    bins and at least one.
    """
    ordered = np.sort(confidences)
    positions = np.arange(1, n_bins) * len(ordered) // n_bins
    cuts = np.unique(ordered[positions])
    return np.asarray(cuts[cuts > ordered[0]], dtype=np.float64)


def equal_mass_bin_index(
    confidences: npt.NDArray[np.float64], cuts: npt.NDArray[np.float64]
) -> npt.NDArray[np.int64]:
    """Assign each confidence to its equal-mass bin; a value equal to a cut goes up."""
    return np.searchsorted(cuts, confidences, side="right").astype(np.int64)


def bin_totals(
    bin_index: npt.NDArray[np.int64],
    confidences: npt.NDArray[np.float64],
    correct: npt.NDArray[np.bool_],
    n_bins: int,
) -> BinTotals:
    """Sum the count, confidences and correct predictions of each bin."""
    counts = np.bincount(bin_index, minlength=n_bins)
    confidence_sums = np.bincount(bin_index, weights=confidences, minlength=n_bins)
    correct_sums = np.bincount(bin_index, weights=correct, minlength=n_bins)
    return BinTotals(counts, confidence_sums, correct_sums)


def calibration_error_from_totals(
    totals: BinTotals, norm: str
) -> npt.NDArray[np.float64]:
    """Compute the calibration error from per-bin sums, over the last axis.

    Each occupied bin weighs count / N. "l1" is the weighted mean of
    |accuracy - confidence|, "l2" the square root of the weighted mean of its
    square, "max" its maximum over occupied bins. Empty bins are skipped. The
    result is NaN where N is 0.
    """
    counts = np.asarray(totals.counts, dtype=np.float64)
    occupied = counts > 0
    safe_counts = np.where(occupied, counts, 1.0)
    gaps = np.abs(totals.correct_sums - totals.confidence_sums) / safe_counts
    gaps = np.where(occupied, gaps, 0.0)

    with np.errstate(invalid="ignore", divide="ignore"):
        weights = counts / counts.sum(axis=-1, keepdims=True)
    if norm == "l1":
        return np.asarray(np.sum(weights * gaps, axis=-1))
    if norm == "l2":
        return np.asarray(np.sqrt(np.sum(weights * gaps**2, axis=-1)))
    maxima = np.max(gaps, axis=-1)
    return np.where(occupied.any(axis=-1), maxima, np.nan)
