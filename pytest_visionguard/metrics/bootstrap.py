"""Seeded percentile bootstrap intervals for figures that are not proportions.

`bootstrap_interval` resamples the data for any statistic, optionally within
strata, and calls the statistic once per resample. The three fast paths
compute the same kind of interval for common statistics without touching
each sample per resample:

- `bootstrap_mean_interval`: the mean of a per-sample quantity with few
  distinct values (a per-image cost, 0/1 correctness, a paired difference of
  correctness). Exact.
- `bootstrap_ece_interval`: the ECE and its other norms. Exact bin counts
  and accuracies. The confidence sums of cells with more than 64 samples
  are drawn from a normal with their exact mean and variance.
- `bootstrap_gap_interval`: the gap between the best and worst group of a
  rate, resampled within each group. Exact.

Every function draws from `numpy.random.default_rng(seed)` and never touches
numpy's, Python's or torch's global random state. Intervals are percentile
intervals: the (1 - confidence)/2 and (1 + confidence)/2 quantiles of the
resampled statistics, linearly interpolated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics._binning import BinTotals
from pytest_visionguard.metrics._binning import calibration_error_from_totals
from pytest_visionguard.metrics._binning import equal_width_bin_index
from pytest_visionguard.metrics._binning import top_label
from pytest_visionguard.metrics._convert import ArrayInput
from pytest_visionguard.metrics._convert import as_float64
from pytest_visionguard.metrics._convert import as_int64
from pytest_visionguard.metrics._convert import check_confidence_level
from pytest_visionguard.metrics._convert import check_non_negative_int
from pytest_visionguard.metrics._convert import check_norm
from pytest_visionguard.metrics._convert import check_positive_int
from pytest_visionguard.metrics._convert import check_probabilities_and_labels
from pytest_visionguard.metrics._convert import to_numpy

# Below this many distinct values per sample (or 1/16 of the samples, if that
# is more), the mean bootstrap draws value counts from a multinomial, which
# costs O(distinct values) per resample instead of O(samples).
_MULTINOMIAL_MAX_DISTINCT = 1024

# The ECE bootstrap resamples the confidence sums of cells with at most this
# many samples exactly. Larger cells use the normal approximation, whose error
# shrinks as the cell grows.
_EXACT_CELL_SIZE = 64

# Index resampling for the mean works in chunks of about this many indices,
# to bound memory at 8 bytes each.
_INDEX_CHUNK = 4_000_000


def bootstrap_interval(
    statistic: Callable[..., float],
    data: ArrayInput | tuple[ArrayInput, ...],
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    strata: ArrayInput | None = None,
) -> tuple[float, float]:
    """Compute a percentile bootstrap interval for any statistic of the samples.

    Each resample draws N samples with replacement (within each stratum, when
    `strata` is given, so every stratum keeps its size) and calls `statistic`
    on them. Resamples whose statistic is NaN, such as a recall of a resample
    with no positives, are left out of the quantiles.

    Args:
        statistic: a function of the resampled data returning a number. It
            receives one array if `data` is one array, or one array per
            element if `data` is a tuple.
        data: an array of N samples (first axis), or a tuple of such arrays
            resampled together (for example probabilities and labels). A
            tuple is the only sequence read as several arrays; a list is one
            array. Tensors become numpy arrays on the CPU.
        n_resamples: the number of bootstrap resamples.
        confidence: the coverage of the interval, in (0, 1).
        seed: the seed of the `numpy.random.Generator` used for resampling.
        strata: N group labels (any hashable values, missing ones forming a
            group of their own); resampling happens within each group.

    Returns:
        `(lower, upper)`, or `(nan, nan)` when there are no samples or every
        resampled statistic is NaN.

    Raises:
        VisionGuardError: for arrays of different lengths, a bad
            `n_resamples`, `confidence` or `seed`.

    Example:
        >>> import numpy as np
        >>> values = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
        >>> low, high = bootstrap_interval(np.median, values, n_resamples=200)
        >>> bool(low < np.median(values) < high)
        True
    """
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    level = check_confidence_level(confidence)
    seed = check_non_negative_int(seed, "seed")
    arrays = _check_bootstrap_data(data)
    groups = _strata_indices(strata, len(arrays[0]))

    if len(arrays[0]) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    statistics = np.empty(n_resamples)
    for r in range(n_resamples):
        index = _resample_indices(rng, groups)
        statistics[r] = statistic(*(array[index] for array in arrays))
    return _percentile_interval(statistics, level)


def bootstrap_mean_interval(
    values: ArrayInput,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Compute a percentile bootstrap interval for the mean of per-sample values.

    Resampling N values with replacement only changes how often each distinct
    value occurs, and those counts follow a multinomial distribution with the
    observed frequencies. Drawing them directly gives exactly the
    distribution of the ordinary bootstrap (not the same draws for a seed) in
    O(distinct values × resamples). With more than max(1024, N / 16) distinct
    values it resamples indices instead, in O(N × resamples).

    Args:
        values: N finite numbers, such as `per_sample_cost` or 0/1
            correctness.
        n_resamples: the number of bootstrap resamples.
        confidence: the coverage of the interval, in (0, 1).
        seed: the seed of the `numpy.random.Generator` used for resampling.

    Returns:
        `(lower, upper)`, or `(nan, nan)` when there are no values.

    Raises:
        VisionGuardError: for NaN or infinite values, a non-1-D array, or a
            bad `n_resamples`, `confidence` or `seed`.

    Example:
        >>> correct = [1] * 80 + [0] * 20
        >>> low, high = bootstrap_mean_interval(correct, n_resamples=2000)
        >>> bool(0.70 < low < 0.8 < high < 0.9)
        True
    """
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    level = check_confidence_level(confidence)
    seed = check_non_negative_int(seed, "seed")
    samples = as_float64(values, "values")
    if samples.ndim != 1:
        raise VisionGuardError(
            f"values must be a 1-D array of N numbers, got shape {samples.shape}."
        )

    if samples.size == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    distinct, counts = np.unique(samples, return_counts=True)
    if distinct.size <= max(_MULTINOMIAL_MAX_DISTINCT, samples.size // 16):
        draws = rng.multinomial(samples.size, counts / samples.size, size=n_resamples)
        # einsum, not a matrix product, so that BLAS threads are not woken.
        means = np.einsum("ru,u->r", draws, distinct) / samples.size
    else:
        means = _resampled_means(rng, samples, n_resamples)
    return _percentile_interval(means, level)


def bootstrap_ece_interval(
    probs: ArrayInput,
    labels: ArrayInput,
    *,
    n_bins: int = 15,
    norm: str = "l1",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Compute a percentile bootstrap interval for the ECE over equal-width bins.

    Samples fall into 2·B cells, one per bin and correctness. A bootstrap
    resample changes only how many samples each cell contains, and which of
    the cell's confidences they carry. The cell counts are drawn exactly,
    from the multinomial distribution with the observed frequencies, so the
    resampled accuracy of every bin is exact.

    For a cell of at most 64 samples, the m confidences drawn into it are
    resampled exactly. For a larger cell, their sum is drawn from a normal
    with its exact mean m·μ and variance m·σ² (μ and σ² are the mean and
    population variance of the cell's confidences), clipped to
    [m·min, m·max]. That approximation matches the first two moments of the
    ordinary bootstrap's cell sums, and its error shrinks as cells grow. The
    cost is O((B + samples in small cells) × resamples) after one pass over
    the data. The tests require its endpoints to lie within 8% of
    the interval width of the generic `bootstrap_interval`'s, for 300 and
    2,000 samples and all three norms. On such inputs the measured
    differences were at most 3%, about the Monte Carlo error of the
    comparison.

    Args:
        probs: N×K class probabilities; each row sums to 1 within 1e-3.
        labels: N true class indices in [0, K).
        n_bins: the number of equal-width bins, as in
            `expected_calibration_error`.
        norm: "l1", "l2" or "max", as in `expected_calibration_error`.
        n_resamples: the number of bootstrap resamples.
        confidence: the coverage of the interval, in (0, 1).
        seed: the seed of the `numpy.random.Generator` used for resampling.

    Returns:
        `(lower, upper)`, or `(nan, nan)` when there are no samples.

    Raises:
        VisionGuardError: for invalid probabilities or labels, or a bad
            `n_bins`, `norm`, `n_resamples`, `confidence` or `seed`.

    Example:
        >>> import numpy as np
        >>> from pytest_visionguard.metrics import expected_calibration_error
        >>> rng = np.random.default_rng(1)
        >>> confidence = rng.uniform(0.5, 1.0, size=500)
        >>> probs = np.stack([confidence, 1 - confidence], axis=1)
        >>> labels = (rng.uniform(size=500) > confidence).astype(int)
        >>> low, high = bootstrap_ece_interval(probs, labels, n_bins=10)
        >>> ece = expected_calibration_error(probs, labels, n_bins=10)
        >>> bool(low < ece < high)
        True
    """
    n_bins = check_positive_int(n_bins, "n_bins")
    norm = check_norm(norm)
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    level = check_confidence_level(confidence)
    seed = check_non_negative_int(seed, "seed")
    probs_array, labels_array = check_probabilities_and_labels(probs, labels)

    if len(probs_array) == 0:
        return float("nan"), float("nan")
    confidences, correct = top_label(probs_array, labels_array)
    cells = 2 * equal_width_bin_index(confidences, n_bins) + correct
    rng = np.random.default_rng(seed)
    totals = _resampled_bin_totals(rng, cells, confidences, n_bins, n_resamples)
    errors = calibration_error_from_totals(totals, norm)
    return _percentile_interval(errors, level)


def bootstrap_gap_interval(
    successes: ArrayInput,
    totals: ArrayInput,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Compute a stratified bootstrap interval for the gap between group rates.

    The gap is max_g(k_g / n_g) - min_g(k_g / n_g) over the groups g. Each
    group is resampled on its own and keeps its denominator n_g fixed: its
    images for accuracy, its positives for recall. Resampling n_g outcomes of
    which k_g are successes gives Binomial(n_g, k_g / n_g) successes. Drawing
    those directly gives the exact stratified bootstrap distribution in
    O(groups × resamples). Groups with n_g = 0 have no rate and are left out.

    Args:
        successes: k_g per group, integers in [0, n_g].
        totals: n_g per group, non-negative integers.
        n_resamples: the number of bootstrap resamples.
        confidence: the coverage of the interval, in (0, 1).
        seed: the seed of the `numpy.random.Generator` used for resampling.

    Returns:
        `(lower, upper)`, or `(nan, nan)` when no group has n_g > 0. With a
        single such group the gap is always 0.

    Raises:
        VisionGuardError: for counts that are negative, not whole, or with
            k_g > n_g, arrays of different lengths, or a bad `n_resamples`,
            `confidence` or `seed`.

    Example:
        >>> low, high = bootstrap_gap_interval([90, 70], [100, 100])
        >>> bool(0.05 < low < 0.2 < high < 0.35)
        True
    """
    n_resamples = check_positive_int(n_resamples, "n_resamples")
    level = check_confidence_level(confidence)
    seed = check_non_negative_int(seed, "seed")
    k, n = _check_group_counts(successes, totals)

    defined = n > 0
    if not defined.any():
        return float("nan"), float("nan")
    k, n = k[defined], n[defined]
    rng = np.random.default_rng(seed)
    draws = rng.binomial(n, k / n, size=(n_resamples, len(n)))
    rates = draws / n
    return _percentile_interval(rates.max(axis=1) - rates.min(axis=1), level)


def _check_bootstrap_data(
    data: ArrayInput | tuple[ArrayInput, ...],
) -> tuple[npt.NDArray[Any], ...]:
    parts = data if isinstance(data, tuple) else (data,)
    if not parts:
        raise VisionGuardError("data is an empty tuple; pass at least one array.")
    arrays = tuple(to_numpy(part, f"data[{i}]") for i, part in enumerate(parts))
    for i, array in enumerate(arrays):
        if array.ndim == 0:
            raise VisionGuardError(
                f"data[{i}] is a scalar; pass arrays whose first axis is the samples."
            )
        if len(array) != len(arrays[0]):
            raise VisionGuardError(
                f"data[{i}] has {len(array)} samples but data[0] has "
                f"{len(arrays[0])}; arrays resampled together need one entry "
                "per sample."
            )
    return arrays


def _strata_indices(
    strata: ArrayInput | None, num_samples: int
) -> list[npt.NDArray[np.intp]]:
    """Return the sample indices of each stratum (all samples when None)."""
    if strata is None:
        return [np.arange(num_samples)]
    import pandas as pd

    labels = to_numpy(strata, "strata")
    if labels.ndim != 1 or len(labels) != num_samples:
        raise VisionGuardError(
            f"strata has shape {labels.shape}, expected ({num_samples},): one "
            "group label per sample."
        )
    codes, _ = pd.factorize(labels, use_na_sentinel=False)
    order = np.argsort(codes, kind="stable")
    boundaries = np.flatnonzero(np.diff(codes[order])) + 1
    return list(np.split(order, boundaries))


def _resample_indices(
    rng: np.random.Generator, groups: list[npt.NDArray[np.intp]]
) -> npt.NDArray[np.intp]:
    picks = [group[rng.integers(0, len(group), len(group))] for group in groups]
    return np.concatenate(picks)


def _resampled_means(
    rng: np.random.Generator, samples: npt.NDArray[np.float64], n_resamples: int
) -> npt.NDArray[np.float64]:
    chunk = max(1, _INDEX_CHUNK // samples.size)
    means = np.empty(n_resamples)
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        index = rng.integers(0, samples.size, size=(stop - start, samples.size))
        means[start:stop] = samples[index].mean(axis=1)
    return means


def _resampled_bin_totals(
    rng: np.random.Generator,
    cells: npt.NDArray[np.int64],
    confidences: npt.NDArray[np.float64],
    n_bins: int,
    n_resamples: int,
) -> BinTotals:
    """Draw per-bin totals for each resample; cell 2·b + c is bin b, correct c."""
    size = 2 * n_bins
    counts = np.bincount(cells, minlength=size)
    drawn = rng.multinomial(len(cells), counts / len(cells), size=n_resamples)

    sums = _approximate_cell_sums(rng, cells, confidences, counts, drawn)
    for cell in np.flatnonzero((counts > 0) & (counts <= _EXACT_CELL_SIZE)):
        members = confidences[cells == cell]
        sums[:, cell] = _exact_cell_sums(rng, members, drawn[:, cell])
    return BinTotals(
        counts=drawn[:, 0::2] + drawn[:, 1::2],
        confidence_sums=sums[:, 0::2] + sums[:, 1::2],
        correct_sums=drawn[:, 1::2],
    )


def _approximate_cell_sums(
    rng: np.random.Generator,
    cells: npt.NDArray[np.int64],
    confidences: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    drawn: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Draw each cell's confidence sum from a normal of the exact mean and variance.

    The sum of m draws with replacement from a cell has mean m·μ and variance
    m·σ². The normal draw is clipped to [m·min, m·max], the range the exact
    sum can take.
    """
    size = len(counts)
    occupied = counts > 0
    safe_counts = np.where(occupied, counts, 1)
    means = np.bincount(cells, weights=confidences, minlength=size) / safe_counts
    deviations = (confidences - means[cells]) ** 2
    spreads = np.sqrt(np.bincount(cells, deviations, minlength=size) / safe_counts)
    lowest = np.full(size, np.inf)
    highest = np.full(size, -np.inf)
    np.minimum.at(lowest, cells, confidences)
    np.maximum.at(highest, cells, confidences)
    lowest[~occupied] = highest[~occupied] = 0.0

    noise = rng.standard_normal(drawn.shape)
    sums = drawn * means + np.sqrt(drawn) * spreads * noise
    return np.asarray(np.clip(sums, drawn * lowest, drawn * highest))


def _exact_cell_sums(
    rng: np.random.Generator,
    members: npt.NDArray[np.float64],
    drawn: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Sum drawn[r] confidences picked with replacement from `members`, per resample."""
    picks = members[rng.integers(0, len(members), size=int(drawn.sum()))]
    resample = np.repeat(np.arange(len(drawn)), drawn)
    sums = np.bincount(resample, weights=picks, minlength=len(drawn))
    return sums.astype(np.float64)


def _check_group_counts(
    successes: ArrayInput, totals: ArrayInput
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    k = as_int64(successes, "successes")
    n = as_int64(totals, "totals")
    if k.ndim != 1 or k.shape != n.shape:
        raise VisionGuardError(
            f"successes has shape {k.shape} and totals {n.shape}; pass two 1-D "
            "arrays with one count per group."
        )
    bad = np.flatnonzero((n < 0) | (k < 0) | (k > n))
    if bad.size:
        raise VisionGuardError(
            f"group {bad[0]} has successes {k[bad[0]]} and totals {n[bad[0]]}; "
            "counts must satisfy 0 <= successes <= totals."
        )
    return k, n


def _percentile_interval(
    statistics: npt.NDArray[np.float64], level: float
) -> tuple[float, float]:
    defined = statistics[~np.isnan(statistics)]
    if defined.size == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0
    lower, upper = np.quantile(defined, [tail, 1.0 - tail])
    return float(lower), float(upper)
