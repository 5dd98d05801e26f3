"""Brute-force references for the metrics: plain Python loops over samples and bins.

They follow the documented definitions one sample at a time, so they share no
code, and no vectorised shortcut, with the package.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from hypothesis import strategies as st


def top_label(row: Sequence[float]) -> tuple[float, int]:
    """Return the largest probability as a float64 and its first index."""
    values = [float(value) for value in row]
    best = 0
    for j, value in enumerate(values):
        if value > values[best]:
            best = j
    return values[best], best


def equal_width_bin(confidence: float, n_bins: int) -> int:
    """Return the bin k with k/B <= c < (k+1)/B, the last bin closed at 1."""
    for k in range(n_bins):
        lower, upper = k / n_bins, (k + 1) / n_bins
        if lower <= confidence < upper:
            return k
        if k == n_bins - 1 and confidence == upper:
            return k
    raise AssertionError(f"confidence {confidence!r} is outside [0, 1]")


def calibration_error_of_bins(
    members: list[list[tuple[float, bool]]], total: int, norm: str
) -> float:
    """Compute the calibration error from bins of (confidence, correct) pairs."""
    weighted_gaps = []
    for bin_members in members:
        if not bin_members:
            continue
        confidence = sum(c for c, _ in bin_members) / len(bin_members)
        accuracy = sum(1.0 for _, ok in bin_members if ok) / len(bin_members)
        weighted_gaps.append((len(bin_members) / total, abs(accuracy - confidence)))
    if norm == "l1":
        return sum(w * g for w, g in weighted_gaps)
    if norm == "l2":
        return math.sqrt(sum(w * g * g for w, g in weighted_gaps))
    return max(g for _, g in weighted_gaps)


def top_label_pairs(probs: np.ndarray, labels: np.ndarray) -> list[tuple[float, bool]]:
    pairs = []
    for row, label in zip(probs, labels, strict=True):
        confidence, predicted = top_label(row)
        pairs.append((confidence, predicted == int(label)))
    return pairs


def expected_calibration_error(
    probs: np.ndarray, labels: np.ndarray, n_bins: int, norm: str = "l1"
) -> float:
    pairs = top_label_pairs(probs, labels)
    members: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
    for confidence, correct in pairs:
        members[equal_width_bin(confidence, n_bins)].append((confidence, correct))
    return calibration_error_of_bins(members, len(pairs), norm)


def equal_mass_cuts(confidences: list[float], n_bins: int) -> list[float]:
    """Return the distinct order statistics at floor(k·N/B) above the minimum."""
    ordered = sorted(confidences)
    cuts = set()
    for k in range(1, n_bins):
        cuts.add(ordered[(k * len(ordered)) // n_bins])
    return sorted(cut for cut in cuts if cut > ordered[0])


def equal_mass_bin(confidence: float, cuts: list[float]) -> int:
    return sum(1 for cut in cuts if cut <= confidence)


def adaptive_calibration_error(
    probs: np.ndarray, labels: np.ndarray, n_bins: int, norm: str = "l1"
) -> float:
    pairs = top_label_pairs(probs, labels)
    cuts = equal_mass_cuts([c for c, _ in pairs], n_bins)
    members: list[list[tuple[float, bool]]] = [[] for _ in range(len(cuts) + 1)]
    for confidence, correct in pairs:
        members[equal_mass_bin(confidence, cuts)].append((confidence, correct))
    return calibration_error_of_bins(members, len(pairs), norm)


def classwise_calibration_error(
    probs: np.ndarray, labels: np.ndarray, n_bins: int, norm: str = "l1"
) -> float:
    per_class = []
    for k in range(probs.shape[1]):
        members: list[list[tuple[float, bool]]] = [[] for _ in range(n_bins)]
        for row, label in zip(probs, labels, strict=True):
            p = float(row[k])
            members[equal_width_bin(p, n_bins)].append((p, int(label) == k))
        per_class.append(calibration_error_of_bins(members, len(labels), norm))
    return sum(per_class) / len(per_class)


def brier_score(probs: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for row, label in zip(probs, labels, strict=True):
        for k, p in enumerate(row):
            target = 1.0 if k == int(label) else 0.0
            total += (float(p) - target) ** 2
    return total / len(labels)


def binary_counts(
    labels: Sequence[int], predicted: Sequence[int], positive: int
) -> tuple[int, int, int, int]:
    tp = fp = fn = tn = 0
    for label, guess in zip(labels, predicted, strict=True):
        if label == positive and guess == positive:
            tp += 1
        elif label != positive and guess == positive:
            fp += 1
        elif label == positive:
            fn += 1
        else:
            tn += 1
    return tp, fp, fn, tn


def rate_value(
    name: str, labels: Sequence[int], predicted: Sequence[int], positive: int
) -> float:
    if name == "accuracy":
        correct = sum(1 for a, b in zip(labels, predicted, strict=True) if a == b)
        numerator, denominator = correct, len(labels)
    else:
        tp, fp, fn, tn = binary_counts(labels, predicted, positive)
        numerator, denominator = {
            "recall": (tp, tp + fn),
            "precision": (tp, tp + fp),
            "f1": (2 * tp, 2 * tp + fp + fn),
            "false_positive_rate": (fp, fp + tn),
            "false_negative_rate": (fn, tp + fn),
            "selection_rate": (tp + fp, tp + fp + fn + tn),
        }[name]
    return numerator / denominator if denominator else math.nan


DTYPES = (np.float16, np.float32, np.float64)


@st.composite
def probability_rows(
    draw: st.DrawFn,
    num_classes: int,
    n_bins: int,
    dtype: type[np.floating],
) -> list[float]:
    """Draw one row of probabilities: random, one-hot, or with a bin edge in it."""
    kind = draw(st.sampled_from(["random", "edge", "one-hot", "tie"]))
    if kind == "random":
        weights = draw(
            st.lists(st.floats(0.0, 1.0), min_size=num_classes, max_size=num_classes)
        )
        total = sum(weights)
        if total == 0:
            return [1.0 / num_classes] * num_classes
        return [w / total for w in weights]
    if kind == "one-hot":
        hot = draw(st.integers(0, num_classes - 1))
        return [1.0 if k == hot else 0.0 for k in range(num_classes)]
    if kind == "tie":
        return [1.0 / num_classes] * num_classes
    # A bin edge k/B as the dtype rounds it, or the dtype's neighbour just
    # below or above it.
    top = dtype(draw(st.integers(0, n_bins)) / n_bins)
    step = draw(st.sampled_from([-1, 0, 1]))
    if step:
        top = np.nextafter(top, dtype(step), dtype=dtype)
    top = min(max(float(top), 0.0), 1.0)
    rest = (1.0 - top) / (num_classes - 1)
    row = [rest] * num_classes
    row[draw(st.integers(0, num_classes - 1))] = top
    return row


@st.composite
def calibration_inputs(
    draw: st.DrawFn, max_samples: int = 40
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw (probs, labels, n_bins) with edge values, ties and all three dtypes."""
    n_bins = draw(st.integers(1, 20))
    num_classes = draw(st.integers(2, 5))
    dtype = draw(st.sampled_from(DTYPES))
    n = draw(st.integers(1, max_samples))
    rows = [draw(probability_rows(num_classes, n_bins, dtype)) for _ in range(n)]
    labels = draw(st.lists(st.integers(0, num_classes - 1), min_size=n, max_size=n))
    return np.array(rows).astype(dtype), np.array(labels), n_bins
