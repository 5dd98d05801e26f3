"""Hypothesis strategies over corruption names and severities.

For property-based tests of a model: draw a corruption and a severity, corrupt
a batch with `pytest_visionguard.corruptions.corrupt`, and assert something
that must hold for every draw. The strategies shrink towards the mildest case:
severity 1 and the first name in `CORRUPTIONS` order.

Example:
    >>> from hypothesis import given
    >>> from pytest_visionguard.strategies import corruption_cases
    >>> @given(corruption_cases(family="noise", max_severity=2))
    ... def test_noise_keeps_shape(case):
    ...     name, severity = case
    ...     assert name.endswith("_noise") and severity in (1, 2)
    >>> test_noise_keeps_shape()
"""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

from pytest_visionguard.corruptions import CORRUPTIONS
from pytest_visionguard.corruptions import FAMILIES
from pytest_visionguard.corruptions import resolve_corruptions
from pytest_visionguard.errors import VisionGuardError

__all__ = ["corruption_cases", "corruption_names", "severities"]


def corruption_names(
    family: str | None = None,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] = (),
) -> st.SearchStrategy[str]:
    """Return a strategy drawing corruption names, shrinking to the first.

    Args:
        family: draw only from this family ("noise", "blur", "weather",
            "digital" or "extra"); None for every family.
        include: draw only from these names, families or "all" (the fifteen
            ImageNet-C benchmark corruptions); None for every corruption.
        exclude: names, families or "all" never to draw.

    Returns:
        A strategy over the remaining names, in `CORRUPTIONS` order.

    Raises:
        VisionGuardError: an unknown family or name, or nothing left to draw.
    """
    names = list(CORRUPTIONS)
    if family is not None:
        if family not in FAMILIES:
            raise VisionGuardError(
                f"unknown corruption family {family!r}; choose one of "
                f"{', '.join(FAMILIES)}"
            )
        names = [n for n in names if n in FAMILIES[family]]
    if include is not None:
        included = set(resolve_corruptions(include))
        names = [n for n in names if n in included]
    excluded = set(resolve_corruptions(exclude)) if exclude else set()
    names = [n for n in names if n not in excluded]
    if not names:
        raise VisionGuardError(
            f"no corruption is left to draw from (family={family!r}, "
            f"include={include!r}, exclude={exclude!r}); loosen the filters"
        )
    return st.sampled_from(names)


def severities(min_severity: int = 1, max_severity: int = 5) -> st.SearchStrategy[int]:
    """Return a strategy drawing severities from `min_severity` to `max_severity`.

    It shrinks towards `min_severity`.

    Raises:
        VisionGuardError: a bound outside 1-5, not an int, or min above max.
    """
    for bound in (min_severity, max_severity):
        if isinstance(bound, bool) or not isinstance(bound, int) or not 1 <= bound <= 5:
            raise VisionGuardError(
                f"severity bounds must be integers from 1 to 5, got {bound!r}"
            )
    if min_severity > max_severity:
        raise VisionGuardError(
            f"min_severity {min_severity} is above max_severity {max_severity}"
        )
    return st.integers(min_value=min_severity, max_value=max_severity)


def corruption_cases(
    family: str | None = None,
    include: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] = (),
    min_severity: int = 1,
    max_severity: int = 5,
) -> st.SearchStrategy[tuple[str, int]]:
    """Return a strategy drawing (name, severity) pairs, shrinking to the mildest.

    The arguments are those of `corruption_names` and `severities`.
    """
    return st.tuples(
        corruption_names(family=family, include=include, exclude=exclude),
        severities(min_severity, max_severity),
    )
