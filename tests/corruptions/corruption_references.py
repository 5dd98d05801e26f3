"""Helpers for the corruption tests: reference images and damage figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

DATA = Path(__file__).parent / "data"

DETERMINISTIC = (
    "defocus_blur",
    "zoom_blur",
    "brightness",
    "contrast",
    "pixelate",
    "jpeg_compression",
    "gaussian_blur",
    "saturate",
)
"""The corruptions whose reference output does not depend on the seed."""

IMAGES = ("astronaut", "chelsea")


def clean_batch(
    reference: dict[str, np.ndarray], size: int, image: str, copies: int = 1
) -> torch.Tensor:
    """Return `copies` of a clean reference image as a uint8 N×3×H×W tensor."""
    array = reference[f"clean/{size}/{image}"]
    tensor = torch.from_numpy(array).permute(2, 0, 1).unsqueeze(0)
    return tensor.repeat(copies, 1, 1, 1).contiguous()


def to_hwc(images: torch.Tensor) -> np.ndarray:
    """Return the first image of a batch as an H×W×C float64 array in 0-255."""
    return images[0].permute(1, 2, 0).double().numpy()


def damage(corrupted: torch.Tensor, clean: torch.Tensor) -> tuple[float, float]:
    """Return the mean absolute change and the std of the change, in [0, 1] units."""
    delta = (corrupted.double() - clean.double()) / 255.0
    return float(delta.abs().mean()), float(delta.std())
