"""Corruptions against the reference implementation, `imagecorruptions` 1.1.2.

Deterministic corruptions are compared pixel by pixel; random ones by the
strength of their damage, since the reference draws from numpy's global
generator and this package from a counter-based hash.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from corruption_references import DETERMINISTIC
from corruption_references import IMAGES
from corruption_references import clean_batch
from corruption_references import damage
from corruption_references import to_hwc

from pytest_visionguard.corruptions import corrupt
from pytest_visionguard.corruptions import get_spec
from pytest_visionguard.corruptions._api import apply_spec

SEVERITIES = (1, 2, 3, 4, 5)

# The reference truncates its float result to uint8, so the exact value lies
# in [ref, ref + 1). These corruptions compute the same float value (up to
# float32 rounding in OpenCV's filters), so ours must land in that interval.
BRACKETED = (
    "defocus_blur",
    "zoom_blur",
    "brightness",
    "contrast",
    "gaussian_blur",
    "saturate",
)
BRACKET_SLACK = 1e-3
"""Levels (of 255) by which a float result may leave [ref, ref + 1]."""

# Greatest and mean |ours - reference| in levels for uint8 images. Rounding
# (ours) against truncation (the reference) moves about half the pixels by one
# level. Pillow rounds pixelate's box average after its horizontal pass as
# well as at the end, so pixelate also differs by up to one level. The JPEG
# codec is libjpeg-turbo in both torchvision and Pillow, identical here; one
# level of slack allows for other builds.
UINT8_TOLERANCE = {
    "defocus_blur": (1, 0.65),
    "zoom_blur": (1, 0.65),
    "brightness": (1, 0.65),
    "contrast": (1, 0.65),
    "pixelate": (1, 0.5),
    "jpeg_compression": (1, 0.01),
    "gaussian_blur": (1, 0.65),
    "saturate": (1, 0.65),
}

# Relative tolerance on the mean absolute change and the std of the change,
# our mean over several images against the reference's mean over eight seeds,
# and the reason for it.
DAMAGE_TOLERANCE = {
    # Same distributions; the figures differ by sampling error only.
    "gaussian_noise": 0.03,
    "shot_noise": 0.03,
    "impulse_noise": 0.03,
    "speckle_noise": 0.03,
    # A random angle per image: the damage depends on the angle drawn.
    "motion_blur": 0.12,
    "snow": 0.12,
    # The plasma fractal's range varies from draw to draw (about ±10%).
    "fog": 0.12,
    "elastic_transform": 0.10,
    # A true permutation in place of the reference's duplicating copy.
    "glass_blur": 0.25,
    # Procedural textures in place of the reference's five photographs, whose
    # damage differs by ±25% from one photograph to another.
    "frost": 0.20,
}
SPATTER_TOLERANCE = {1: 0.45, 2: 0.40, 3: 0.25, 4: 0.15, 5: 0.15}
"""Water drops (1-3) approximate OpenCV's Canny edges and distance transform."""

SIZE_INDEPENDENT = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise")


def reference_scale_output(
    clean: torch.Tensor, name: str, severity: int
) -> torch.Tensor:
    """Corrupt float64 images with the reference's 224 px parameters at any size."""
    return apply_spec(
        clean.double() / 255.0, get_spec(name), severity, 0, torch.tensor([0]), 1.0
    )


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", BRACKETED)
def test_float_output_within_truncation_bracket(reference, name, severity):
    for size, image in [(224, "astronaut"), (64, "astronaut"), (64, "chelsea")]:
        clean = clean_batch(reference, size, image)
        ours = to_hwc(reference_scale_output(clean, name, severity) * 255.0)
        expected = reference[f"out/{size}/{image}/{name}/{severity}"].astype(float)
        assert (ours >= expected - BRACKET_SLACK).all(), (size, image)
        assert (ours <= expected + 1 + BRACKET_SLACK).all(), (size, image)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", DETERMINISTIC)
def test_uint8_output_matches_reference(reference, name, severity):
    largest, mean = UINT8_TOLERANCE[name]
    for size, image in [(224, "astronaut"), (64, "astronaut"), (64, "chelsea")]:
        clean = clean_batch(reference, size, image)
        if size == 224:
            corrupted = corrupt(clean, name, severity)
        else:
            scaled = reference_scale_output(clean, name, severity).float()
            corrupted = torch.round(scaled * 255).to(torch.uint8)
        expected = reference[f"out/{size}/{image}/{name}/{severity}"].astype(float)
        difference = np.abs(to_hwc(corrupted) - expected)
        assert difference.max() <= largest, (size, image)
        assert difference.mean() <= mean, (size, image)


def test_pixelate_at_64_px_uses_public_path(reference):
    clean = clean_batch(reference, 64, "chelsea")
    corrupted = corrupt(clean, "pixelate", 3)
    expected = reference["out/64/chelsea/pixelate/3"].astype(float)
    assert np.abs(to_hwc(corrupted) - expected).max() <= 1


def _tolerance(stats, relative):
    """Return `relative`, or three times the reference's seed-to-seed spread if larger."""
    return max(relative, 3 * stats["mean_abs_diff_std"] / stats["mean_abs_diff"])


def _damage_of(reference, name, severity, size, image, copies):
    clean = clean_batch(reference, size, image, copies)
    corrupted = corrupt(clean, name, severity, seed=7)
    figures = [damage(corrupted[i : i + 1], clean[i : i + 1]) for i in range(copies)]
    return np.mean([f[0] for f in figures]), np.mean([f[1] for f in figures])


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", sorted(DAMAGE_TOLERANCE) + ["spatter"])
@pytest.mark.parametrize("image", IMAGES)
def test_damage_matches_reference_at_224(
    reference, reference_stats, name, severity, image
):
    tolerance = (
        SPATTER_TOLERANCE[severity] if name == "spatter" else DAMAGE_TOLERANCE[name]
    )
    copies = 8 if name in ("frost", "spatter", "fog") else 4
    mean_change, change_std = _damage_of(reference, name, severity, 224, image, copies)
    stats = reference_stats[(name, severity, 224, image)]
    tolerance = _tolerance(stats, tolerance)
    assert mean_change == pytest.approx(stats["mean_abs_diff"], rel=tolerance)
    assert change_std == pytest.approx(stats["delta_std"], rel=tolerance)


@pytest.mark.parametrize("severity", SEVERITIES)
@pytest.mark.parametrize("name", SIZE_INDEPENDENT)
@pytest.mark.parametrize("image", IMAGES)
def test_noise_damage_matches_reference_at_64(
    reference, reference_stats, name, severity, image
):
    mean_change, change_std = _damage_of(reference, name, severity, 64, image, 16)
    stats = reference_stats[(name, severity, 64, image)]
    tolerance = _tolerance(stats, 0.03)
    assert mean_change == pytest.approx(stats["mean_abs_diff"], rel=tolerance)
    assert change_std == pytest.approx(stats["delta_std"], rel=tolerance)
