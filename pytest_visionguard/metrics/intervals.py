"""Wilson score intervals for proportions such as accuracy and recall."""

from __future__ import annotations

from statistics import NormalDist
from typing import overload

import numpy as np
import numpy.typing as npt

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import as_int64
from pytest_visionguard.metrics._convert import check_confidence_level


def two_sided_z(confidence: float) -> float:
    """Return the standard normal quantile z with P(|Z| <= z) = confidence.

    `statistics.NormalDist.inv_cdf` (Wichura's algorithm AS 241) is accurate
    to about 1e-16 in float64; 0.95 gives 1.959963984540054.

    Example:
        >>> round(two_sided_z(0.95), 6)
        1.959964
    """
    level = check_confidence_level(confidence)
    return NormalDist().inv_cdf(0.5 + level / 2.0)


@overload
def wilson_interval(
    successes: int, n: int, *, confidence: float = 0.95
) -> tuple[float, float]: ...


@overload
def wilson_interval(
    successes: ArrayInput, n: ArrayInput, *, confidence: float = 0.95
) -> tuple[float, float] | tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]: ...


def wilson_interval(
    successes: ArrayInput, n: ArrayInput, *, confidence: float = 0.95
) -> tuple[float, float] | tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Compute the Wilson score interval for a binomial proportion k / n.

    With z the two-sided normal quantile for `confidence`, the bounds are
    (k + z²/2 ± z·sqrt(k(n - k)/n + z²/4)) / (n + z²). Unlike the normal
    (Wald) interval it stays inside [0, 1] and keeps close to its nominal
    coverage for small n and for proportions near 0 or 1. The lower bound is
    exactly 0 when k = 0 and the upper exactly 1 when k = n.

    Args:
        successes: k, an integer or an array of integers in [0, n].
        n: the number of trials, an integer or an array broadcastable with
            `successes`.
        confidence: the coverage, in (0, 1).

    Returns:
        `(lower, upper)`, floats for scalar inputs and float64 arrays of the
        broadcast shape otherwise. Both are NaN where n is 0.

    Raises:
        VisionGuardError: if a count is negative or not whole, successes
            exceed n, the shapes do not broadcast, or `confidence` is not in
            (0, 1).

    Example:
        >>> low, high = wilson_interval(8, 10)
        >>> round(low, 4), round(high, 4)
        (0.4902, 0.9433)
        >>> low, high = wilson_interval([0, 0], [10, 0])
        >>> low.tolist(), high.round(4).tolist()
        ([0.0, nan], [0.2775, nan])
    """
    z = two_sided_z(confidence)
    k, total = _check_counts(successes, n)

    z2 = z * z
    with np.errstate(invalid="ignore", divide="ignore"):
        center = (k + z2 / 2.0) / (total + z2)
        spread = np.sqrt(k * (total - k) / total + z2 / 4.0) * z / (total + z2)
    lower = np.where(k == 0, 0.0, np.clip(center - spread, 0.0, 1.0))
    upper = np.where(k == total, 1.0, np.clip(center + spread, 0.0, 1.0))
    lower = np.where(total == 0, np.nan, lower)
    upper = np.where(total == 0, np.nan, upper)

    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower.astype(np.float64), upper.astype(np.float64)


def _check_counts(
    successes: ArrayInput, n: ArrayInput
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Check and broadcast the counts, returned as float64 for the arithmetic."""
    k = as_int64(successes, "successes")
    total = as_int64(n, "n")
    try:
        k, total = np.broadcast_arrays(k, total)
    except ValueError:
        raise VisionGuardError(
            f"successes of shape {k.shape} and n of shape {total.shape} do not "
            "broadcast; pass arrays of the same shape."
        ) from None
    negative = np.flatnonzero(total.ravel() < 0)
    if negative.size:
        raise VisionGuardError(
            f"n is {total.ravel()[negative[0]]} at position {negative[0]}, but the "
            "number of trials must be non-negative."
        )
    bad = np.flatnonzero(((k < 0) | (k > total)).ravel())
    if bad.size:
        index = int(bad[0])
        raise VisionGuardError(
            f"successes {k.ravel()[index]} with n {total.ravel()[index]} is not a "
            "valid count: successes must be in [0, n]."
        )
    return k.astype(np.float64), total.astype(np.float64)
