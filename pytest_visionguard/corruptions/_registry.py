"""The corruption registry: one `CorruptionSpec` per corruption.

A family module defines a corruption function and registers it with
`register`. The registry lists benchmark corruptions first, then by family
(noise, blur, weather, digital, extra), then in registration order, which is
ImageNet-C's own order.
"""

from __future__ import annotations

import dataclasses
import difflib
import numbers
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from pytest_visionguard.corruptions._random import CounterRNG
from pytest_visionguard.errors import VisionGuardError

REFERENCE_SIZE = 224
"""Image side (px) that ImageNet-C's pixel-sized parameters were chosen for."""

MINIMUM_SCALE = 0.4
"""Smallest size scale: images under 90 px get the parameters of a 90 px image.

Below it, pixel-sized parameters shrink under a pixel (a Gaussian blur of
sigma 0.14 px at 32 px does nothing), so small images would barely change; the
floor keeps the damage at 32 px within a factor of 3 of that at 224 px.
"""

SEVERITIES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class CorruptionContext:
    """The inputs of a corruption function besides the images and its parameter.

    Attributes:
        rng: the counter-based random draws, keyed by each image's index.
        scale: the size scale, `max(min(H, W) / 224, 0.4)`; pixel-sized
            parameters (kernel radii, displacements, blob sizes) are multiplied
            by it.
    """

    rng: CounterRNG
    scale: float

    def scaled(self, value: float, minimum: float = 0.0) -> float:
        """Return a pixel-sized parameter multiplied by the size scale."""
        return max(value * self.scale, minimum)


CorruptionFunction = Callable[[torch.Tensor, Any, CorruptionContext], torch.Tensor]
"""`(images, parameter, context) -> corrupted images`.

The images are a floating N×C×H×W tensor with values in [0, 1] and C of 1 or
3; the result has the same shape and dtype and may leave [0, 1] (the caller
clips it).
"""


@dataclass(frozen=True)
class CorruptionSpec:
    """A registered corruption.

    Attributes:
        name: the name users pass to `corrupt`.
        family: "noise", "blur", "weather", "digital" or "extra".
        function: the `CorruptionFunction`.
        parameters: the parameter of each severity, 1 to 5 in order.
        deterministic: True when the output does not depend on the seed.
        benchmark: True for the fifteen ImageNet-C benchmark corruptions.
        source: where the parameters come from.
        uint8_function: an optional faster variant that takes and returns
            uint8 images (0-255) and rounds as the float path does, up to
            exact ties; `corrupt` uses it for uint8 input.
    """

    name: str
    family: str
    function: CorruptionFunction
    parameters: tuple[Any, ...]
    deterministic: bool
    benchmark: bool
    source: str
    uint8_function: CorruptionFunction | None = None

    @property
    def description(self) -> str:
        """The corruption function's docstring."""
        return self.function.__doc__ or ""

    def parameter(self, severity: int) -> Any:
        """Return the parameter of `severity` (1 to 5)."""
        return self.parameters[check_severity(severity) - 1]


FAMILY_NAMES = ("noise", "blur", "weather", "digital", "extra")

_REGISTRY: dict[str, CorruptionSpec] = {}


def register(
    name: str,
    family: str,
    parameters: Sequence[Any],
    *,
    deterministic: bool,
    benchmark: bool,
    source: str,
) -> Callable[[CorruptionFunction], CorruptionFunction]:
    """Register the decorated function as corruption `name`."""
    if family not in FAMILY_NAMES:
        raise ValueError(f"unknown corruption family {family!r}")
    if len(parameters) != len(SEVERITIES):
        raise ValueError(f"{name} needs one parameter per severity, 1 to 5")
    if name in _REGISTRY:
        raise ValueError(f"corruption {name!r} is registered twice")

    def decorate(function: CorruptionFunction) -> CorruptionFunction:
        _REGISTRY[name] = CorruptionSpec(
            name=name,
            family=family,
            function=function,
            parameters=tuple(parameters),
            deterministic=deterministic,
            benchmark=benchmark,
            source=source,
        )
        return function

    return decorate


def register_uint8(name: str) -> Callable[[CorruptionFunction], CorruptionFunction]:
    """Register the decorated function as the uint8 variant of corruption `name`."""

    def decorate(function: CorruptionFunction) -> CorruptionFunction:
        _REGISTRY[name] = dataclasses.replace(_REGISTRY[name], uint8_function=function)
        return function

    return decorate


def registered_specs() -> tuple[CorruptionSpec, ...]:
    """Return the specs: benchmark corruptions first, then by family, then as registered.

    Within a family module the benchmark corruptions are registered in the
    literature's order, so this order is ImageNet-C's own.
    """
    specs = list(_REGISTRY.values())
    return tuple(
        sorted(
            specs,
            key=lambda s: (
                not s.benchmark,
                FAMILY_NAMES.index(s.family),
                specs.index(s),
            ),
        )
    )


def get_spec(name: str) -> CorruptionSpec:
    """Return the spec of corruption `name`.

    Raises:
        VisionGuardError: `name` is not a registered corruption; the message
            suggests the closest name.
    """
    if not isinstance(name, str):
        raise VisionGuardError(
            f"a corruption name must be a string, got {name!r} ({type(name).__name__})"
        )
    spec = _REGISTRY.get(name)
    if spec is None and (name in FAMILY_NAMES or name == "all"):
        raise VisionGuardError(
            f"{name!r} names several corruptions, but one corruption is needed "
            f"here; pick one of {', '.join(resolve_corruptions(name))}, or pass "
            f"{name!r} to a robustness gate, which accepts families"
        )
    if spec is None:
        raise VisionGuardError(_unknown_name_message(name))
    return spec


def _unknown_name_message(name: str) -> str:
    choices = list(_REGISTRY) + list(FAMILY_NAMES) + ["all"]
    close = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return (
        f"unknown corruption {name!r}; {hint}"
        f"choose one of {', '.join(_REGISTRY)}, a family "
        f"({', '.join(FAMILY_NAMES)}) or 'all'"
    )


def families() -> dict[str, tuple[str, ...]]:
    """Return each family's corruption names, in registry order."""
    specs = registered_specs()
    return {
        family: tuple(s.name for s in specs if s.family == family)
        for family in FAMILY_NAMES
    }


def resolve_corruptions(spec: str | Sequence[str]) -> tuple[str, ...]:
    """Expand corruption names, family names and "all" into corruption names.

    Args:
        spec: one name, a sequence of names, a family name ("noise", "blur",
            "weather", "digital", "extra") or "all", which means the fifteen
            ImageNet-C benchmark corruptions. Sequences may mix all of these.

    Returns:
        The corruption names, duplicates removed, in first-seen order.

    Raises:
        VisionGuardError: a name is unknown (the closest one is suggested), or
            `spec` is empty or not a string or sequence of strings.

    Example:
        >>> resolve_corruptions(["gaussian_noise", "blur", "gaussian_noise"])
        ('gaussian_noise', 'defocus_blur', 'glass_blur', 'motion_blur', \
'zoom_blur', 'gaussian_blur')
    """
    items = [spec] if isinstance(spec, str) else _as_list(spec)
    if not items:
        raise VisionGuardError(
            "no corruptions given; name at least one corruption, a family or 'all'"
        )
    groups = families()
    resolved: dict[str, None] = {}
    for item in items:
        if not isinstance(item, str):
            raise VisionGuardError(
                f"a corruption name must be a string, got {item!r} "
                f"({type(item).__name__})"
            )
        if item == "all":
            names: tuple[str, ...] = tuple(
                s.name for s in registered_specs() if s.benchmark
            )
        elif item in groups:
            names = groups[item]
        else:
            names = (get_spec(item).name,)
        resolved.update(dict.fromkeys(names))
    return tuple(resolved)


def _as_list(spec: object) -> list[object]:
    if isinstance(spec, Sequence):
        return list(spec)
    raise VisionGuardError(
        f"corruptions must be a name or a sequence of names, got {spec!r} "
        f"({type(spec).__name__})"
    )


def check_severity(severity: object) -> int:
    """Return `severity` as an int if it is an integer from 1 to 5.

    Raises:
        VisionGuardError: `severity` is a bool, not an integer, or outside 1-5.
    """
    if isinstance(severity, bool) or not isinstance(severity, numbers.Integral):
        raise VisionGuardError(
            f"severity must be an integer from 1 to 5, got {severity!r} "
            f"({type(severity).__name__})"
        )
    if int(severity) not in SEVERITIES:
        raise VisionGuardError(
            f"severity must be an integer from 1 to 5, got {severity}"
        )
    return int(severity)
