"""Blur corruptions: defocus, glass, motion, zoom and Gaussian blur.

Parameters are the published ImageNet-C ones (Hendrycks & Dietterich 2019,
`imagecorruptions` 1.1.2 `corruptions.py`), chosen for 224 px images. Kernel
radii, Gaussian sigmas and shuffle distances are multiplied by the size scale
`s = max(min(H, W) / 224, 0.4)`; zoom blur is relative to the image and does
not scale.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from pytest_visionguard.corruptions._ops import clipped_zoom_taps
from pytest_visionguard.corruptions._ops import filter2d
from pytest_visionguard.corruptions._ops import gaussian_filter
from pytest_visionguard.corruptions._ops import motion_blur_images
from pytest_visionguard.corruptions._ops import resample_linear
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import register
from pytest_visionguard.corruptions.noise import IMAGENET_C

_SUPERSAMPLED_BELOW = 3.0
"""Disk radius (px) under which the defocus disk is rasterised by area coverage."""


@register(
    "defocus_blur",
    "blur",
    ((3, 0.1), (4, 0.5), (6, 0.5), (8, 0.5), (10, 0.5)),
    deterministic=True,
    benchmark=True,
    source=IMAGENET_C,
)
def defocus_blur(
    images: torch.Tensor, parameter: tuple[float, float], context: CorruptionContext
) -> torch.Tensor:
    """Convolve with a disk of radius `radius`, anti-aliased by a Gaussian.

    The parameter is (disk radius in px, anti-aliasing sigma in px). The radius
    scales with the image: `radius * s`. The anti-aliasing sigma is a
    sub-pixel smoothing of the disk's edge and does not scale. A disk of 3 px
    or more is rasterised as in the reference (pixels whose centre is inside);
    a smaller one by its area coverage of each pixel, because a 1 px binary
    disk is a single pixel. Borders are mirrored (OpenCV's default).
    """
    radius, alias_sigma = parameter
    kernel = disk_kernel(context.scaled(radius), alias_sigma)
    return filter2d(images, kernel.to(images.dtype), "mirror")


def disk_kernel(radius: float, alias_sigma: float) -> torch.Tensor:
    """Return `imagecorruptions`' anti-aliased disk kernel (float32, sums to 1)."""
    if radius <= 8:
        half = min(8, math.ceil(radius) + 2)
        smoothing_size = 3
    else:
        half = math.ceil(radius)
        smoothing_size = 5
    samples = 1 if radius >= _SUPERSAMPLED_BELOW else 8
    offsets = (torch.arange(samples, dtype=torch.float64) + 0.5) / samples - 0.5
    grid = torch.arange(-half, half + 1, dtype=torch.float64)
    points = (grid.view(-1, 1) + offsets.view(1, -1)).reshape(-1)
    inside = (points.view(-1, 1) ** 2 + points.view(1, -1) ** 2) <= radius**2
    coverage = inside.to(torch.float64).view(2 * half + 1, samples, -1, samples)
    disk = coverage.mean(dim=(1, 3))
    disk = (disk / disk.sum()).to(torch.float32)
    # The reference smooths the disk with cv2.GaussianBlur, mirrored borders.
    smoothing = _opencv_gaussian_kernel(smoothing_size, alias_sigma)
    flat = disk.view(1, 1, *disk.shape)
    flat = filter2d(flat, smoothing.view(-1, 1), "mirror")
    flat = filter2d(flat, smoothing.view(1, -1), "mirror")
    return _trim_zeros(flat.view(disk.shape))


def _trim_zeros(kernel: torch.Tensor) -> torch.Tensor:
    """Drop all-zero outer rows and columns of a centred kernel, keeping it centred."""
    half = kernel.shape[0] // 2
    support = torch.nonzero(kernel)
    reach = int((support - half).abs().max()) if support.numel() else 0
    return kernel[half - reach : half + reach + 1, half - reach : half + reach + 1]


def _opencv_gaussian_kernel(size: int, sigma: float) -> torch.Tensor:
    offsets = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    weights = torch.exp(-(offsets**2) / (2 * sigma**2))
    return (weights / weights.sum()).to(torch.float32)


@register(
    "glass_blur",
    "blur",
    ((0.7, 1, 2), (0.9, 2, 1), (1, 2, 3), (1.1, 3, 2), (1.5, 4, 2)),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def glass_blur(
    images: torch.Tensor,
    parameter: tuple[float, int, int],
    context: CorruptionContext,
) -> torch.Tensor:
    """Blur, shuffle pixels locally `iterations` times, and blur again.

    The parameter is (Gaussian sigma in px, maximum shuffle distance in px,
    iterations); sigma scales as `sigma * s` and the distance as
    `max(distance * s, 0.5)`.
    Each iteration moves the pixels by a true permutation: the pixels of each
    row are sorted by `column + 3 * distance * u` with u uniform, then the
    pixels of each column likewise. The factor 3 makes the damage match the
    reference's within about 20% at 224 px.

    The reference moves pixels with `x[h, w], x[h', w'] = x[h', w'], x[h, w]`
    on numpy views, which copies one pixel over the other instead of swapping
    them, so it duplicates pixels and drifts the image by about half a pixel
    up and left per iteration; a permutation keeps every pixel once.
    """
    sigma, distance, iterations = parameter
    sigma = context.scaled(sigma)
    spread = _SHUFFLE_SPREAD * context.scaled(distance, _MINIMUM_DISTANCE)
    blurred = gaussian_filter(images, sigma)
    for iteration in range(iterations):
        blurred = shuffle_locally(blurred, spread, context, 2 * iteration)
    return gaussian_filter(blurred, sigma)


_SHUFFLE_SPREAD = 3.0
_MINIMUM_DISTANCE = 0.5
"""Shuffle distance floor (px): a shorter shuffle barely moves a pixel."""


def shuffle_locally(
    images: torch.Tensor, spread: float, context: CorruptionContext, stream: int
) -> torch.Tensor:
    """Permute each image's pixels: sort rows, then columns, by position + spread * u.

    A pixel moves by about ±spread / 2 along each axis; the same permutation
    applies to every channel.
    """
    n, c, h, w = images.shape
    columns = torch.arange(w, dtype=images.dtype, device=images.device)
    jitter = context.rng.uniform(stream, h * w, images.dtype).view(n, 1, h, w)
    order = torch.argsort(columns + spread * jitter, dim=-1, stable=True)
    images = torch.gather(images, -1, order.expand(n, c, h, w))
    rows = torch.arange(h, dtype=images.dtype, device=images.device).view(-1, 1)
    jitter = context.rng.uniform(stream + 1, h * w, images.dtype).view(n, 1, h, w)
    order = torch.argsort(rows + spread * jitter, dim=-2, stable=True)
    return torch.gather(images, -2, order.expand(n, c, h, w))


@register(
    "motion_blur",
    "blur",
    ((10, 3), (15, 5), (15, 8), (15, 12), (20, 15)),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def motion_blur(
    images: torch.Tensor, parameter: tuple[float, float], context: CorruptionContext
) -> torch.Tensor:
    """Average along a line at a random angle in [-45, 45) degrees per image.

    The parameter is (radius, sigma) of the reference's `_motion_blur`, which
    replaced ImageMagick's motion blur in `imagecorruptions` 1.0: `2 * radius
    + 1` taps run from the pixel along the line, weighted by a Gaussian of
    the tap's distance with that sigma, edges repeated. Both scale with the
    image: `max(1, round(radius * s))` and `sigma * s`.
    """
    radius, sigma = parameter
    width = 2 * max(1, round(radius * context.scale)) + 1
    angles = context.rng.uniform(0, 1, torch.float64).view(-1) * 90.0 - 45.0
    return motion_blur_images(
        images, width, context.scaled(sigma, 0.1), angles.tolist()
    )


def _zoom_factors(stop: float, step: float) -> tuple[float, ...]:
    return tuple(float(z) for z in np.arange(1, stop, step))


@register(
    "zoom_blur",
    "blur",
    (
        _zoom_factors(1.11, 0.01),
        _zoom_factors(1.16, 0.01),
        _zoom_factors(1.21, 0.02),
        _zoom_factors(1.26, 0.02),
        _zoom_factors(1.31, 0.03),
    ),
    deterministic=True,
    benchmark=True,
    source=IMAGENET_C,
)
def zoom_blur(
    images: torch.Tensor, factors: tuple[float, ...], context: CorruptionContext
) -> torch.Tensor:
    """Average the image with copies of itself zoomed about the centre.

    The parameter is the zoom factors; each copy is the central crop scaled
    up by linear interpolation, as the reference's `clipped_zoom`. Zooming is
    relative to the image, so nothing scales with its size.
    """
    _, _, h, w = images.shape
    total = images.clone()
    for factor in factors:
        rows = clipped_zoom_taps(h, factor, images.device)
        columns = clipped_zoom_taps(w, factor, images.device)
        total += resample_linear(images, rows, columns)
    return total / (len(factors) + 1)


@register(
    "gaussian_blur",
    "blur",
    (1, 2, 3, 4, 6),
    deterministic=True,
    benchmark=False,
    source=IMAGENET_C + " (held-out extra corruption)",
)
def gaussian_blur(
    images: torch.Tensor, sigma: float, context: CorruptionContext
) -> torch.Tensor:
    """Blur with a Gaussian of standard deviation `sigma * s` px, edges repeated.

    The kernel is scipy.ndimage's (truncated at 4 sigma), as scikit-image's
    `filters.gaussian` in the reference uses it.
    """
    return gaussian_filter(images, context.scaled(sigma))
