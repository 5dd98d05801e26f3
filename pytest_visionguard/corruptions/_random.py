"""Counter-based random numbers for corruptions.

Every random value is a hash of (seed, corruption, severity, stream, image
index, element position), so image i gets the same draws whatever batch it is
in, its position in the batch or the device, and no global generator (torch,
numpy or `random`) is read or advanced.

The per-image keys come from SplitMix64 (Steele, Lea & Flood 2014) computed in
int64 tensor arithmetic. The bits of element p of an image with key halves
(m, a) are `lowbias32(p * (m | 1) + a)`, the 32-bit integer hash `lowbias32`
(C. Wellons, hash-prospector) of an image-specific bijection of the counter,
on int32 tensors. Both hashes need wrapping integer multiplication and a
logical right shift; torch shifts signed integers arithmetically, so the
shifts below mask off the sign-extended bits.

The bits, and so the uniforms made from them, are identical on every device.
Normals and Poisson draws go through `log`, `cos` and `lgamma`, whose last bit
may differ between CPU and CUDA, so a float result can differ by an ulp there
(a uint8 pixel by one level, rarely).

NOTE: no GPU has run this code yet; `test_cuda_matches_cpu` checks the claim
above on a machine with CUDA and is skipped elsewhere.
"""

from __future__ import annotations

import functools
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

    def image_keys(self, stream: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return each image's odd multiplier and offset for `stream`, int32 (N,)."""
        stream_key = _signed(splitmix64(self._base ^ (stream & _MASK64)), 64)
        keys = _splitmix64_tensor(self.indices * _signed(_GOLDEN64, 64) ^ stream_key)
        multiplier = (keys & 0xFFFFFFFF).to(torch.int32) | 1
        offset = _shift_right64(keys, 32).to(torch.int32)
        return multiplier, offset

    def bits(self, stream: int, count: int) -> torch.Tensor:
        """Return `count` random int32 words per image, shape (N, count)."""
        multiplier, offset = self.image_keys(stream)
        counter = torch.arange(count, dtype=torch.int32, device=self.device)
        words = counter.view(1, -1) * multiplier.view(-1, 1)
        return lowbias32(words.add_(offset.view(-1, 1)))

    def bits_at(
        self, stream: int, images: torch.Tensor, positions: torch.Tensor
    ) -> torch.Tensor:
        """Return the words of `bits(stream, ...)` at (image row, position) pairs."""
        multiplier, offset = self.image_keys(stream)
        words = positions.to(torch.int32) * multiplier[images]
        return lowbias32(words.add_(offset[images]))

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
    """Return the stream id of part `part` of `stream` (a hash of both)."""
    return splitmix64((stream & _MASK64) ^ splitmix64(part ^ 0x5EED))


_TABLE_STEP = 1.0 / 32.0
_TABLE_RATE_LIMIT = 64.0
_TABLE_COUNTS = 160
_GUIDE_BITS = 7


def poisson(
    rng: CounterRNG, stream: int, rates: torch.Tensor, dtype: torch.dtype
) -> torch.Tensor:
    """Draw Poisson counts with the given rates, shape (N, M), by the image's key.

    A rate below 64 is split as `grid + remainder`, the grid a multiple of
    1/32: Poisson(grid) is drawn by inversion through a precomputed table of
    CDF thresholds (with a guide table, Chen & Asau 1974) and Poisson(remainder)
    by sequential inversion, and the two are added, which is exact because
    Poisson variables add. A rate of 64 or more uses Hörmann's transformed
    rejection (PTRS, Hörmann 1993, as numpy's `random_poisson_ptrs`), each
    attempt reading fresh counters. Every draw depends only on the image's key
    and the element's position.
    """
    count = rates.shape[1]
    flat_rates = rates.reshape(-1).to(torch.float32)
    counts = _poisson_table(rng, stream, flat_rates.clamp(max=_TABLE_RATE_LIMIT), count)
    large = torch.nonzero(flat_rates >= _TABLE_RATE_LIMIT).view(-1)
    if large.numel():
        draw = _ElementDraws(rng, substream(stream, 3), large, count)
        counts[large] = _poisson_ptrs(draw, flat_rates[large].to(torch.float64)).to(
            counts.dtype
        )
    return counts.view_as(rates).to(dtype)


@functools.lru_cache(maxsize=8)
def _poisson_tables(device: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the threshold table and the guide table, flattened.

    Row l is the rate `l / 32`. Threshold [l, k] is the smallest 24-bit word t
    whose uniform `(t + 0.5) / 2**24` exceeds P(X <= k), so a draw is the first
    k whose threshold is above its word. Guide [l, j] is the smallest k with
    P(X <= k) >= j / 128, where the search for a word in [j, j + 1) / 128
    starts. Both are integers computed on the CPU in float64, so every device
    gets the same counts from the same words.
    """
    levels = int(_TABLE_RATE_LIMIT / _TABLE_STEP) + 1
    rates = torch.arange(levels, dtype=torch.float64).view(-1, 1) * _TABLE_STEP
    thresholds, guide = _threshold_tables(rates, _TABLE_COUNTS)
    return thresholds.to(device), guide.to(device)


def _poisson_table(
    rng: CounterRNG, stream: int, rates: torch.Tensor, count: int
) -> torch.Tensor:
    thresholds, guide = _poisson_tables(str(rates.device))
    level = torch.floor(rates * (1.0 / _TABLE_STEP))
    remainder = rates.sub(level, alpha=_TABLE_STEP).clamp_(min=0.0)
    row = level.to(torch.int64).mul_(_TABLE_COUNTS)

    word = (rng.bits(stream, count).view(-1) >> 8) & 0xFFFFFF
    guide_row = level.to(torch.int64).mul_(1 << _GUIDE_BITS)
    k = guide.index_select(0, guide_row.add_(word >> (24 - _GUIDE_BITS)))
    short = torch.nonzero(thresholds.index_select(0, row + k) <= word).view(-1)
    while short.numel():
        # The guide entry is at most the result, so step up the few below it.
        k.index_add_(0, short, torch.ones_like(short))
        above = thresholds.index_select(0, row[short] + k[short]) <= word[short]
        short = short[above]

    extra = rng.uniform(substream(stream, 1), count, torch.float32).view(-1)
    # exp(-remainder) by its Taylor series: the remainder is below 1/32, so
    # five terms are exact to 3e-10, and plain arithmetic rounds alike on
    # every device.
    stay = 1.0 - remainder * (
        1.0 - remainder * (0.5 - remainder * (1 / 6 - remainder / 24))
    )
    more = torch.nonzero(extra > stay).view(-1)
    counts = k.to(torch.float32)
    if more.numel():
        counts[more] += _poisson_inversion(
            extra[more].double(), remainder[more].double(), stay[more].double()
        ).float()
    return counts


def poisson_of_levels(
    rng: CounterRNG, stream: int, levels: torch.Tensor, photons: float
) -> torch.Tensor:
    """Draw Poisson(levels / 255 * photons) for 8-bit levels (int64, shape (N, M)).

    The same inversion as `poisson`, through a table for the 256 rates of one
    photon count, so no remainder needs drawing; float32 counts.
    """
    count = levels.shape[1]
    thresholds, guide, width = _level_tables(float(photons), str(levels.device))
    flat = levels.reshape(-1)
    word = (rng.bits(stream, count).view(-1) >> 8) & 0xFFFFFF
    start = guide.index_select(
        0, flat * (1 << _GUIDE_BITS) + (word >> (24 - _GUIDE_BITS))
    )
    row = flat * width
    k = start
    short = torch.nonzero(thresholds.index_select(0, row + k) <= word).view(-1)
    while short.numel():
        k.index_add_(0, short, torch.ones_like(short))
        above = thresholds.index_select(0, row[short] + k[short]) <= word[short]
        short = short[above]
    return k.to(torch.float32).view_as(levels)


@functools.lru_cache(maxsize=32)
def _level_tables(
    photons: float, device: str
) -> tuple[torch.Tensor, torch.Tensor, int]:
    rates = torch.arange(256, dtype=torch.float64).view(-1, 1) / 255 * photons
    width = int(photons + 12 * math.sqrt(photons) + 24)
    thresholds, guide = _threshold_tables(rates, width)
    return thresholds.to(device), guide.to(device), width


def _threshold_tables(
    rates: torch.Tensor, width: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return flattened threshold and guide tables for a column of rates."""
    k = torch.arange(width, dtype=torch.float64).view(1, -1)
    log_pmf = k * torch.log(rates.clamp(min=1e-300)) - rates - torch.lgamma(k + 1)
    log_pmf = torch.where(rates > 0, log_pmf, torch.where(k == 0, 0.0, -math.inf))
    cdf = torch.exp(log_pmf).cumsum(1).clamp(max=1.0)
    cdf[:, -1] = 1.0
    thresholds = torch.floor(cdf * (1 << 24) - 0.5) + 1
    steps = torch.arange(1 << _GUIDE_BITS, dtype=torch.float64) / (1 << _GUIDE_BITS)
    guide = torch.searchsorted(cdf, steps.expand(rates.shape[0], -1).contiguous())
    return thresholds.to(torch.int32).reshape(-1), guide.to(torch.int64).reshape(-1)


def _poisson_inversion(
    target: torch.Tensor, rates: torch.Tensor, probability: torch.Tensor
) -> torch.Tensor:
    """Return Poisson(rates) counts for targets known to exceed P(0) = `probability`."""
    counts = torch.ones_like(rates)
    active = torch.arange(rates.numel(), device=rates.device)
    probability = probability * rates
    cumulative = torch.exp(-rates) + probability
    k = 1
    while active.numel():
        # NOTE: a target within rounding of 1 may never be reached by the sum;
        # such an element stops where the probabilities vanish.
        unfinished = (target > cumulative) & (probability > 0)
        active = active[unfinished]
        counts[active] += 1
        target = target[unfinished]
        rates = rates[unfinished]
        k += 1
        probability = probability[unfinished] * rates / k
        cumulative = cumulative[unfinished] + probability
    return counts


class _ElementDraws:
    """Uniforms for chosen elements of an (N, M) array, by image and position."""

    def __init__(
        self, rng: CounterRNG, stream: int, elements: torch.Tensor, count: int
    ) -> None:
        self.rng = rng
        self.stream = stream
        self.images = torch.div(elements, count, rounding_mode="floor")
        self.positions = elements % count

    def uniform(self, part: int, keep: torch.Tensor | None) -> torch.Tensor:
        images = self.images if keep is None else self.images[keep]
        positions = self.positions if keep is None else self.positions[keep]
        words = self.rng.bits_at(substream(self.stream, part), images, positions)
        return _to_uniform(words, torch.float64)


def _poisson_ptrs(draw: _ElementDraws, rates: torch.Tensor) -> torch.Tensor:
    counts = torch.zeros_like(rates)
    pending = torch.arange(rates.numel(), device=rates.device)
    attempt = 0
    while pending.numel():
        keep = None if attempt == 0 else pending
        lam = rates[pending]
        u = draw.uniform(2 * attempt, keep) - 0.5
        v = draw.uniform(2 * attempt + 1, keep)
        k, accepted = _ptrs_attempt(lam, u, v)
        counts[pending[accepted]] = k[accepted]
        pending = pending[~accepted]
        attempt += 1
    return counts


def _ptrs_attempt(
    lam: torch.Tensor, u: torch.Tensor, v: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return one PTRS candidate per element and whether it is accepted."""
    slam = torch.sqrt(lam)
    b = 0.931 + 2.53 * slam
    a = -0.059 + 0.02483 * b
    us = 0.5 - torch.abs(u)
    k = torch.floor((2.0 * a / us + b) * u + lam + 0.43)
    quick = (us >= 0.07) & (v <= 0.9277 - 3.6224 / (b - 2.0))
    valid = (k >= 0) & ~((us < 0.013) & (v > us))
    log_inv_alpha = torch.log(1.1239 + 1.1328 / (b - 3.4))
    log_ratio = torch.log(v) + log_inv_alpha - torch.log(a / (us * us) + b)
    log_target = -lam + k * torch.log(lam) - torch.lgamma(k + 1.0)
    return k, quick | (valid & (log_ratio <= log_target))
