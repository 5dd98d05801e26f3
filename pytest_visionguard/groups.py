"""Subgroups of an evaluation set, from one or several metadata columns."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from pytest_visionguard.errors import VisionGuardError

MISSING = "<missing>"
OVERALL = "all"


@dataclass(frozen=True)
class Group:
    """One subgroup: a value per `by` column and the images that have them.

    Attributes:
        key: one value per `by` column; empty for the whole set.
        label: `column=value` pairs joined by commas, or "all".
        indices: positions of the group's images in the evaluation set.
    """

    key: tuple[Any, ...]
    label: str
    indices: np.ndarray

    @property
    def index_key(self) -> tuple[Any, ...]:
        """The row's index values in a table: the key, or ("all",) for the whole set."""
        return self.key or (OVERALL,)


def normalise_by(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """Return `by` as a tuple of column names; None and () mean the whole set."""
    if by is None:
        return ()
    if isinstance(by, str):
        return (by,)
    columns = tuple(by)
    if not all(isinstance(column, str) for column in columns):
        raise VisionGuardError(
            f"by must be a column name or a non-empty list of names, got {by!r}"
        )
    return columns


def split_groups(
    metadata: pd.DataFrame,
    by: str | Sequence[str] | None,
    *,
    groups: Mapping[str, Sequence[Any]] | None = None,
) -> list[Group]:
    """Split the evaluation set into the groups of the `by` columns.

    Every combination of observed values is listed, empty ones included, so an
    intersection with no images is reported rather than dropped. Missing
    values form their own group, labelled `<missing>`.

    Args:
        metadata: one row per image.
        by: a column, several columns, or None for the whole set.
        groups: per column, values that must be present even when no image
            has them.

    Raises:
        VisionGuardError: when a column does not exist.
    """
    columns = normalise_by(by)
    if not columns:
        return [Group((), OVERALL, np.arange(len(metadata), dtype=np.int64))]
    _check_columns(metadata, columns, groups)
    codes: list[np.ndarray] = []
    levels: list[list[Any]] = []
    for column in columns:
        declared = list(groups.get(column, ())) if groups else []
        column_codes, column_levels = _encode(metadata[column], declared)
        codes.append(column_codes)
        levels.append(column_levels)
    return _combine(columns, codes, levels)


def _check_columns(
    metadata: pd.DataFrame,
    columns: tuple[str, ...],
    groups: Mapping[str, Sequence[Any]] | None,
) -> None:
    available = [str(column) for column in metadata.columns]
    for column in columns:
        if column not in metadata.columns:
            listing = ", ".join(available) if available else "none (pass metadata=...)"
            raise VisionGuardError(
                f"by={column!r} is not a metadata column; the columns are: {listing}"
            )
    if groups is not None and not isinstance(groups, Mapping):
        raise VisionGuardError(
            f"groups must map each by column to the values it must contain, such "
            f"as {{{columns[0]!r}: [...]}}, got {groups!r}"
        )
    for column in groups or {}:
        if column not in columns:
            raise VisionGuardError(
                f"groups names column {column!r}, which is not in by={list(columns)}"
            )


def _encode(values: pd.Series, declared: list[Any]) -> tuple[np.ndarray, list[Any]]:
    missing = values.isna().to_numpy()
    if isinstance(values.dtype, pd.CategoricalDtype):
        observed = [
            level for level in values.cat.categories if level in set(values.dropna())
        ]
    else:
        observed = _sorted_values(values[~missing].unique().tolist())
    levels = observed + [value for value in declared if value not in observed]
    position = {value: index for index, value in enumerate(levels)}
    codes = np.full(len(values), -1, dtype=np.int64)
    present = ~missing
    codes[present] = [position[value] for value in values[present].tolist()]
    if missing.any():
        codes[missing] = len(levels)
        levels.append(MISSING)
    return codes, levels


def _sorted_values(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=str)


def _combine(
    columns: tuple[str, ...], codes: list[np.ndarray], levels: list[list[Any]]
) -> list[Group]:
    sizes = [len(column_levels) for column_levels in levels]
    flat = (
        np.ravel_multi_index(tuple(codes), sizes)
        if codes[0].size
        else np.zeros(0, np.int64)
    )
    order = np.argsort(flat, kind="stable")
    bounds = np.searchsorted(flat[order], np.arange(int(np.prod(sizes)) + 1))
    result = []
    for number, combination in enumerate(itertools.product(*levels)):
        indices = np.sort(order[bounds[number] : bounds[number + 1]])
        label = ", ".join(
            f"{column}={value}"
            for column, value in zip(columns, combination, strict=True)
        )
        result.append(Group(tuple(combination), label, indices))
    return result


def group_index(groups: list[Group], by: tuple[str, ...]) -> pd.Index:
    """Return the DataFrame index for a table with one row per group."""
    if not by:
        return pd.Index([OVERALL], name="group")
    if len(by) == 1:
        return pd.Index([group.key[0] for group in groups], name=by[0])
    return pd.MultiIndex.from_tuples([group.key for group in groups], names=list(by))
