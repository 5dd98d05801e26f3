"""Digital corruptions: contrast, elastic transform, pixelate, JPEG and saturate.

Parameters are the published ImageNet-C ones (Hendrycks & Dietterich 2019,
`imagecorruptions` 1.1.2 `corruptions.py`). Only the elastic transform has
pixel-sized parameters; the others are relative to the image.
"""

from __future__ import annotations

import torch
from torchvision.io import decode_jpeg
from torchvision.io import encode_jpeg

from pytest_visionguard.corruptions._ops import gaussian_attenuation
from pytest_visionguard.corruptions._ops import gaussian_filter
from pytest_visionguard.corruptions._registry import REFERENCE_SIZE
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import register
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
    small = _box_shrink(images, -2, small_h)
    small = _box_shrink(small, -1, small_w)
    rows = _nearest_index(small_h, h, images.device)
    columns = _nearest_index(small_w, w, images.device)
    return small.index_select(-2, rows).index_select(-1, columns)


def _box_shrink(images: torch.Tensor, dim: int, size: int) -> torch.Tensor:
    """Average `images` along `dim` into `size` boxes of Pillow's `BOX` filter."""
    length = images.shape[dim]
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
    shape = [1] * images.dim()
    shape[dim] = size
    target = list(images.shape)
    target[dim] = size
    total = images.new_zeros(target)
    for tap in range(max(count)):
        sources = [f + min(tap, c - 1) for f, c in zip(first, count, strict=True)]
        weights = [1.0 / c if tap < c else 0.0 for c in count]
        taps = torch.tensor(sources, device=images.device)
        weight = torch.tensor(weights, dtype=images.dtype, device=images.device)
        total.add_(images.index_select(dim, taps).mul_(weight.view(shape)))
    return total


def _nearest_index(source: int, target: int, device: torch.device) -> torch.Tensor:
    scale = source / target
    index = [min(source - 1, int((i + 0.5) * scale)) for i in range(target)]
    return torch.tensor(index, device=device)


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
    levels = torch.round(images * 255).clamp_(0, 255).to(torch.uint8).cpu()
    encoded = encode_jpeg(list(levels), quality=quality)
    decoded = decode_jpeg(encoded)
    stacked = torch.stack(decoded).to(device=images.device, dtype=images.dtype)
    return stacked / 255.0


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
