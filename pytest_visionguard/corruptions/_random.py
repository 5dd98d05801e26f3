"""Counter-based random numbers for corruptions.

Every random value is a hash of (seed, corruption, severity, stream, image
index, element position), so image i gets the same draws whatever batch it is
in, its position in the batch or the device, and no global generator (torch,
numpy or `random`) is read or advanced.

The per-image keys come from SplitMix64 (Steele, Lea & Flood 2014) computed in
int64 tensor arithmetic. The per-element bits come from two rounds of the
32-bit `lowbias32` integer hash (C. Wellons, hash-prospector) on int32 tensors,
with one half of the image key mixed in before each round. Both hashes need
wrapping integer multiplication and a logical right shift; torch shifts signed
integers arithmetically, so the shifts below mask off the sign-extended bits.

The bits, and so the uniforms made from them, are identical on every device.
Normals and Poisson draws go through `log`, `cos` and `lgamma`, whose last bit
may differ between CPU and CUDA, so a float result can differ by an ulp there
(a uint8 pixel by one level, rarely).
"""

from __future__ import annotations

import math
import zlib

import torch

_MASK64 = (1 << 64) - 1
_GOLDEN64 = 0x9E3779B97F4A7C15
_SPLITMIX_M1 = 0xBF58476D1CE4E5B9
_SPLITMIX_M2 = 0x94D049BB133111EB
_LOWBIAS_M1 = 0x7FEB352D
_LOWBIAS_M2 = 0x846CA68B
_UNIFORM_SCALE = 1.0 / (1 << 24)


def _signed(value: int, bits: int) -> int:
    """Return the two's complement reading of an unsigned `bits`-bit value."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def splitmix64(value: int) -> int:
    """Hash a Python integer with the SplitMix64 finaliser (unsigned 64 bits)."""
    z = (value + _GOLDEN64) & _MASK64
    z = ((z ^ (z >> 30)) * _SPLITMIX_M1) & _MASK64
    z = ((z ^ (z >> 27)) * _SPLITMIX_M2) & _MASK64
    return z ^ (z >> 31)


def _shift_right64(x: torch.Tensor, bits: int) -> torch.Tensor:
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def _splitmix64_tensor(z: torch.Tensor) -> torch.Tensor:
    """SplitMix64 finaliser on an int64 tensor, matching `splitmix64` bit for bit."""
    z = z + _signed(_GOLDEN64, 64)
    z = (z ^ _shift_right64(z, 30)) * _signed(_SPLITMIX_M1, 64)
    z = (z ^ _shift_right64(z, 27)) * _signed(_SPLITMIX_M2, 64)
    return z ^ _shift_right64(z, 31)


def _xorshift_right32(x: torch.Tensor, bits: int) -> torch.Tensor:
    return x.bitwise_xor_((x >> bits) & ((1 << (32 - bits)) - 1))


def lowbias32(x: torch.Tensor) -> torch.Tensor:
    """Hash an int32 tensor with `lowbias32`; the input is not modified."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x.mul_(_LOWBIAS_M1)
    _xorshift_right32(x, 15)
    x.mul_(_signed(_LOWBIAS_M2, 32))
    return _xorshift_right32(x, 16)


def corruption_id(name: str) -> int:
    """Return a stable 32-bit id for a corruption name (CRC-32 of its UTF-8 bytes)."""
    return zlib.crc32(name.encode("utf-8"))


class CounterRNG:
    """Random draws for a batch of images, keyed by each image's dataset index.

    Args:
        seed: the user's seed (any Python integer).
        name: the corruption name, hashed into the key.
        severity: the severity, hashed into the key.
        indices: the dataset index of each image, a 1-D int64 tensor on the
            device where the draws are wanted.
    """

    def __init__(
        self, seed: int, name: str, severity: int, indices: torch.Tensor
    ) -> None:
        self.indices = indices
        self.device = indices.device
        base = splitmix64(seed & _MASK64)
        base = splitmix64(base ^ corruption_id(name))
        self._base = splitmix64(base ^ severity)

    def _image_keys(self, stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return the two int32 halves of each image's key for `stream`."""
        stream_key = _signed(splitmix64(self._base ^ (stream & _MASK64)), 64)
        keys = _splitmix64_tensor(self.indices * _signed(_GOLDEN64, 64) ^ stream_key)
        low = (keys & 0xFFFFFFFF).to(torch.int32)
        high = _shift_right64(keys, 32).to(torch.int32)
        return low.view(-1, 1), high.view(-1, 1)

    def bits(self, stream: int, count: int) -> torch.Tensor:
        """Return `count` random int32 words per image, shape (N, count)."""
        low, high = self._image_keys(stream)
        counter = torch.arange(count, dtype=torch.int32, device=self.device)
        words = lowbias32(counter.view(1, -1) + low)
        return lowbias32(words.bitwise_xor_(high))

    def uniform(
        self, stream: int, count: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Return uniforms in the open interval (0, 1), 24 bits each, shape (N, count)."""
        return _to_uniform(self.bits(stream, count), dtype)

    def normal(
        self, stream: int, count: int, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        """Return standard normals by the Box-Muller transform, shape (N, count)."""
        half = (count + 1) // 2
        uniforms = self.uniform(stream, 2 * half, dtype)
        radius = uniforms[:, :half].log_().mul_(-2.0).sqrt_()
        angle = uniforms[:, half:].mul_(2.0 * math.pi)
        normals = torch.cat((radius * torch.cos(angle), radius * torch.sin(angle)), 1)
        return normals[:, :count]

    def integers(self, stream: int, count: int, low: int, high: int) -> torch.Tensor:
        """Return integers drawn uniformly from [low, high), shape (N, count), int64."""
        uniforms = self.uniform(stream, count, torch.float64)
        values = torch.floor(uniforms * (high - low)).to(torch.int64) + low
        return values.clamp_(low, high - 1)


def _to_uniform(words: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    top = (words >> 8) & 0xFFFFFF
    return top.to(dtype).add_(0.5).mul_(_UNIFORM_SCALE)


def substream(stream: int, part: int) -> int:
    """Return the stream id of part `part` of `stream`, distinct from every stream."""
    return stream | (part << 32)


def poisson(
    rng: CounterRNG, stream: int, rates: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """Draw Poisson counts with the given rates, shape (N, M), by the image's key.

    Rates below 10 use inversion by sequential search; rates of 10 and more use
    Hörmann's transformed rejection (PTRS, Hörmann 1993, as in numpy's
    `random_poisson_ptrs`). Each rejection attempt reads fresh counters (the
    substreams of `stream`), so the result depends only on the key and the
    element's position.
    """
    rates = rates.to(torch.float64)
    counts = torch.zeros_like(rates)
    small = rates < 10.0
    if bool(small.any()):
        counts = torch.where(small, _poisson_inversion(rng, stream, rates), counts)
    if not bool(small.all()):
        counts = torch.where(small, counts, _poisson_ptrs(rng, stream, rates))
    return counts.to(dtype)


def _poisson_inversion(
    rng: CounterRNG, stream: int, rates: torch.Tensor
) -> torch.Tensor:
    target = rng.uniform(stream, rates.shape[1], torch.float64)
    small_rates = torch.where(rates < 10.0, rates, torch.zeros_like(rates))
    probability = torch.exp(-small_rates)
    cumulative = probability.clone()
    counts = torch.zeros_like(rates)
    active = target > cumulative
    k = 0
    while bool(active.any()):
        k += 1
        probability = probability * small_rates / k
        cumulative = cumulative + probability
        counts = counts + active.to(counts.dtype)
        # NOTE: a target within rounding of 1 may never be reached by the sum;
        # such an element stops at the count where the probabilities vanish.
        active = active & (target > cumulative) & (probability > 0)
    return counts


def _poisson_ptrs(rng: CounterRNG, stream: int, rates: torch.Tensor) -> torch.Tensor:
    lam = torch.clamp(rates, min=10.0)
    slam = torch.sqrt(lam)
    log_lam = torch.log(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    log_inv_alpha = torch.log(1.1239 + 1.1328 / (b - 3.4))
    vr = 0.9277 - 3.6224 / (b - 2.0)

    counts = torch.zeros_like(rates)
    pending = rates >= 10.0
    attempt = 0
    while bool(pending.any()):
        count = rates.shape[1]
        uniforms = rng.uniform(substream(stream, 2 * attempt + 1), count, torch.float64)
        v = rng.uniform(substream(stream, 2 * attempt + 2), count, torch.float64)
        u = uniforms - 0.5
        us = 0.5 - torch.abs(u)
        k = torch.floor((2.0 * a / us + b) * u + lam + 0.43)
        quick = (us >= 0.07) & (v <= vr)
        valid = (k >= 0) & ~((us < 0.013) & (v > us))
        log_ratio = torch.log(v) + log_inv_alpha - torch.log(a / (us * us) + b)
        log_target = -lam + k * log_lam - torch.lgamma(k + 1.0)
        accepted = pending & (quick | (valid & (log_ratio <= log_target)))
        counts = torch.where(accepted, k, counts)
        pending = pending & ~accepted
        attempt += 1
    return counts
