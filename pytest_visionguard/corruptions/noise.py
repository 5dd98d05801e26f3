"""Noise corruptions: Gaussian, shot, impulse and speckle noise.

Parameters are the published ImageNet-C ones (Hendrycks & Dietterich 2019,
`imagecorruptions` 1.1.2 `corruptions.py`). Noise acts per pixel and channel,
so none of these depends on the image size; a grayscale image gets one draw per
pixel.
"""

from __future__ import annotations

import torch

from pytest_visionguard.corruptions._random import poisson
from pytest_visionguard.corruptions._random import poisson_of_levels
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import register

IMAGENET_C = "Hendrycks & Dietterich 2019, ImageNet-C; imagecorruptions 1.1.2"


def draw_normal(images: torch.Tensor, context: CorruptionContext) -> torch.Tensor:
    """Return one standard normal per element, shaped like `images`."""
    n = images.shape[0]
    normals = context.rng.normal(0, images[0].numel(), images.dtype)
    return normals.view(n, *images.shape[1:])


@register(
    "gaussian_noise",
    "noise",
    (0.08, 0.12, 0.18, 0.26, 0.38),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def gaussian_noise(
    images: torch.Tensor, sigma: float, context: CorruptionContext
) -> torch.Tensor:
    """Add zero-mean Gaussian noise of standard deviation `sigma` (in [0, 1] units).

    Size-independent.
    """
    return images + sigma * draw_normal(images, context)


@register(
    "shot_noise",
    "noise",
    (60, 25, 12, 5, 3),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def shot_noise(
    images: torch.Tensor, photons: float, context: CorruptionContext
) -> torch.Tensor:
    """Replace each value x by Poisson(x * photons) / photons (photon noise).

    `photons` is the expected count at full intensity; fewer photons means
    more noise. Size-independent.
    """
    n = images.shape[0]
    levels = torch.round(images * 255)
    if torch.equal(levels / 255, images):
        # 8-bit images (the usual case) draw through a table of their 256 rates.
        flat = levels.reshape(n, -1).to(torch.int64)
        counts = poisson_of_levels(context.rng, 0, flat, photons).to(images.dtype)
    else:
        rates = images.reshape(n, -1) * photons
        counts = poisson(context.rng, 0, rates, images.dtype)
    return (counts / photons).view_as(images)


@register(
    "impulse_noise",
    "noise",
    (0.03, 0.06, 0.09, 0.17, 0.27),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def impulse_noise(
    images: torch.Tensor, amount: float, context: CorruptionContext
) -> torch.Tensor:
    """Set a fraction `amount` of the values to 0 or 1 (salt and pepper), half each.

    As scikit-image's `random_noise(mode="s&p")`, which the reference calls,
    each channel value is flipped independently. Size-independent.
    """
    n = images.shape[0]
    words = context.rng.bits(0, images[0].numel()).view(n, *images.shape[1:])
    uniform = ((words >> 8) & 0xFFFFFF).to(images.dtype).add_(0.5) / (1 << 24)
    salt = (words & 1).to(torch.bool)
    flipped = uniform < amount
    out = torch.where(flipped & salt, torch.ones_like(images), images)
    return torch.where(flipped & ~salt, torch.zeros_like(images), out)


@register(
    "speckle_noise",
    "noise",
    (0.15, 0.2, 0.35, 0.45, 0.6),
    deterministic=False,
    benchmark=False,
    source=IMAGENET_C + " (held-out extra corruption)",
)
def speckle_noise(
    images: torch.Tensor, sigma: float, context: CorruptionContext
) -> torch.Tensor:
    """Add multiplicative Gaussian noise: x + x * N(0, sigma).

    Size-independent.
    """
    return images + images * (sigma * draw_normal(images, context))
