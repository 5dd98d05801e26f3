"""Properties of `corrupt` that hold for every corruption, and its input checks."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pytest_visionguard.corruptions import CORRUPTIONS
from pytest_visionguard.corruptions import corrupt
from pytest_visionguard.corruptions import get_spec
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.strategies import corruption_cases

RANDOM = tuple(name for name in CORRUPTIONS if not get_spec(name).deterministic)
FEW = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def images(count=3, channels=3, height=24, width=20, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shape = (count, channels, height, width)
    return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator)


@FEW
@given(
    case=corruption_cases(),
    channels=st.sampled_from([1, 3]),
    height=st.integers(8, 40),
    width=st.integers(8, 40),
)
def test_shape_dtype_kept_any_size(case, channels, height, width):
    name, severity = case
    batch = images(2, channels, height, width)
    out = corrupt(batch, name, severity, seed=1)
    assert out.shape == batch.shape
    assert out.dtype == torch.uint8
    assert out.device == batch.device


@FEW
@given(case=corruption_cases(), dtype=st.sampled_from([torch.float16, torch.float64]))
def test_float_dtype_kept_and_in_range(case, dtype):
    name, severity = case
    batch = images(2).to(dtype) / 255
    out = corrupt(batch, name, severity, seed=2)
    assert out.dtype == dtype
    assert float(out.min()) >= 0.0
    assert float(out.max()) <= 1.0


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS if n != "pixelate"])
def test_uint8_rounds_float_result_half_to_even(name):
    batch = images(2, height=32, width=32)
    as_uint8 = corrupt(batch, name, 3, seed=3)
    as_float = corrupt(batch.float() / 255, name, 3, seed=3)
    assert torch.equal(as_uint8, torch.round(as_float * 255).to(torch.uint8))


def test_pixelate_uint8_path_differs_only_at_ties():
    # The uint8 path divides exact integer box sums; the float path's rounding
    # error can move an exact .5 average either way.
    batch = images(2, height=64, width=64)
    as_uint8 = corrupt(batch, "pixelate", 3).int()
    as_float = corrupt(batch.float() / 255, "pixelate", 3)
    rounded = torch.round(as_float * 255).int()
    assert int((as_uint8 - rounded).abs().max()) <= 1
    exact = (as_float.double() * 255 * 4).round() / 4  # box averages of 1-4 px
    ties = (exact - exact.floor()) == 0.5
    assert bool(((as_uint8 == rounded) | ties).all())


def test_uint8_rounding_is_half_to_even():
    # contrast 1 keeps the channel mean; 0.5-level ties appear after x * 255.
    batch = torch.tensor([1.5, 2.5, 0.5, 3.5]).view(1, 1, 2, 2).repeat(1, 3, 4, 4)
    from pytest_visionguard.corruptions._api import _from_working

    levels = _from_working(batch.clone() / 255, torch.uint8)
    assert levels[0, 0, :2, :2].flatten().tolist() == [2, 2, 0, 4]


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_grayscale_stays_grayscale(name):
    gray = images(2, channels=1, height=32, width=32)
    out = corrupt(gray, name, 4, seed=4)
    assert out.shape == gray.shape


def test_grayscale_noise_one_draw_per_pixel():
    gray = torch.full((1, 1, 64, 64), 0.5)
    noisy = corrupt(gray, "gaussian_noise", 2)
    assert noisy.shape == (1, 1, 64, 64)
    # Severity 2 is sigma 0.12; each pixel gets its own draw, none repeats.
    assert float((noisy - gray).std()) == pytest.approx(0.12, rel=0.05)
    assert noisy.unique().numel() > 0.9 * noisy.numel()


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_same_index_same_output_whatever_the_batch(name):
    batch = images(5, height=32, width=32)
    whole = corrupt(batch, name, 3, seed=5)
    order = [3, 0, 4]
    part = corrupt(batch[order], name, 3, seed=5, indices=order)
    assert torch.equal(part, whole[order])
    single = corrupt(batch[2:3], name, 3, seed=5, indices=torch.tensor([2]))
    assert torch.equal(single, whole[2:3])


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_chunked_batch_equals_single_images(name):
    # A 224 px batch is processed in chunks of three images on the CPU.
    batch = images(5, height=224, width=224)
    whole = corrupt(batch, name, 2, seed=6, indices=[10, 11, 12, 13, 14])
    last = corrupt(batch[4:], name, 2, seed=6, indices=[14])
    assert torch.equal(whole[4:], last)


@pytest.mark.parametrize("name", RANDOM)
def test_seeds_and_indices_change_random_corruptions(name):
    batch = images(1, height=64, width=64).repeat(4, 1, 1, 1)
    out = corrupt(batch, name, 5, seed=0)
    assert any(not torch.equal(out[0], out[i]) for i in range(1, 4))
    assert not torch.equal(out, corrupt(batch, name, 5, seed=1))


@pytest.mark.parametrize("name", [n for n in CORRUPTIONS if get_spec(n).deterministic])
def test_deterministic_corruptions_ignore_seed(name):
    batch = images(2, height=32, width=32)
    assert torch.equal(corrupt(batch, name, 3, seed=0), corrupt(batch, name, 3, seed=9))


@pytest.mark.parametrize("name", RANDOM)
def test_global_random_state_untouched_and_unused(name):
    batch = images(2, height=32, width=32)
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    states = (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate())
    first = corrupt(batch, name, 3)
    assert torch.equal(torch.get_rng_state(), states[0])
    assert np.array_equal(np.random.get_state()[1], states[1])
    assert random.getstate() == states[2]
    torch.manual_seed(2)
    np.random.seed(2)
    assert torch.equal(corrupt(batch, name, 3), first)


def test_numpy_channels_last_round_trip():
    batch = images(2, height=32, width=32)
    array = batch.permute(0, 2, 3, 1).numpy()
    out = corrupt(array, "snow", 2, seed=1)
    assert isinstance(out, np.ndarray)
    assert out.shape == array.shape
    assert out.dtype == np.uint8
    expected = corrupt(batch, "snow", 2, seed=1).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(out, expected)


def test_empty_batch():
    empty = torch.zeros((0, 3, 16, 16), dtype=torch.uint8)
    assert corrupt(empty, "fog", 1).shape == empty.shape


def test_input_not_modified():
    batch = images(2).float() / 255
    copy = batch.clone()
    corrupt(batch, "contrast", 5)
    assert torch.equal(batch, copy)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", CORRUPTIONS)
def test_cuda_matches_cpu(name):
    batch = images(2, height=48, width=48)
    on_cpu = corrupt(batch, name, 3, seed=1)
    on_cuda = corrupt(batch.cuda(), name, 3, seed=1)
    assert on_cuda.device.type == "cuda"
    difference = (on_cuda.cpu().int() - on_cpu.int()).abs()
    # Transcendental functions may round differently on the GPU by an ulp.
    assert int(difference.max()) <= 1
    assert float((difference > 0).float().mean()) <= 0.001


BAD_IMAGES = [
    (torch.zeros(3, 16, 16, dtype=torch.uint8), "N×C×H×W, got 3 dimensions"),
    (torch.zeros(1, 2, 16, 16, dtype=torch.uint8), "1 or 3 channels"),
    (torch.zeros(1, 4, 16, 16, dtype=torch.uint8), "1 or 3 channels"),
    (torch.zeros(1, 3, 7, 16, dtype=torch.uint8), "at least 8×8"),
    (torch.zeros(1, 3, 16, 16, dtype=torch.int32), "uint8 .* or floating"),
    (torch.zeros(1, 3, 16, 16, dtype=torch.bool), "uint8 .* or floating"),
    (torch.full((1, 3, 16, 16), 1.5), r"\[0, 1\], got values from 1.5"),
    (torch.full((1, 3, 16, 16), -0.1), r"\[0, 1\], got values from -0.1"),
    (torch.full((1, 3, 16, 16), float("nan")), "NaN"),
    (np.zeros((16, 16, 3), dtype=np.uint8), "N×H×W×C numpy array"),
    (np.zeros((1, 16, 16, 3), dtype=np.int16), "uint8"),
    ([[0, 1]], "torch.Tensor"),
]


@pytest.mark.parametrize(("bad", "message"), BAD_IMAGES)
def test_bad_images_rejected(bad, message):
    with pytest.raises(VisionGuardError, match=message):
        corrupt(bad, "fog", 1)


@pytest.mark.parametrize("severity", [0, 6, -1, True, 2.0, "3", None])
def test_bad_severity_rejected(severity):
    with pytest.raises(VisionGuardError, match="severity must be an integer from 1"):
        corrupt(images(1), "fog", severity)


def test_numpy_integer_severity_accepted():
    assert corrupt(images(1), "fog", np.int64(2)).shape == (1, 3, 24, 20)


def test_unknown_name_suggests_closest():
    with pytest.raises(VisionGuardError, match="did you mean 'motion_blur'"):
        corrupt(images(1), "motion_blurr", 1)


@pytest.mark.parametrize(
    ("indices", "message"),
    [([0, 1], "3 integers"), ([0.0, 1.0, 2.0], "integers"), ([[0, 1, 2]], "1-D")],
)
def test_bad_indices_rejected(indices, message):
    with pytest.raises(VisionGuardError, match=message):
        corrupt(images(3), "fog", 1, indices=indices)


@pytest.mark.parametrize("seed", [1.5, True, "0"])
def test_bad_seed_rejected(seed):
    with pytest.raises(VisionGuardError, match="seed must be an integer"):
        corrupt(images(1), "fog", 1, seed=seed)
