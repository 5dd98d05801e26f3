"""Argument checks and input conversion shared by the metric functions.

Every public metric converts its inputs here first. Numpy arrays, nested
sequences and torch tensors on any device become float64 or int64 numpy
arrays on the CPU. Bad input raises `VisionGuardError` with a message that
names the value and the fix. This module never imports torch: a tensor can
only exist once the caller has imported torch, so it is looked up in
`sys.modules`.
"""

from __future__ import annotations

import math
import numbers
import sys
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_visionguard.errors import VisionGuardError

ArrayInput = npt.ArrayLike
"""A numpy array, a torch tensor on any device, or a (nested) sequence of numbers."""

PROBABILITY_SUM_TOLERANCE = 1e-3
"""How far a row of probabilities may sum from 1 (absolute, so relative to 1)."""

NORMS = ("l1", "l2", "max")


def to_numpy(value: ArrayInput, name: str) -> npt.NDArray[Any]:
    """Convert `value` to a numpy array on the CPU, keeping its dtype.

    A tensor is detached and copied to the CPU. bfloat16, which numpy lacks,
    becomes float32, which represents every bfloat16 value exactly.
    """
    # NOTE: CUDA tensors take this path too (numpy(force=True) copies them to
    # the CPU), but only a test that is skipped without a GPU exercises it.
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(value, torch.Tensor):
        if value.dtype == torch.bfloat16:
            value = value.float()
        tensor: Any = value
        return np.asarray(tensor.numpy(force=True))
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame | pandas.Series):
        return np.asarray(value.to_numpy())
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as error:
        raise VisionGuardError(
            f"{name} could not be converted to an array ({error}); pass a numpy "
            "array, a torch tensor or a rectangular nested list of numbers."
        ) from None


def as_float64(value: ArrayInput, name: str) -> npt.NDArray[np.float64]:
    """Convert `value` to a float64 array and reject NaN and infinity.

    The conversion is exact for float16, float32 and bfloat16 inputs, so a
    value is compared against bin edges as the number it is, not as a
    re-rounded one.
    """
    array = to_numpy(value, name)
    if array.dtype.kind not in "biuf":
        raise VisionGuardError(
            f"{name} must contain real numbers, got an array of dtype {array.dtype}; "
            "pass floating-point values."
        )
    array = array.astype(np.float64, copy=False)
    _check_finite(array, name)
    return array


def as_int64(value: ArrayInput, name: str) -> npt.NDArray[np.int64]:
    """Convert `value` to an int64 array, accepting floats only if they are whole."""
    array = to_numpy(value, name)
    if array.dtype.kind in "biu":
        return array.astype(np.int64, copy=False)
    if array.dtype.kind != "f":
        raise VisionGuardError(
            f"{name} must contain integers, got an array of dtype {array.dtype}; "
            "pass integer class indices or counts."
        )
    _check_finite(array, name)
    fractional = np.flatnonzero(array.ravel() != np.floor(array.ravel()))
    if fractional.size:
        first = int(fractional[0])
        raise VisionGuardError(
            f"{name}{_position(array, first)} is {float(array.ravel()[first])!r}, "
            "which is not a whole number; pass integer class indices or counts."
        )
    return array.astype(np.int64)


def check_probabilities(probs: ArrayInput) -> npt.NDArray[np.float64]:
    """Check that `probs` is an N×K array of probabilities and convert it to float64.

    Rows must have entries in [0, 1] and sum to 1 within
    `PROBABILITY_SUM_TOLERANCE`. The error names the first bad row.
    """
    array = to_numpy(probs, "probs")
    if array.ndim != 2:
        raise VisionGuardError(
            f"probs must be a 2-D array of shape (N, K), got shape {array.shape}. "
            "For a binary classifier that outputs the positive-class probability "
            "p, pass numpy.stack([1 - p, p], axis=1)."
        )
    if array.shape[1] < 2:
        raise VisionGuardError(
            f"probs must have one column per class and at least 2 columns, got "
            f"shape {array.shape}. For positive-class probabilities p, pass "
            "numpy.stack([1 - p, p], axis=1)."
        )
    array = as_float64(array, "probs")
    _check_unit_interval_rows(array)
    _check_rows_sum_to_one(array)
    return array


def check_labels(labels: ArrayInput, num_classes: int) -> npt.NDArray[np.int64]:
    """Check that `labels` are indices in [0, num_classes) and return them as int64."""
    return check_class_indices(labels, "labels", num_classes)


def check_class_indices(
    values: ArrayInput, name: str, num_classes: int | None = None
) -> npt.NDArray[np.int64]:
    """Check that `values` are 1-D non-negative class indices and return them as int64.

    With `num_classes` given, they must also be below it.
    """
    array = as_int64(values, name)
    if array.ndim != 1:
        raise VisionGuardError(
            f"{name} must be a 1-D array of N class indices, got shape {array.shape}."
        )
    if num_classes is None:
        bad = np.flatnonzero(array < 0)
        expected = "a non-negative class index"
    else:
        bad = np.flatnonzero((array < 0) | (array >= num_classes))
        expected = f"a class index in [0, {num_classes}) for {num_classes} classes"
    if bad.size:
        raise VisionGuardError(
            f"{name}[{bad[0]}] is {array[bad[0]]}, expected {expected}; check that "
            "labels, predictions and probabilities use the same class order."
        )
    return array


def check_same_length(
    first: npt.NDArray[Any], first_name: str, second: npt.NDArray[Any], second_name: str
) -> None:
    """Raise unless the two arrays have the same number of samples."""
    if len(first) != len(second):
        raise VisionGuardError(
            f"{first_name} has {len(first)} samples but {second_name} has "
            f"{len(second)}; pass one entry per image in both."
        )


def check_probabilities_and_labels(
    probs: ArrayInput, labels: ArrayInput
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Check an N×K probability array and its N labels together."""
    probs_array = check_probabilities(probs)
    labels_array = check_labels(labels, probs_array.shape[1])
    check_same_length(probs_array, "probs", labels_array, "labels")
    return probs_array, labels_array


def check_positive_int(value: object, name: str) -> int:
    """Return `value` as an int, raising unless it is an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise VisionGuardError(
            f"{name} must be a positive integer, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < 1:
        raise VisionGuardError(f"{name} must be a positive integer, got {value}.")
    return int(value)


def check_non_negative_int(value: object, name: str) -> int:
    """Return `value` as an int, raising unless it is an integer of at least 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise VisionGuardError(
            f"{name} must be a non-negative integer, got {value!r} of type "
            f"{type(value).__name__}."
        )
    if value < 0:
        raise VisionGuardError(f"{name} must be a non-negative integer, got {value}.")
    return int(value)


def check_confidence_level(confidence: object) -> float:
    """Return `confidence` as a float, raising unless it is strictly between 0 and 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, numbers.Real):
        raise VisionGuardError(
            f"confidence must be a number in (0, 1) such as 0.95, got {confidence!r}."
        )
    level = float(confidence)
    if not 0.0 < level < 1.0:
        raise VisionGuardError(
            f"confidence must be in (0, 1) such as 0.95, got {confidence!r}; "
            "a percentage like 95 should be written 0.95."
        )
    return level


def check_norm(norm: object) -> str:
    """Return `norm`, raising unless it is one of `NORMS`."""
    if norm not in NORMS:
        raise VisionGuardError(
            f"norm must be one of {', '.join(repr(n) for n in NORMS)}, got "
            f"{norm!r}; 'l1' gives ECE, 'l2' the RMS calibration error and "
            "'max' the MCE."
        )
    return str(norm)


def check_unit_interval(value: object, name: str) -> float:
    """Return `value` as a float, raising unless it is a finite number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VisionGuardError(
            f"{name} must be a number in [0, 1], got {value!r} of type "
            f"{type(value).__name__}."
        )
    number = float(value)
    if not 0.0 <= number <= 1.0:
        raise VisionGuardError(f"{name} must be in [0, 1], got {value!r}.")
    return number


def check_non_negative_number(value: object, name: str) -> float:
    """Return `value` as a float, raising unless it is finite and at least 0."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise VisionGuardError(
            f"{name} must be a non-negative number, got {value!r} of type "
            f"{type(value).__name__}."
        )
    number = float(value)
    if not math.isfinite(number) or number < 0.0:
        raise VisionGuardError(
            f"{name} must be a finite non-negative number, got {value!r}."
        )
    return number


def _check_finite(array: npt.NDArray[np.floating[Any]], name: str) -> None:
    finite = np.isfinite(array)
    if finite.all():
        return
    first = int(np.flatnonzero(~finite.ravel())[0])
    raise VisionGuardError(
        f"{name}{_position(array, first)} is {array.ravel()[first]}; NaN and "
        "infinity are not valid inputs. Check the model for numerical overflow "
        "(for example, compute softmax in float32 rather than float16)."
    )


def _check_unit_interval_rows(probs: npt.NDArray[np.float64]) -> None:
    if probs.size == 0 or (probs.min() >= 0.0 and probs.max() <= 1.0):
        return
    outside = (probs < 0.0) | (probs > 1.0)
    row, column = (int(i) for i in np.argwhere(outside)[0])
    raise VisionGuardError(
        f"probs row {row} has {float(probs[row, column])!r} in column {column}, but "
        "probabilities must be in [0, 1]. If these are logits, apply softmax "
        "first."
    )


def _check_rows_sum_to_one(probs: npt.NDArray[np.float64]) -> None:
    # einsum sums short rows about 5x faster than sum(axis=1). A product with
    # a vector of ones would be as fast but calls BLAS, whose spinning threads
    # then slow down the caller's next torch operations on a small machine.
    sums = np.einsum("ij->i", probs)
    bad = np.flatnonzero(np.abs(sums - 1.0) > PROBABILITY_SUM_TOLERANCE)
    if bad.size == 0:
        return
    row = int(bad[0])
    raise VisionGuardError(
        f"probs row {row} sums to {sums[row]:.6f}, but each row must sum to 1 "
        f"within {PROBABILITY_SUM_TOLERANCE:g}. If these are logits or unnormalised "
        "scores, apply softmax first."
    )


def _position(array: npt.NDArray[Any], flat_index: int) -> str:
    """Format a flat index as `[i]` or `[i, j]` for an error message."""
    if array.ndim == 0:
        return ""
    index = np.unravel_index(flat_index, array.shape)
    return "[" + ", ".join(str(int(i)) for i in index) + "]"
