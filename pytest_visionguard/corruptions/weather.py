"""Weather corruptions: snow, frost, fog, brightness and spatter.

Parameters are the published ImageNet-C ones (Hendrycks & Dietterich 2019,
`imagecorruptions` 1.1.2 `corruptions.py`), chosen for 224 px images; pixel
sizes are multiplied by the size scale `s = max(min(H, W) / 224, 0.4)` as each
function's docstring describes.
"""

from __future__ import annotations

import math

import torch

from pytest_visionguard.corruptions._frost import frost_layers
from pytest_visionguard.corruptions._ops import GRAY_WEIGHTS_IMAGECORRUPTIONS
from pytest_visionguard.corruptions._ops import GRAY_WEIGHTS_OPENCV
from pytest_visionguard.corruptions._ops import box_filter3
from pytest_visionguard.corruptions._ops import clipped_zoom_taps
from pytest_visionguard.corruptions._ops import color_tensor
from pytest_visionguard.corruptions._ops import dilate
from pytest_visionguard.corruptions._ops import filter2d
from pytest_visionguard.corruptions._ops import gaussian_attenuation
from pytest_visionguard.corruptions._ops import gaussian_filter
from pytest_visionguard.corruptions._ops import luma
from pytest_visionguard.corruptions._ops import motion_blur_images
from pytest_visionguard.corruptions._ops import resample_linear
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import register
from pytest_visionguard.corruptions.noise import IMAGENET_C


@register(
    "snow",
    "weather",
    (
        (0.1, 0.3, 3, 0.5, 10, 4, 0.8),
        (0.2, 0.3, 2, 0.5, 12, 4, 0.7),
        (0.55, 0.3, 4, 0.9, 12, 8, 0.7),
        (0.55, 0.3, 4.5, 0.85, 12, 8, 0.65),
        (0.55, 0.3, 2.5, 0.85, 12, 12, 0.55),
    ),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def snow(
    images: torch.Tensor, parameter: tuple[float, ...], context: CorruptionContext
) -> torch.Tensor:
    """Add motion-blurred snowflakes and whiten the image towards grey.

    The parameter is (flake mean, flake std, flake zoom, threshold, blur
    radius, blur sigma, blend). A Gaussian field of the flake mean and std is
    zoomed about the centre, zeroed below the threshold, blurred along a line
    at a random angle in [-135, -45) degrees, and added to the image twice
    (as is and rotated by 180 degrees) after the image is blended with
    `max(x, 1.5 * gray + 0.5)`. The blur radius scales as
    `max(1, round(radius * s))` and the blur sigma as `sigma * s`. The zoom
    (about the flake size in px) does not scale: linear interpolation smooths
    the field by an amount that depends on the zoom, so a smaller zoom would
    put more of it above the threshold and change how much snow falls.
    """
    mean, std, zoom, threshold, radius, sigma, blend = parameter
    n, _, h, w = images.shape
    rng = context.rng
    flakes = mean + std * rng.normal(0, h * w, images.dtype).view(n, 1, h, w)
    flakes = resample_linear(
        flakes,
        clipped_zoom_taps(h, zoom, images.device),
        clipped_zoom_taps(w, zoom, images.device),
    )
    flakes = torch.where(flakes < threshold, 0.0, flakes).clamp_(0.0, 1.0)
    width = 2 * max(1, round(radius * context.scale)) + 1
    angles = rng.uniform(1, 1, torch.float64).view(-1) * 90.0 - 135.0
    flakes = motion_blur_images(
        flakes, width, context.scaled(sigma, 0.1), angles.tolist()
    )
    gray = luma(images, GRAY_WEIGHTS_OPENCV)
    whitened = blend * images + (1 - blend) * torch.maximum(images, gray * 1.5 + 0.5)
    return whitened + flakes + flakes.flip(-1, -2)


@register(
    "frost",
    "weather",
    ((1, 0.4), (0.8, 0.6), (0.7, 0.7), (0.65, 0.7), (0.6, 0.75)),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C + "; procedural frost textures in place of its photographs",
)
def frost(
    images: torch.Tensor, parameter: tuple[float, float], context: CorruptionContext
) -> torch.Tensor:
    """Blend a frost texture into the image: `c0 * x + c1 * frost`.

    The parameter is (c0, c1). Each image gets one of five procedural,
    tileable frost textures (the reference picks one of five photographs), a
    random crop and one of eight flips and transpositions. Texture features
    scale with the image: the crop covers `H / s` × `W / s` texture pixels,
    drawn at the scale of a 224 px image, averaged down (or enlarged
    bilinearly) to the image. Grayscale images get the texture's luma.
    """
    image_weight, frost_weight = parameter
    _, c, h, w = images.shape
    draws = context.rng.integers(0, 4, 0, 1 << 24)
    layers = frost_layers(draws, h, w, context.scale, images)
    if c == 1:
        layers = luma(layers, GRAY_WEIGHTS_IMAGECORRUPTIONS)
    return image_weight * images + frost_weight * layers


@register(
    "fog",
    "weather",
    ((1.5, 2), (2.0, 2), (2.5, 1.7), (2.5, 1.5), (3.0, 1.4)),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def fog(
    images: torch.Tensor, parameter: tuple[float, float], context: CorruptionContext
) -> torch.Tensor:
    """Add a plasma fractal (diamond-square) haze and rescale.

    The parameter is (haze strength, wibble decay); a smaller decay makes the
    haze rougher. The fractal covers the next power of two at or above the
    longer side and is cropped to the image, so it is relative to the image
    size and nothing else scales. Each image becomes
    `(x + strength * haze) * max(x) / (max(x) + strength)`.
    """
    strength, decay = parameter
    n, _, h, w = images.shape
    size = 1 << max(0, math.ceil(math.log2(max(h, w))))
    haze = plasma_fractal(n, size, decay, context).to(images.dtype)
    haze = haze[:, :h, :w].unsqueeze(1)
    peak = images.amax(dim=(1, 2, 3), keepdim=True)
    return (images + strength * haze) * peak / (peak + strength)


def plasma_fractal(
    count: int, size: int, decay: float, context: CorruptionContext
) -> torch.Tensor:
    """Return `count` diamond-square height maps, count×size×size, scaled to [0, 1].

    The steps and the noise amplitude (wibble 100, noise `wibble * U(-wibble,
    wibble)`, wibble divided by `decay` per level) are those of the
    reference's `plasma_fractal`.
    """
    device = context.rng.device
    heights = torch.zeros(count, size, size, dtype=torch.float32, device=device)
    step = size
    wibble = 100.0
    level = 0
    while step >= 2:
        half = step // 2
        corners = heights[:, 0::step, 0::step]
        squares = corners + corners.roll(-1, dims=1)
        squares = squares + squares.roll(-1, dims=2)
        heights[:, half::step, half::step] = _wibbled(squares, wibble, context, level)

        centres = heights[:, half::step, half::step]
        corners = heights[:, 0::step, 0::step]
        rows = centres + centres.roll(1, dims=1) + corners + corners.roll(-1, dims=2)
        heights[:, 0::step, half::step] = _wibbled(rows, wibble, context, level + 1)
        columns = centres + centres.roll(1, dims=2) + corners + corners.roll(-1, dims=1)
        heights[:, half::step, 0::step] = _wibbled(columns, wibble, context, level + 2)

        step = half
        wibble /= decay
        level += 3
    lowest = heights.amin(dim=(1, 2), keepdim=True)
    heights = heights - lowest
    return heights / heights.amax(dim=(1, 2), keepdim=True).clamp(min=1e-12)


def _wibbled(
    sums: torch.Tensor, wibble: float, context: CorruptionContext, stream: int
) -> torch.Tensor:
    n, rows, columns = sums.shape
    uniform = context.rng.uniform(stream, rows * columns, torch.float32)
    noise = (2.0 * uniform - 1.0).view(n, rows, columns)
    return sums / 4 + wibble * wibble * noise


@register(
    "brightness",
    "weather",
    (0.1, 0.2, 0.3, 0.4, 0.5),
    deterministic=True,
    benchmark=True,
    source=IMAGENET_C,
)
def brightness(
    images: torch.Tensor, shift: float, context: CorruptionContext
) -> torch.Tensor:
    """Add `shift` to the HSV value (the channel maximum), clipped at 1.

    Hue and saturation are kept, so each RGB pixel is scaled by
    `min(v + shift, 1) / v` (a black pixel becomes grey); this equals the
    reference's scikit-image `rgb2hsv` / `hsv2rgb` round trip. A grayscale
    value gets `min(x + shift, 1)`. Size-independent.
    """
    value = images.amax(dim=1, keepdim=True)
    brighter = (value + shift).clamp_(max=1.0)
    ratio = brighter / value.clamp(min=1e-12)
    return torch.where(value > 0, images * ratio, brighter.expand_as(images))


@register(
    "spatter",
    "weather",
    (
        (0.65, 0.3, 4, 0.69, 0.6, 0),
        (0.65, 0.3, 3, 0.68, 0.6, 0),
        (0.65, 0.3, 2, 0.68, 0.5, 0),
        (0.65, 0.3, 1, 0.65, 1.5, 1),
        (0.67, 0.4, 1, 0.65, 1.5, 1),
    ),
    deterministic=False,
    benchmark=False,
    source=IMAGENET_C + " (held-out extra corruption)",
)
def spatter(
    images: torch.Tensor, parameter: tuple[float, ...], context: CorruptionContext
) -> torch.Tensor:
    """Splash water drops (severities 1-3) or mud (4-5) on the image.

    The parameter is (liquid mean, liquid std, blob sigma, threshold,
    intensity, mud flag). A Gaussian field is blurred with the blob sigma and
    thresholded into blobs. Water adds a pale turquoise whose strength follows
    an embossed, histogram-equalised distance to the blob edges; mud paints
    the blobs brown, the mask blurred by the intensity as a sigma.

    The blob sigma and the mud's mask sigma scale as `sigma * s`; the field's
    fluctuations are renormalised to their strength at 224 px, so blobs cover
    as much of the image at any size. The reference finds blob edges with
    OpenCV's Canny detector and distance transform; here the edges are the
    blobs' inner boundary and the distance is the octagonal distance from
    repeated 3×3 dilations, so water drops are shaded slightly differently.
    """
    mean, std, sigma, threshold, intensity, mud = parameter
    n, c, h, w = images.shape
    blob_sigma = context.scaled(sigma)
    noise = context.rng.normal(0, h * w, images.dtype).view(n, 1, h, w)
    renormalise = gaussian_attenuation(sigma, 4.0) / gaussian_attenuation(
        blob_sigma, 4.0
    )
    liquid = mean + std * renormalise * gaussian_filter(noise, blob_sigma)
    liquid = torch.where(liquid < threshold, 0.0, liquid)
    if mud:
        return _mud(images, liquid > threshold, context.scaled(intensity))
    return _water(images, liquid, intensity)


def _water(
    images: torch.Tensor, liquid: torch.Tensor, intensity: float
) -> torch.Tensor:
    level = torch.floor((liquid * 255).clamp(0, 255))
    shading = _edge_shading(level > 0)
    strength = level * shading
    peak = strength.amax(dim=(2, 3), keepdim=True)
    strength = torch.where(peak > 0, strength / peak.clamp(min=1e-12), 0.0)
    color = color_tensor((175 / 255, 238 / 255, 238 / 255), images.shape[1], images)
    return images + (intensity * strength) * color


def _edge_shading(blobs: torch.Tensor) -> torch.Tensor:
    """Return the reference's embossed distance-to-edge map (0-255) for blob masks."""
    blob_mask = blobs.to(torch.float32)
    eroded = 1.0 - dilate(1.0 - blob_mask, "square")
    edges = blob_mask - eroded
    # Only distances within a few px of the deepest blob pixel reach the
    # result (through the 3×3 blur, emboss and blur); farther ones count in
    # the histogram's total only, so they are set to the cap of 20.
    depth = 1
    while depth < 20 and bool(eroded.any()):
        eroded = 1.0 - dilate(1.0 - eroded, "square")
        depth += 1
    distance = _distance_to(edges, min(20, depth + 6))
    distance = torch.where(distance >= min(20, depth + 6), 20.0, distance)
    distance = torch.floor(box_filter3(distance))
    distance = _equalize_histogram(distance)
    emboss = torch.tensor([[-2.0, -1.0, 0.0], [-1.0, 1.0, 1.0], [0.0, 1.0, 2.0]])
    distance = torch.round(filter2d(distance, emboss, "mirror")).clamp_(0, 255)
    return torch.round(box_filter3(distance))


def _distance_to(targets: torch.Tensor, limit: int) -> torch.Tensor:
    """Return the octagonal distance to the nearest target pixel, capped at `limit`."""
    reached = targets
    distance = torch.zeros_like(targets)
    for step in range(limit):
        distance += 1.0 - reached
        reached = dilate(reached, "square" if step % 2 else "plus")
    return distance


def _equalize_histogram(levels: torch.Tensor) -> torch.Tensor:
    """Equalise each image's 0-255 levels as `cv2.equalizeHist` does."""
    n = levels.shape[0]
    flat = levels.reshape(n, -1).to(torch.int64)
    histogram = torch.zeros(n, 256, dtype=torch.float64, device=levels.device)
    histogram.scatter_add_(1, flat, torch.ones_like(flat, dtype=torch.float64))
    cumulative = histogram.cumsum(1)
    first = (histogram > 0).to(torch.int8).argmax(1, keepdim=True)
    first_count = histogram.gather(1, first)
    total = float(flat.shape[1])
    scale = 255.0 / (total - first_count).clamp(min=1.0)
    table = torch.round((cumulative - first_count) * scale).clamp_(0, 255)
    table = torch.where(first_count >= total, first.to(table.dtype), table)
    return table.gather(1, flat).to(levels.dtype).view_as(levels)


def _mud(images: torch.Tensor, blobs: torch.Tensor, sigma: float) -> torch.Tensor:
    mask = gaussian_filter(blobs.to(images.dtype), sigma)
    mask = torch.where(mask < 0.8, 0.0, mask)
    color = color_tensor((63 / 255, 42 / 255, 20 / 255), images.shape[1], images)
    return images * (1 - mask) + mask * color
