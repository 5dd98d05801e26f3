"""Image corruptions for robustness gates: ImageNet-C and a few more.

The fifteen ImageNet-C benchmark corruptions and its four held-out extras
(Hendrycks & Dietterich 2019, parameters from `imagecorruptions` 1.1.2), plus
`low_light` and `occlusion`, batched in torch on any device. See
`docs/corruptions.md` for each corruption, how its parameters scale with the
image size, and how it compares with the reference implementation.

Example:
    >>> import torch
    >>> from pytest_visionguard.corruptions import corrupt, resolve_corruptions
    >>> images = torch.zeros(4, 3, 64, 64, dtype=torch.uint8)
    >>> corrupt(images, "fog", 2, seed=0).shape
    torch.Size([4, 3, 64, 64])
    >>> resolve_corruptions("noise")
    ('gaussian_noise', 'shot_noise', 'impulse_noise', 'speckle_noise')
"""

from __future__ import annotations

from pytest_visionguard.corruptions import blur  # noqa: F401  (registers)
from pytest_visionguard.corruptions import digital  # noqa: F401  (registers)
from pytest_visionguard.corruptions import extra  # noqa: F401  (registers)
from pytest_visionguard.corruptions import noise  # noqa: F401  (registers)
from pytest_visionguard.corruptions import weather  # noqa: F401  (registers)
from pytest_visionguard.corruptions._api import corrupt
from pytest_visionguard.corruptions._api import size_scale
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import CorruptionSpec
from pytest_visionguard.corruptions._registry import families
from pytest_visionguard.corruptions._registry import get_spec
from pytest_visionguard.corruptions._registry import registered_specs
from pytest_visionguard.corruptions._registry import resolve_corruptions

CORRUPTIONS: tuple[str, ...] = tuple(spec.name for spec in registered_specs())
"""All corruption names: the 15 benchmark ones, the 4 extras, low_light, occlusion."""

BENCHMARK_CORRUPTIONS: tuple[str, ...] = tuple(
    spec.name for spec in registered_specs() if spec.benchmark
)
"""The 15 ImageNet-C benchmark corruptions in the literature's order."""

FAMILIES: dict[str, tuple[str, ...]] = families()
"""Corruption names by family: noise, blur, weather, digital (as in ImageNet-C,
each with its held-out extra) and extra (low_light, occlusion)."""

__all__ = [
    "BENCHMARK_CORRUPTIONS",
    "CORRUPTIONS",
    "FAMILIES",
    "CorruptionContext",
    "CorruptionSpec",
    "corrupt",
    "get_spec",
    "resolve_corruptions",
    "size_scale",
]
