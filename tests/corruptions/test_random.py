"""The counter-based generator: its hashes, draws and independence."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from pytest_visionguard.corruptions._random import CounterRNG
from pytest_visionguard.corruptions._random import _splitmix64_tensor
from pytest_visionguard.corruptions._random import lowbias32
from pytest_visionguard.corruptions._random import poisson
from pytest_visionguard.corruptions._random import splitmix64

MASK32 = (1 << 32) - 1


def lowbias32_python(x: int) -> int:
    """`lowbias32` on unsigned 32-bit Python integers (C. Wellons)."""
    x ^= x >> 16
    x = (x * 0x7FEB352D) & MASK32
    x ^= x >> 15
    x = (x * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


@given(st.lists(st.integers(0, MASK32), min_size=1, max_size=50))
def test_lowbias32_matches_python(values):
    signed = [v - (1 << 32) if v >> 31 else v for v in values]
    hashed = lowbias32(torch.tensor(signed, dtype=torch.int32))
    assert [int(h) & MASK32 for h in hashed] == [lowbias32_python(v) for v in values]


@given(st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=1, max_size=50))
def test_splitmix64_tensor_matches_python(values):
    hashed = _splitmix64_tensor(torch.tensor(values, dtype=torch.int64))
    expected = [splitmix64(v & ((1 << 64) - 1)) for v in values]
    assert [int(h) & ((1 << 64) - 1) for h in hashed] == expected


def test_draws_depend_on_index_not_position():
    whole = CounterRNG(3, "fog", 2, torch.arange(6))
    part = CounterRNG(3, "fog", 2, torch.tensor([4, 1]))
    assert torch.equal(whole.bits(0, 100)[[4, 1]], part.bits(0, 100))


def test_keys_separate_seed_name_severity_stream():
    indices = torch.arange(2)
    base = CounterRNG(0, "fog", 1, indices).bits(0, 64)
    for other in (
        CounterRNG(1, "fog", 1, indices).bits(0, 64),
        CounterRNG(0, "snow", 1, indices).bits(0, 64),
        CounterRNG(0, "fog", 2, indices).bits(0, 64),
        CounterRNG(0, "fog", 1, indices).bits(1, 64),
    ):
        assert not torch.equal(base, other)


def test_uniform_moments():
    uniform = CounterRNG(0, "test", 1, torch.arange(4)).uniform(0, 50_000)
    assert float(uniform.min()) > 0.0
    assert float(uniform.max()) < 1.0
    assert float(uniform.mean()) == pytest.approx(0.5, abs=0.005)
    assert float(uniform.var()) == pytest.approx(1 / 12, abs=0.001)


def test_normal_moments():
    normal = CounterRNG(0, "test", 1, torch.arange(4)).normal(0, 50_001)
    assert normal.shape == (4, 50_001)
    assert float(normal.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(normal.std()) == pytest.approx(1.0, abs=0.01)
    assert float((normal**4).mean()) == pytest.approx(3.0, abs=0.05)


def test_poisson_mean_and_variance():
    rates = torch.tensor([[0.0, 0.3, 4.0, 9.99, 10.0, 33.3, 63.9, 64.0, 250.0]])
    draws = CounterRNG(0, "test", 1, torch.arange(1))
    counts = poisson(draws, 0, rates.repeat(1, 20_000), torch.float64).view(-1, 9)
    for column, rate in enumerate(rates[0].tolist()):
        sample = counts[:, column]
        allowed = 5 * math.sqrt(max(rate, 1e-3) / sample.numel())
        assert abs(float(sample.mean()) - rate) <= allowed
        assert float(sample.var()) == pytest.approx(rate, abs=0.05 * rate + 1e-9)
        assert bool((sample == sample.round()).all())
