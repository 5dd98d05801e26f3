"""Batched image operations shared by the corruption families.

Images are floating N×C×H×W tensors. Border modes use scipy.ndimage's names:
"nearest" repeats the edge pixel (OpenCV BORDER_REPLICATE), "reflect" mirrors
about the edge including it (d c b a | a b c d), "mirror" mirrors about the
edge pixel's centre (d c b | a b c d, OpenCV's default BORDER_REFLECT_101) and
"wrap" repeats the image.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

GRAY_WEIGHTS_OPENCV = (0.299, 0.587, 0.114)
"""ITU-R BT.601 luma weights, as OpenCV's `COLOR_RGB2GRAY` uses them."""

GRAY_WEIGHTS_IMAGECORRUPTIONS = (0.2989, 0.5870, 0.1140)
"""The rounded luma weights of `imagecorruptions`' own `rgb2gray`."""


def border_index(
    length: int, before: int, after: int, mode: str, device: torch.device
) -> torch.Tensor:
    """Return source indices for a padded axis of `length + before + after`."""
    positions = torch.arange(-before, length + after, device=device)
    if mode == "nearest":
        return positions.clamp(0, length - 1)
    if mode == "wrap":
        return positions.remainder(length)
    if mode == "reflect":
        folded = positions.remainder(2 * length)
        return torch.where(folded < length, folded, 2 * length - 1 - folded)
    if mode == "mirror":
        if length == 1:
            return torch.zeros_like(positions)
        folded = positions.remainder(2 * length - 2)
        return torch.where(folded < length, folded, 2 * length - 2 - folded)
    raise ValueError(f"unknown border mode {mode!r}")


_TORCH_PAD_MODES = {"nearest": "replicate", "mirror": "reflect", "wrap": "circular"}


def pad(x: torch.Tensor, pad_h: int, pad_w: int, mode: str) -> torch.Tensor:
    """Pad the last two axes by `pad_h` rows and `pad_w` columns on each side."""
    if not pad_h and not pad_w:
        return x
    h, w = x.shape[-2:]
    torch_mode = _TORCH_PAD_MODES.get(mode)
    fits = mode == "nearest" or (pad_h < h and pad_w < w)
    if torch_mode is not None and fits and x.dim() == 4:
        return F.pad(x, (pad_w, pad_w, pad_h, pad_h), mode=torch_mode)
    if pad_h:
        rows = border_index(h, pad_h, pad_h, mode, x.device)
        x = x.index_select(-2, rows)
    if pad_w:
        columns = border_index(w, pad_w, pad_w, mode, x.device)
        x = x.index_select(-1, columns)
    return x


def gaussian_kernel1d(
    sigma: float, truncate: float, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    """Return scipy.ndimage's Gaussian kernel: radius `int(truncate * sigma + 0.5)`."""
    radius = int(truncate * sigma + 0.5)
    offsets = torch.arange(-radius, radius + 1, dtype=torch.float64)
    weights = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return (weights / weights.sum()).to(dtype=dtype, device=device)


def separable_filter(
    x: torch.Tensor, kernel_h: torch.Tensor, kernel_w: torch.Tensor, mode: str
) -> torch.Tensor:
    """Correlate each channel with `kernel_h` down the rows and `kernel_w` across."""
    if kernel_w.numel() > 1:
        x = filter2d(x, kernel_w.view(1, -1), mode)
    if kernel_h.numel() > 1:
        x = filter2d(x, kernel_h.view(-1, 1), mode)
    return x


def gaussian_filter(
    x: torch.Tensor, sigma: float, mode: str = "nearest", truncate: float = 4.0
) -> torch.Tensor:
    """Blur each channel as `scipy.ndimage.gaussian_filter` does over H and W.

    The defaults are scikit-image's `filters.gaussian` ones, which
    `imagecorruptions` calls.
    """
    if sigma <= 0:
        return x
    kernel = gaussian_kernel1d(sigma, truncate, x.dtype, x.device)
    return separable_filter(x, kernel, kernel, mode)


def gaussian_attenuation(sigma: float, truncate: float) -> float:
    """Return the factor by which the 2-D Gaussian filter scales white noise's std."""
    if sigma <= 0:
        return 1.0
    kernel = gaussian_kernel1d(sigma, truncate, torch.float64, torch.device("cpu"))
    return float((kernel**2).sum())


_SHIFTED_SUM_LIMIT = 9
"""Kernels with at most this many taps are applied as a sum of shifted images."""

_DIRECT_KERNEL_LIMIT = 13 * 13
"""Kernels with more taps than this are applied through the FFT."""


def filter2d(x: torch.Tensor, kernel: torch.Tensor, mode: str) -> torch.Tensor:
    """Correlate each channel with an odd-sized 2-D kernel (as `cv2.filter2D`).

    Small kernels run as a sum of shifted images, mid-sized ones as a grouped
    convolution, large ones through the FFT: whichever is fastest on a CPU.
    """
    n, c, h, w = x.shape
    kh, kw = kernel.shape
    padded = pad(x.reshape(1, n * c, h, w), kh // 2, kw // 2, mode)
    weight = kernel.to(dtype=x.dtype, device=x.device)
    if kernel.numel() <= _SHIFTED_SUM_LIMIT:
        taps = weight.tolist()
        out = torch.zeros_like(padded[..., :h, :w])
        for i in range(kh):
            for j in range(kw):
                if taps[i][j]:
                    out.add_(padded[..., i : i + h, j : j + w], alpha=taps[i][j])
        return out.reshape(n, c, h, w)
    if kernel.numel() <= _DIRECT_KERNEL_LIMIT:
        weights = weight.view(1, 1, kh, kw).expand(n * c, 1, kh, kw)
        return F.conv2d(padded, weights, groups=n * c).reshape(n, c, h, w)
    return _fft_correlate(padded, weight, h, w).reshape(n, c, h, w)


def dilate(mask: torch.Tensor, shape: str) -> torch.Tensor:
    """Return the maximum of each pixel's 3×3 "square" or "plus" neighbourhood."""
    padded = F.pad(mask, (1, 1, 1, 1), mode="replicate")
    h, w = mask.shape[-2:]
    rows = torch.maximum(padded[..., 0:h, 1 : w + 1], padded[..., 2 : h + 2, 1 : w + 1])
    if shape == "plus":
        columns = torch.maximum(padded[..., 1 : h + 1, 0:w], padded[..., 1 : h + 1, 2:])
        return torch.maximum(torch.maximum(rows, columns), mask)
    middle = torch.maximum(rows, mask)
    padded = F.pad(middle, (1, 1, 0, 0), mode="replicate")
    return torch.maximum(
        torch.maximum(padded[..., 0:w], padded[..., 2:]), padded[..., 1 : w + 1]
    )


def _fft_correlate(
    padded: torch.Tensor, kernel: torch.Tensor, h: int, w: int
) -> torch.Tensor:
    """Return the valid correlation of padded planes with a kernel, by FFT."""
    kh, kw = kernel.shape
    size = (_fft_size(padded.shape[-2]), _fft_size(padded.shape[-1]))
    spectrum = torch.fft.rfft2(padded, s=size)
    flipped = torch.zeros(size, dtype=kernel.dtype, device=kernel.device)
    flipped[:kh, :kw] = kernel.flip(0, 1)
    product = spectrum * torch.fft.rfft2(flipped)
    full: torch.Tensor = torch.fft.irfft2(product, s=size)
    return full[..., kh - 1 : kh - 1 + h, kw - 1 : kw - 1 + w]


def _fft_size(length: int) -> int:
    """Return a length of at least `length` whose FFT is fast (a multiple of 32)."""
    return -(-length // 32) * 32


def box_filter3(x: torch.Tensor, mode: str = "mirror") -> torch.Tensor:
    """Average each channel over 3×3 windows (`cv2.blur(x, (3, 3))`)."""
    kernel = torch.full((3,), 1.0 / 3.0, dtype=x.dtype, device=x.device)
    return separable_filter(x, kernel, kernel, mode)


def luma(x: torch.Tensor, weights: Sequence[float]) -> torch.Tensor:
    """Return the weighted sum of the RGB channels, N×1×H×W; gray input as is."""
    if x.shape[1] == 1:
        return x
    r, g, b = weights
    return r * x[:, 0:1] + g * x[:, 1:2] + b * x[:, 2:3]


def color_tensor(
    rgb: Sequence[float], channels: int, like: torch.Tensor
) -> torch.Tensor:
    """Return a colour as a 1×C×1×1 tensor; one channel gets its luma."""
    values = list(rgb)
    if channels == 1:
        values = [
            sum(
                w * v
                for w, v in zip(GRAY_WEIGHTS_IMAGECORRUPTIONS, values, strict=True)
            )
        ]
    return torch.tensor(values, dtype=like.dtype, device=like.device).view(1, -1, 1, 1)


def clipped_zoom_taps(
    length: int, factor: float, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Return the linear-interpolation taps of `imagecorruptions`' `clipped_zoom`.

    The reference crops the central `ceil(length / factor)` pixels, zooms them
    with `scipy.ndimage.zoom(order=1)` to `round(crop * factor)` pixels and
    keeps the first `length`; output j samples crop coordinate
    `j * (crop - 1) / (zoomed - 1)`.

    Returns:
        The lower and upper source indices and the weight of the upper one,
        each of `length` entries.
    """
    crop = int(math.ceil(length / factor))
    top = (length - crop) // 2
    zoomed = int(round(crop * factor))
    step = (crop - 1) / (zoomed - 1) if zoomed > 1 else 0.0
    coordinates = torch.arange(length, dtype=torch.float64) * step
    lower = torch.floor(coordinates)
    weight = coordinates - lower
    lower_index = lower.to(torch.int64).clamp(0, crop - 1)
    upper_index = (lower_index + 1).clamp(max=crop - 1)
    return (
        (lower_index + top).to(device),
        (upper_index + top).to(device),
        weight.to(device),
    )


def resample_linear(
    x: torch.Tensor,
    rows: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    columns: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> torch.Tensor:
    """Resample the last two axes by separable linear interpolation taps."""
    lower, upper, weight = rows
    weight_h = weight.to(x.dtype).view(-1, 1)
    x = torch.lerp(x.index_select(-2, lower), x.index_select(-2, upper), weight_h)
    lower, upper, weight = columns
    weight_w = weight.to(x.dtype)
    return torch.lerp(x.index_select(-1, lower), x.index_select(-1, upper), weight_w)


def motion_line_taps(
    width: int, sigma: float, angle_degrees: float, height: int, length: int
) -> list[tuple[int, int, float]]:
    """Return the (row, column, weight) taps of `imagecorruptions`' `_motion_blur`.

    Tap i samples the pixel `ceil(i * sin(angle) - 0.5)` rows and
    `ceil(i * cos(angle) - 0.5)` columns away, weighted by a Gaussian of i
    (sigma `sigma`) normalised over the `width` taps; the line stops at the
    first tap that leaves an image of `height` × `length` pixels, as the
    reference does, without renormalising.
    """
    offsets = torch.arange(width, dtype=torch.float64)
    gaussian = torch.exp(-(offsets**2) / (2 * sigma**2))
    weights: list[float] = (gaussian / gaussian.sum()).tolist()
    radians = math.radians(angle_degrees)
    point = (width * math.sin(radians), width * math.cos(radians))
    hypot = math.hypot(*point)
    taps = []
    for i in range(width):
        row = math.ceil(i * point[0] / hypot - 0.5)
        column = math.ceil(i * point[1] / hypot - 0.5)
        if abs(row) >= height or abs(column) >= length:
            break
        taps.append((row, column, weights[i]))
    return taps


def motion_blur_images(
    x: torch.Tensor, width: int, sigma: float, angles: Sequence[float]
) -> torch.Tensor:
    """Blur image n along a line at `angles[n]` degrees, edges repeated."""
    n, c, h, w = x.shape
    pad_h = min(width, h)
    pad_w = min(width, w)
    padded = pad(x, pad_h, pad_w, "nearest")
    out = torch.zeros_like(x)
    for image in range(n):
        target = out[image]
        source = padded[image]
        for row, column, weight in motion_line_taps(width, sigma, angles[image], h, w):
            top = pad_h + row
            left = pad_w + column
            target.add_(source[:, top : top + h, left : left + w], alpha=weight)
    return out
