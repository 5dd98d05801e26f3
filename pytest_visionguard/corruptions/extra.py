"""Corruptions beyond ImageNet-C: low light and occlusion.

Their parameters are this package's own, not a published benchmark's; each
function's docstring gives them.
"""

from __future__ import annotations

import math

import torch

from pytest_visionguard.corruptions._ops import GRAY_WEIGHTS_OPENCV
from pytest_visionguard.corruptions._ops import luma
from pytest_visionguard.corruptions._random import poisson
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import register
from pytest_visionguard.corruptions.noise import draw_normal

_SRGB_GAMMA = 2.2


@register(
    "low_light",
    "extra",
    (
        (0.5, 500.0, 0.001),
        (0.3, 250.0, 0.002),
        (0.15, 100.0, 0.003),
        (0.08, 50.0, 0.004),
        (0.04, 25.0, 0.005),
    ),
    deterministic=False,
    benchmark=False,
    source="pytest-visionguard; Poisson-Gaussian sensor model (Foi et al. 2008)",
)
def low_light(
    images: torch.Tensor,
    parameter: tuple[float, float, float],
    context: CorruptionContext,
) -> torch.Tensor:
    """Underexpose the image and add the sensor noise of a dark capture.

    The parameter is (exposure, photons, read noise). Values are decoded to
    linear light with a 2.2 gamma and multiplied by the exposure (0.5 down to
    0.04 over severities 1-5). A pixel that would be white after that
    exposure collects `photons` photo-electrons (500 down to 25), so the shot
    noise is Poisson; read noise is Gaussian with the given std in linear
    units of full scale (0.001 up to 0.005). The result is re-encoded with
    the 2.2 gamma, which darkens the image and makes its shadows noisy.
    Size-independent.
    """
    exposure, photons, read_noise = parameter
    n = images.shape[0]
    linear = images.clamp(min=0.0) ** _SRGB_GAMMA
    rates = (linear * photons).reshape(n, -1)
    counts = poisson(context.rng, 1, rates, images.dtype).view_as(images)
    signal = counts * (exposure / photons)
    signal = signal + read_noise * draw_normal(images, context)
    return signal.clamp(min=0.0) ** (1.0 / _SRGB_GAMMA)


@register(
    "occlusion",
    "extra",
    ((1, 0.05), (2, 0.10), (3, 0.20), (4, 0.30), (5, 0.40)),
    deterministic=False,
    benchmark=False,
    source="pytest-visionguard; random rectangles in the manner of Cutout "
    "(DeVries & Taylor 2017)",
)
def occlusion(
    images: torch.Tensor, parameter: tuple[int, float], context: CorruptionContext
) -> torch.Tensor:
    """Cover the image with solid rectangles of random colour.

    The parameter is (patches, area): severities 1-5 draw 1 to 5 patches that
    together have 5, 10, 20, 30 and 40% of the image's area (less where they
    overlap). Each patch has an aspect ratio drawn log-uniformly from 1:2 to
    2:1, a uniform position inside the image and a uniform RGB colour (its
    luma on grayscale images). Sizes are fractions of the image, so nothing
    depends on its size.
    """
    patches, area = parameter
    n, c, h, w = images.shape
    draws = context.rng.uniform(0, 6 * patches, torch.float64).view(n, patches, 6)
    rows = torch.arange(h, device=images.device).view(1, 1, h, 1)
    columns = torch.arange(w, device=images.device).view(1, 1, 1, w)
    out = images
    for patch in range(patches):
        top, left, bottom, right = _patch_box(draws[:, patch], area / patches, h, w)
        inside = (rows >= top) & (rows < bottom) & (columns >= left) & (columns < right)
        color = draws[:, patch, 3:6].to(images.dtype).view(n, 3, 1, 1)
        if c == 1:
            color = luma(color, GRAY_WEIGHTS_OPENCV)
        out = torch.where(inside, color, out)
    return out


def _patch_box(
    draws: torch.Tensor, area: float, height: int, width: int
) -> tuple[torch.Tensor, ...]:
    """Return each image's patch bounds (top, left, bottom, right), N×1×1×1 each."""
    aspect = torch.exp((2.0 * draws[:, 0] - 1.0) * math.log(2.0))
    pixels = area * height * width
    patch_h = torch.sqrt(pixels * aspect).round().clamp(1, height)
    patch_w = torch.sqrt(pixels / aspect).round().clamp(1, width)
    top = torch.floor(draws[:, 1] * (height - patch_h + 1))
    left = torch.floor(draws[:, 2] * (width - patch_w + 1))
    bounds = (top, left, top + patch_h, left + patch_w)
    return tuple(b.to(torch.int64).view(-1, 1, 1, 1) for b in bounds)
