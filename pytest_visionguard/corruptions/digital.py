"""Digital corruptions: contrast, elastic transform, pixelate, JPEG and saturate.

Parameters are the published ImageNet-C ones (Hendrycks & Dietterich 2019,
`imagecorruptions` 1.1.2 `corruptions.py`). Only the elastic transform has
pixel-sized parameters; the others are relative to the image.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torchvision.io import decode_jpeg
from torchvision.io import encode_jpeg

from pytest_visionguard.corruptions._ops import gaussian_attenuation
from pytest_visionguard.corruptions._ops import gaussian_filter
from pytest_visionguard.corruptions._registry import REFERENCE_SIZE
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import register
from pytest_visionguard.corruptions._registry import register_uint8
from pytest_visionguard.corruptions.noise import IMAGENET_C


@register(
    "contrast",
    "digital",
    (0.4, 0.3, 0.2, 0.1, 0.05),
    deterministic=True,
    benchmark=True,
    source=IMAGENET_C,
)
def contrast(
    images: torch.Tensor, factor: float, context: CorruptionContext
) -> torch.Tensor:
    """Scale each channel's deviation from its mean by `factor`.

    The mean is taken per image and channel, as in the reference.
    Size-independent.
    """
    means = images.mean(dim=(2, 3), keepdim=True)
    return (images - means) * factor + means


_ELASTIC_SIGMA = 0.01
_ELASTIC_SPREAD = 0.005
_ELASTIC_TRUNCATE = 3.0


@register(
    "elastic_transform",
    "digital",
    (250 * 0.05, 250 * 0.065, 250 * 0.085, 250 * 0.1, 250 * 0.12),
    deterministic=False,
    benchmark=True,
    source=IMAGENET_C,
)
def elastic_transform(
    images: torch.Tensor, alpha: float, context: CorruptionContext
) -> torch.Tensor:
    """Warp the image by a smooth random displacement field.

    As the reference: a field uniform in ±`0.005 * 224` px per axis, smoothed
    by a Gaussian of sigma `0.01 * 224` px (truncated at 3 sigma, borders
    reflected), times `alpha`, sampled bilinearly with reflected borders.

    The reference derives the sigma and the spread from the image's own size,
    which keeps the displacement near 1-2 px at any size while its smoothness
    shrinks, so at 64 px it scrambles the image pixel by pixel. Here both the
    smoothing sigma and the displacement scale with `s`: sigma is `2.24 * s`
    px and the spread is renormalised for the smoothing's attenuation, so the
    displacement is `s` times its 224 px value. At 224 px this is the
    reference's field.
    """
    n, c, h, w = images.shape
    sigma = _ELASTIC_SIGMA * REFERENCE_SIZE * context.scale
    reference_sigma = _ELASTIC_SIGMA * REFERENCE_SIZE
    spread = _ELASTIC_SPREAD * REFERENCE_SIZE * context.scale
    spread *= gaussian_attenuation(reference_sigma, _ELASTIC_TRUNCATE)
    spread /= gaussian_attenuation(sigma, _ELASTIC_TRUNCATE)
    shifts = []
    for stream in (0, 1):
        field = context.rng.uniform(stream, h * w, images.dtype).view(n, 1, h, w)
        field = (2.0 * field - 1.0) * spread
        smooth = gaussian_filter(field, sigma, "reflect", _ELASTIC_TRUNCATE)
        shifts.append(smooth[:, 0] * alpha)
    return sample_bilinear(images, shifts[0], shifts[1])


def sample_bilinear(
    images: torch.Tensor, shift_y: torch.Tensor, shift_x: torch.Tensor
) -> torch.Tensor:
    """Sample each pixel at (y + shift_y, x + shift_x), borders reflected.

    Matches `scipy.ndimage.map_coordinates(order=1, mode="reflect")`.
    """
    n, c, h, w = images.shape
    rows = torch.arange(h, dtype=images.dtype, device=images.device).view(1, -1, 1)
    columns = torch.arange(w, dtype=images.dtype, device=images.device)
    y0, y1, wy = _reflected_taps(rows + shift_y, h)
    x0, x1, wx = _reflected_taps(columns + shift_x, w)
    flat = images.reshape(n, c, h * w)

    def at(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        index = (y * w + x).view(n, 1, h * w).expand(n, c, h * w)
        return torch.gather(flat, 2, index).view(n, c, h, w)

    top = torch.lerp(at(y0, x0), at(y0, x1), wx.unsqueeze(1))
    bottom = torch.lerp(at(y1, x0), at(y1, x1), wx.unsqueeze(1))
    return torch.lerp(top, bottom, wy.unsqueeze(1))


def _reflected_taps(
    coordinates: torch.Tensor, length: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    folded = torch.remainder(coordinates + 0.5, 2 * length)
    folded = torch.where(folded >= length, 2 * length - folded, folded) - 0.5
    lower = torch.floor(folded)
    weight = folded - lower
    lower_index = lower.to(torch.int64)
    upper = (lower_index + 1).clamp(0, length - 1)
    return lower_index.clamp(0, length - 1), upper, weight


@register(
    "pixelate",
    "digital",
    (0.6, 0.5, 0.4, 0.3, 0.25),
    deterministic=True,
    benchmark=True,
    source=IMAGENET_C,
)
def pixelate(
    images: torch.Tensor, factor: float, context: CorruptionContext
) -> torch.Tensor:
    """Shrink by `factor` with a box filter, then enlarge back with nearest neighbours.

    The sizes and sampling positions are Pillow's `resize(BOX)` and
    `resize(NEAREST)`, which the reference calls: each small pixel averages
    the pixels whose centres fall inside it. Relative to the image, so
    size-independent.
    """
    _, _, h, w = images.shape
    small_h = max(1, int(h * factor))
    small_w = max(1, int(w * factor))
    sums, counts = _box_sums(images, small_h, small_w)
    return _enlarge_nearest(sums / counts, h, w)


@register_uint8("pixelate")
def pixelate_uint8(
    images: torch.Tensor, factor: float, context: CorruptionContext
) -> torch.Tensor:
    """Pixelate uint8 images: box sums in float32, which are exact for 0-255.

    Each box average is one correctly rounded division, rounded half to even,
    and the enlargement copies uint8 values, so this equals rounding the float
    path's result except where the float path's rounding error moves a tie.
    """
    _, _, h, w = images.shape
    small_h = max(1, int(h * factor))
    small_w = max(1, int(w * factor))
    sums, counts = _box_sums(images.to(torch.float32), small_h, small_w)
    return _enlarge_nearest(torch.round(sums / counts), h, w).to(torch.uint8)


def _box_sums(
    images: torch.Tensor, height: int, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the box sums for a `height` × `width` shrink and the box sizes."""
    row_taps = _box_taps(images.shape[-2], height)
    column_taps = _box_taps(images.shape[-1], width)
    sums = _sum_taps(_sum_taps(images, -2, row_taps), -1, column_taps)
    rows = torch.tensor(row_taps[1], dtype=images.dtype, device=images.device)
    columns = torch.tensor(column_taps[1], dtype=images.dtype, device=images.device)
    return sums, rows.view(-1, 1) * columns.view(1, -1)


def _box_taps(length: int, size: int) -> tuple[list[int], list[int]]:
    """Return each box's first pixel and pixel count for Pillow's `BOX` filter."""
    scale = length / size
    first, count = [], []
    for index in range(size):
        centre = (index + 0.5) * scale
        low = max(0, int(centre - 0.5 * scale + 0.5))
        high = min(length, int(centre + 0.5 * scale + 0.5))
        inside = [
            i for i in range(low, high) if -0.5 < (i - centre + 0.5) / scale <= 0.5
        ]
        first.append(inside[0])
        count.append(len(inside))
    return first, count


def _sum_taps(
    images: torch.Tensor, dim: int, taps: tuple[list[int], list[int]]
) -> torch.Tensor:
    first, count = taps
    shape = [1] * images.dim()
    shape[dim] = len(first)
    total: torch.Tensor | None = None
    for tap in range(max(count)):
        sources = [f + min(tap, c - 1) for f, c in zip(first, count, strict=True)]
        index = torch.tensor(sources, device=images.device)
        term = images.index_select(dim, index)
        if tap >= min(count):
            keep = [1.0 if tap < c else 0.0 for c in count]
            mask = torch.tensor(keep, dtype=images.dtype, device=images.device)
            term.mul_(mask.view(shape))
        total = term if total is None else total.add_(term)
    assert total is not None
    return total


def _enlarge_nearest(small: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Enlarge as Pillow's `resize(NEAREST)`: pixel i copies `floor((i + 0.5) * scale)`.

    torch's "nearest-exact" mode samples the same pixels.
    """
    return F.interpolate(small, size=(height, width), mode="nearest-exact")


@register(
    "jpeg_compression",
    "digital",
    (25, 18, 15, 10, 7),
    deterministic=True,
    benchmark=True,
    source=IMAGENET_C,
)
def jpeg_compression(
    images: torch.Tensor, quality: int, context: CorruptionContext
) -> torch.Tensor:
    """Encode as JPEG at `quality` and decode.

    Uses libjpeg through `torchvision.io` (4:2:0 chroma subsampling, as
    Pillow's default in the reference). Floating images are rounded to 8 bits
    first, because JPEG stores 8-bit samples. The codec runs on the CPU, so a
    CUDA batch is copied there and back. Size-independent.
    """
    levels = torch.round(images * 255).clamp_(0, 255).to(torch.uint8)
    return jpeg_compression_uint8(levels, quality, context).to(images.dtype) / 255.0


@register_uint8("jpeg_compression")
def jpeg_compression_uint8(
    images: torch.Tensor, quality: int, context: CorruptionContext
) -> torch.Tensor:
    """Encode uint8 images as JPEG at `quality` and decode them."""
    # NOTE: torchvision 0.29 deprecates its JPEG codec in favour of TorchCodec
    # and warns on every call; the warning is silenced here because users
    # cannot act on it. Pillow, which torchvision requires, is the fallback
    # to switch to once the codec is removed.
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="The image decoding and encoding capabilities of TorchVision",
            category=DeprecationWarning,
        )
        encoded = encode_jpeg(list(images.cpu()), quality=quality)
        decoded = decode_jpeg(encoded)
    return torch.stack(decoded).to(images.device)


@register(
    "saturate",
    "digital",
    ((0.3, 0.0), (0.1, 0.0), (2.0, 0.0), (5.0, 0.1), (20.0, 0.2)),
    deterministic=True,
    benchmark=False,
    source=IMAGENET_C + " (held-out extra corruption)",
)
def saturate(
    images: torch.Tensor, parameter: tuple[float, float], context: CorruptionContext
) -> torch.Tensor:
    """Set the HSV saturation to `clip(s * factor + offset, 0, 1)`.

    Hue and value are kept, which is the reference's scikit-image
    `rgb2hsv` / `hsv2rgb` round trip in closed form: each channel becomes
    `v - s' * v * (v - x) / (v - min)`, and a grey pixel (hue 0) gets red
    `(v, v * (1 - s'), v * (1 - s'))`. Severities 1-2 remove colour and 3-5
    add it, so the damage is not monotonic in severity. A grayscale image has
    no saturation and is returned unchanged, as in the reference.
    Size-independent.
    """
    if images.shape[1] == 1:
        return images
    factor, offset = parameter
    value = images.amax(dim=1, keepdim=True)
    spread = value - images.amin(dim=1, keepdim=True)
    saturation = spread / value.clamp(min=1e-12)
    target = (saturation * factor + offset).clamp_(0.0, 1.0)
    hue_zero = torch.tensor([0.0, 1.0, 1.0], dtype=images.dtype, device=images.device)
    weight = torch.where(
        spread > 0,
        (value - images) / spread.clamp(min=1e-12),
        hue_zero.view(1, 3, 1, 1),
    )
    return value - target * value * weight
