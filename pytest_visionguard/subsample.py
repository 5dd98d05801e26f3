"""A stratified subsample of an evaluation set, for fast pull-request runs.

`--visionguard-subsample 0.25` evaluates a quarter of the images. The images
are drawn per stratum, which is one combination of values of the grouping
columns: those that the gate markers name in `by=`, plus the ini key
`visionguard_subsample_by`. Each stratum keeps the same share, and at least
`min_group_size` images unless it has fewer. The draw is seeded by
`--visionguard-seed`, so every run and every pytest-xdist worker draws the
same images.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pytest_visionguard.data import EvalSet
from pytest_visionguard.groups import split_groups


@dataclass(frozen=True)
class SubsampleInfo:
    """The images that a subsample kept of one evaluation set.

    Attributes:
        data_name: the evaluation set's name.
        total: the images in the full set.
        kept: the images in the subsample.
        fraction: the requested share.
        by: the columns whose strata were sampled separately.
        min_group_size: the minimum of images kept per stratum, where it has
            that many.
    """

    data_name: str
    total: int
    kept: int
    fraction: float
    by: tuple[str, ...]
    min_group_size: int

    def describe(self) -> str:
        """Return one summary line, such as "evalset: 26 of 100 images (...)"."""
        strata = f"stratified by {', '.join(self.by)}" if self.by else "not stratified"
        return (
            f"{self.data_name}: {self.kept} of {self.total} images "
            f"({format_fraction(self.fraction)} requested, {strata}, at least "
            f"{self.min_group_size} per group where it has them)"
        )

    def to_json(self) -> dict[str, Any]:
        """Return the facts as a JSON object."""
        return {
            "data": self.data_name,
            "total": self.total,
            "kept": self.kept,
            "fraction": self.fraction,
            "by": list(self.by),
            "min_group_size": self.min_group_size,
        }


def marker_columns(markers: Iterable[Any]) -> set[str]:
    """Return the column names that gate markers pass as `by=`."""
    columns: set[str] = set()
    for marker in markers:
        by = marker.kwargs.get("by")
        if isinstance(by, str):
            columns.add(by)
        elif isinstance(by, Sequence):
            columns.update(str(column) for column in by)
    return columns


def stratified_indices(
    metadata: pd.DataFrame,
    by: Sequence[str],
    *,
    fraction: float,
    min_group_size: int,
    seed: int,
) -> np.ndarray:
    """Return the sorted positions of a stratified subsample.

    Each stratum (combination of `by` values, missing values included)
    keeps ceil(fraction × size) of its images, raised to `min_group_size`
    and capped at its size. Strata are drawn in a fixed order from one
    seeded generator.
    """
    generator = np.random.default_rng(seed)
    chosen = []
    for group in split_groups(metadata, list(by) or None):
        size = int(group.indices.size)
        keep = min(size, max(math.ceil(fraction * size), min_group_size))
        if keep:
            chosen.append(generator.choice(group.indices, size=keep, replace=False))
    if not chosen:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def subsample_evalset(
    data: EvalSet,
    by: Sequence[str],
    *,
    fraction: float,
    min_group_size: int,
    seed: int,
) -> tuple[EvalSet, SubsampleInfo]:
    """Return the subsample of `data` and what it kept.

    Columns in `by` that the metadata lacks are left out, so that a gate
    on another evaluation set can name them.
    """
    columns = tuple(sorted(c for c in set(by) if c in data.metadata.columns))
    indices = stratified_indices(
        data.metadata,
        columns,
        fraction=fraction,
        min_group_size=min_group_size,
        seed=seed,
    )
    info = SubsampleInfo(
        data.name, len(data), int(indices.size), fraction, columns, min_group_size
    )
    return _subset(data, indices), info


def format_fraction(fraction: float) -> str:
    """Format a fraction as a percentage, such as "25%"."""
    return f"{fraction * 100:g}%"


def _subset(data: EvalSet, indices: np.ndarray) -> EvalSet:
    metadata = data.metadata.iloc[indices].reset_index(drop=True)
    if data.labels is not None:
        # An in-memory set: one batch covering it is a view of its tensor.
        whole = next(data.batches(max(len(data), 1)))
        return EvalSet(
            whole.images[indices],
            whole.labels[indices],
            metadata=metadata,
            class_names=data.class_names,
            name=data.name,
        )
    # NOTE: a lazy set is reached through its private `_dataset`; an
    # `EvalSet.subset(indices)` method in data.py would remove the coupling.
    return EvalSet.from_dataset(
        _IndexedDataset(data._dataset, indices),
        metadata=metadata,
        class_names=data.class_names,
        name=data.name,
    )


class _IndexedDataset:
    """The items of a map-style dataset at the given positions, read lazily."""

    def __init__(self, dataset: Any, indices: np.ndarray) -> None:
        self.dataset = dataset
        self.indices = indices

    def __len__(self) -> int:
        return int(self.indices.size)

    def __getitem__(self, position: int) -> Any:
        return self.dataset[int(self.indices[position])]
