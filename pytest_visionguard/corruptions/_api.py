"""`corrupt`: input checks, conversion, chunking and output rounding."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import overload

import numpy as np
import torch

from pytest_visionguard.corruptions._random import CounterRNG
from pytest_visionguard.corruptions._registry import MINIMUM_SCALE
from pytest_visionguard.corruptions._registry import REFERENCE_SIZE
from pytest_visionguard.corruptions._registry import CorruptionContext
from pytest_visionguard.corruptions._registry import CorruptionSpec
from pytest_visionguard.corruptions._registry import check_severity
from pytest_visionguard.corruptions._registry import get_spec
from pytest_visionguard.errors import VisionGuardError

MINIMUM_SIDE = 8
"""Smallest image height and width (px) that `corrupt` accepts."""

_FLOAT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
_CPU_CHUNK_ELEMENTS = 1 << 19
_CUDA_CHUNK_ELEMENTS = 1 << 25

IndexLike = Sequence[int] | torch.Tensor | np.ndarray


@overload
def corrupt(
    images: torch.Tensor,
    name: str,
    severity: int,
    *,
    seed: int = 0,
    indices: IndexLike | None = None,
) -> torch.Tensor: ...


@overload
def corrupt(
    images: np.ndarray,
    name: str,
    severity: int,
    *,
    seed: int = 0,
    indices: IndexLike | None = None,
) -> np.ndarray: ...


def corrupt(
    images: torch.Tensor | np.ndarray,
    name: str,
    severity: int,
    *,
    seed: int = 0,
    indices: IndexLike | None = None,
) -> torch.Tensor | np.ndarray:
    """Apply corruption `name` at `severity` to a batch of images.

    Args:
        images: an N×C×H×W tensor, uint8 (0-255) or floating (values in
            [0, 1]), on any device, with C of 1 or 3 and H, W of at least 8;
            or an N×H×W×C numpy array of the same dtypes.
        name: a name from `CORRUPTIONS`.
        severity: an int from 1 (mildest) to 5.
        seed: the seed of the random corruptions; deterministic ones ignore it.
        indices: the dataset index of each image (N integers); None means
            0 to N-1. Image i gets the same corruption for a given seed, name,
            severity and index whatever batch it is in, its position in the
            batch, or the device.

    Returns:
        The corrupted images, of the input's type, shape, dtype and device.
        uint8 values are rounded half to even and clipped to 0-255; floating
        values are clipped to [0, 1].

    Raises:
        VisionGuardError: an unknown name (the closest one is suggested), a
            severity that is not an int from 1 to 5, images of the wrong rank,
            dtype, channel count, size or value range, or indices that do not
            match the batch.

    Example:
        >>> import torch
        >>> from pytest_visionguard.corruptions import corrupt
        >>> images = torch.full((2, 3, 32, 32), 128, dtype=torch.uint8)
        >>> noisy = corrupt(images, "gaussian_noise", 3, seed=1)
        >>> noisy.shape, noisy.dtype
        (torch.Size([2, 3, 32, 32]), torch.uint8)
        >>> bool((noisy != images).any())
        True
        >>> torch.equal(noisy[1:], corrupt(images[1:], "gaussian_noise", 3,
        ...                                seed=1, indices=[1]))
        True
    """
    spec = get_spec(name)
    severity = check_severity(severity)
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
        raise VisionGuardError(f"seed must be an integer, got {seed!r}")
    if isinstance(images, np.ndarray):
        tensor = torch.from_numpy(_check_numpy(images)).permute(0, 3, 1, 2)
        return (
            corrupt(tensor, name, severity, seed=seed, indices=indices)
            .permute(0, 2, 3, 1)
            .contiguous()
            .numpy()
        )
    _check_tensor(images)
    index_tensor = _check_indices(indices, images.shape[0], images.device)
    if images.shape[0] == 0:
        return images.clone()
    scale = size_scale(images.shape[-2], images.shape[-1])
    out = torch.empty_like(images, memory_format=torch.contiguous_format)
    for start, stop in _chunks(images):
        chunk_indices = index_tensor[start:stop]
        if images.dtype == torch.uint8 and spec.uint8_function is not None:
            context = _context(spec, severity, seed, chunk_indices, scale)
            chunk = images[start:stop].contiguous()
            out[start:stop] = spec.uint8_function(
                chunk, spec.parameter(severity), context
            )
            continue
        working = _to_working(images[start:stop])
        corrupted = apply_spec(working, spec, severity, seed, chunk_indices, scale)
        out[start:stop] = _from_working(corrupted, images.dtype)
    return out


def size_scale(height: int, width: int) -> float:
    """Return the factor for pixel-sized parameters: `max(min(H, W) / 224, 0.4)`."""
    return max(min(height, width) / REFERENCE_SIZE, MINIMUM_SCALE)


def apply_spec(
    images: torch.Tensor,
    spec: CorruptionSpec,
    severity: int,
    seed: int,
    indices: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Run one corruption on floating images in [0, 1] and clip the result.

    `scale` is the size scale for pixel-sized parameters; `corrupt` passes
    `size_scale(H, W)`, and 1.0 reproduces the reference's 224 px parameters
    at any size.
    """
    context = _context(spec, severity, seed, indices, scale)
    out = spec.function(images, spec.parameter(severity), context)
    return out.clamp_(0.0, 1.0)


def _context(
    spec: CorruptionSpec,
    severity: int,
    seed: int,
    indices: torch.Tensor,
    scale: float,
) -> CorruptionContext:
    rng = CounterRNG(int(seed), spec.name, severity, indices)
    return CorruptionContext(rng, scale)


def _check_numpy(images: np.ndarray) -> np.ndarray:
    if images.ndim != 4:
        raise VisionGuardError(
            f"images must be an N×H×W×C numpy array, got {images.ndim} dimensions "
            f"(shape {images.shape}); add a batch axis with images[None]"
        )
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise VisionGuardError(
            f"numpy images must be uint8 (0-255) or floating (0-1), got "
            f"{images.dtype}; convert with images.astype(np.uint8)"
        )
    return np.ascontiguousarray(images)


def _check_tensor(images: object) -> None:
    if not isinstance(images, torch.Tensor):
        raise VisionGuardError(
            f"images must be a torch.Tensor (N×C×H×W) or a numpy array (N×H×W×C), "
            f"got {type(images).__name__}"
        )
    if images.dim() != 4:
        raise VisionGuardError(
            f"images must be N×C×H×W, got {images.dim()} dimensions (shape "
            f"{tuple(images.shape)}); add a batch axis with images.unsqueeze(0)"
        )
    n, c, h, w = images.shape
    if c not in (1, 3):
        raise VisionGuardError(
            f"images must have 1 or 3 channels in dimension 1, got {c} (shape "
            f"{tuple(images.shape)}); channels-last images need "
            f"images.permute(0, 3, 1, 2)"
        )
    if h < MINIMUM_SIDE or w < MINIMUM_SIDE:
        raise VisionGuardError(
            f"images must be at least {MINIMUM_SIDE}×{MINIMUM_SIDE} px, got {h}×{w}"
        )
    if images.dtype != torch.uint8 and images.dtype not in _FLOAT_DTYPES:
        raise VisionGuardError(
            f"images must be uint8 (0-255) or floating (0-1), got {images.dtype}; "
            f"convert with images.to(torch.uint8) or images.float() / 255"
        )
    if images.dtype != torch.uint8 and n:
        _check_range(images)


def _check_range(images: torch.Tensor) -> None:
    low = float(images.amin())
    high = float(images.amax())
    if math.isnan(low) or math.isnan(high):
        raise VisionGuardError("images contain NaN; floating images must be in [0, 1]")
    if low < 0.0 or high > 1.0:
        raise VisionGuardError(
            f"floating images must be in [0, 1], got values from {low:g} to "
            f"{high:g}; divide 0-255 images by 255 (values are never clamped)"
        )


def _check_indices(
    indices: IndexLike | None, count: int, device: torch.device
) -> torch.Tensor:
    if indices is None:
        return torch.arange(count, dtype=torch.int64, device=device)
    if isinstance(indices, torch.Tensor):
        tensor = indices.detach()
    else:
        try:
            tensor = torch.as_tensor(np.asarray(indices))
        except (TypeError, ValueError) as error:
            raise VisionGuardError(
                f"indices must be N integers, got {indices!r}"
            ) from error
    if tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex():
        raise VisionGuardError(f"indices must be integers, got dtype {tensor.dtype}")
    if tensor.dim() != 1 or tensor.shape[0] != count:
        raise VisionGuardError(
            f"indices must be a 1-D sequence of {count} integers (one per image), "
            f"got shape {tuple(tensor.shape)}"
        )
    return tensor.to(device=device, dtype=torch.int64)


def _to_working(images: torch.Tensor) -> torch.Tensor:
    """Return float32 (float64 for float64 input) values in [0, 1], contiguous."""
    if images.dtype == torch.uint8:
        return images.contiguous().to(torch.float32) / 255.0
    if images.dtype == torch.float64:
        return images.contiguous().clone()
    return images.contiguous().to(torch.float32)


_ROUNDING_CONSTANT = {torch.float32: 1.5 * 2.0**23, torch.float64: 1.5 * 2.0**52}


def _from_working(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Return images in [0, 1] as `dtype`; uint8 is rounded half to even.

    Adding and subtracting 1.5 * 2**23 (2**52 for float64) rounds a value
    below 2**22 to an integer in the FPU's round-half-to-even mode, in place
    and faster than `torch.round` on the CPU.
    """
    if dtype != torch.uint8:
        return images.to(dtype)
    constant = _ROUNDING_CONSTANT[images.dtype]
    levels = images.mul_(255.0).add_(constant).sub_(constant).clamp_(0, 255)
    return levels.to(torch.uint8)


def _chunks(images: torch.Tensor) -> list[tuple[int, int]]:
    """Return (start, stop) pairs that split the batch into cache-sized chunks.

    On the CPU a chunk has about 2**19 values (2 MB as float32), which
    keeps each step of a corruption in cache; on CUDA chunks are larger.
    """
    per_image = max(1, images[0].numel())
    # NOTE: the CUDA chunk size is a guess; no GPU run has measured it.
    budget = _CUDA_CHUNK_ELEMENTS if images.is_cuda else _CPU_CHUNK_ELEMENTS
    size = max(1, budget // per_image)
    count = images.shape[0]
    return [(start, min(start + size, count)) for start in range(0, count, size)]
