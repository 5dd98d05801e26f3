"""Procedural frost textures, standing in for the reference's frost photographs.

`imagecorruptions` blends a crop of one of five photographs of frost on glass
into the image. Those photographs are not shipped here, so five tileable
textures are drawn instead: fern-like ice crystals (a straight needle with
side needles at about ±60 degrees, thinning towards its tip) over a mottled
haze, in a bluish white. Their mean brightness (0.50 to 0.78) and contrast
match the spread of the reference photographs (grey means 0.48 to 0.81, std
0.09 to 0.17), so the blend `c0 * x + c1 * frost` damages images as much.

Textures are drawn once per process on the CPU from fixed keys, so they do not
depend on the user's seed or on the device, and cached.
"""

from __future__ import annotations

import functools
import math

import torch
import torch.nn.functional as F

from pytest_visionguard.corruptions._ops import gaussian_filter
from pytest_visionguard.corruptions._random import CounterRNG

TEXTURE_COUNT = 5
TEXTURE_SIZE = 448
"""Side (px) of each tileable texture, drawn at the scale of a 224 px image."""

_TINT = (0.84, 0.92, 1.0)
_MEAN_BRIGHTNESS = (0.49, 0.57, 0.65, 0.74, 0.80)
_CRYSTAL_COUNT = (900, 760, 640, 540, 460)
_CONTRAST = 1.25
_BRANCHES = 14
_SAMPLES_PER_NEEDLE = 40


@functools.lru_cache(maxsize=TEXTURE_COUNT)
def frost_texture(index: int) -> torch.Tensor:
    """Return texture `index` (0 to 4): a 3×448×448 float32 CPU tensor in [0, 1]."""
    rng = CounterRNG(0, "frost_texture", 1, torch.tensor([index]))
    size = TEXTURE_SIZE
    crystals = _crystal_density(rng, _CRYSTAL_COUNT[index], size)
    needles = 1.0 - torch.exp(-1.4 * gaussian_filter(crystals, 0.6, "wrap"))
    glow = 1.0 - torch.exp(-0.35 * gaussian_filter(crystals, 3.0, "wrap"))
    haze = _haze(rng, size)
    gray = 0.55 * needles + 0.30 * glow + 0.08 * haze
    gray = _CONTRAST * (gray - gray.mean()) + _MEAN_BRIGHTNESS[index]
    tint = torch.tensor(_TINT).view(1, 3, 1, 1)
    texture = (gray * tint + (1.0 - tint) * 0.35 * gray.mean()).clamp(0.0, 1.0)
    return texture[0].contiguous()


def _crystal_density(rng: CounterRNG, count: int, size: int) -> torch.Tensor:
    """Splat the needles of `count` crystals into a 1×1×size×size density map."""
    draws = rng.uniform(0, 6 * count, torch.float64).view(count, 6)
    start = draws[:, 0:2] * size
    angle = draws[:, 2] * 2.0 * math.pi
    length = 10.0 + 50.0 * draws[:, 3] ** 2
    brightness = 0.45 + 0.55 * draws[:, 4]

    branch_draws = rng.uniform(1, 3 * count * _BRANCHES, torch.float64)
    branch_draws = branch_draws.view(count, _BRANCHES, 3)
    along = (torch.arange(_BRANCHES, dtype=torch.float64) + 0.5) / _BRANCHES
    side = torch.where(torch.arange(_BRANCHES) % 2 == 0, 1.0, -1.0).to(torch.float64)
    spread = math.radians(60.0) + math.radians(15.0) * (branch_draws[..., 0] - 0.5)
    branch_angle = angle.view(-1, 1) + side * spread
    branch_length = (
        length.view(-1, 1) * (1.0 - along) * (0.25 + 0.35 * branch_draws[..., 1])
    )
    branch_start = start.view(-1, 1, 2) + along.view(1, -1, 1) * length.view(
        -1, 1, 1
    ) * torch.stack((torch.sin(angle), torch.cos(angle)), -1).view(-1, 1, 2)
    branch_brightness = brightness.view(-1, 1) * (0.5 + 0.5 * branch_draws[..., 2])

    starts = torch.cat((start, branch_start.reshape(-1, 2)))
    angles = torch.cat((angle, branch_angle.reshape(-1)))
    lengths = torch.cat((length, branch_length.reshape(-1)))
    weights = torch.cat((brightness, branch_brightness.reshape(-1)))
    return _splat_segments(starts, angles, lengths, weights, size)


def _splat_segments(
    starts: torch.Tensor,
    angles: torch.Tensor,
    lengths: torch.Tensor,
    weights: torch.Tensor,
    size: int,
) -> torch.Tensor:
    """Draw line segments with bilinear splats on a torus; density per px of length."""
    steps = torch.linspace(0.0, 1.0, _SAMPLES_PER_NEEDLE, dtype=torch.float64)
    direction = torch.stack((torch.sin(angles), torch.cos(angles)), -1)
    offsets = steps.view(1, -1, 1) * (lengths.view(-1, 1, 1) * direction.view(-1, 1, 2))
    points = (starts.view(-1, 1, 2) + offsets).reshape(-1, 2)
    # Needles taper: full weight at the root, a third at the tip.
    taper = (1.0 - 0.67 * steps).view(1, -1)
    point_weight = (weights * lengths / _SAMPLES_PER_NEEDLE).view(-1, 1) * taper
    point_weight = point_weight.reshape(-1)

    base = torch.floor(points)
    fraction = points - base
    rows = base[:, 0].to(torch.int64)
    columns = base[:, 1].to(torch.int64)
    density = torch.zeros(size * size, dtype=torch.float64)
    for dy, dx in ((0, 0), (0, 1), (1, 0), (1, 1)):
        share = (fraction[:, 0] if dy else 1 - fraction[:, 0]) * (
            fraction[:, 1] if dx else 1 - fraction[:, 1]
        )
        flat = ((rows + dy) % size) * size + (columns + dx) % size
        density.index_add_(0, flat, point_weight * share)
    return density.view(1, 1, size, size).to(torch.float32)


def _haze(rng: CounterRNG, size: int) -> torch.Tensor:
    """Return tileable 1/f noise of zero mean and unit std, 1×1×size×size."""
    noise = rng.normal(2, size * size, torch.float32).view(size, size)
    spectrum = torch.fft.rfft2(noise)
    fy = torch.fft.fftfreq(size).view(-1, 1)
    fx = torch.fft.rfftfreq(size).view(1, -1)
    radius = torch.sqrt(fy**2 + fx**2).clamp(min=1.0 / size)
    haze: torch.Tensor = torch.fft.irfft2(spectrum / radius**1.2, s=(size, size))
    haze = (haze - haze.mean()) / haze.std()
    return haze.view(1, 1, size, size)


def frost_layers(
    draws: torch.Tensor, height: int, width: int, scale: float, like: torch.Tensor
) -> torch.Tensor:
    """Return one frost crop per image, N×3×height×width, for size scale `scale`.

    `draws` contains four random integers per image (N×4): the texture, the top
    and left of the crop, and its orientation (bit 0 flips columns, bit 1 rows,
    bit 2 transposes). The crop covers `height / scale` × `width / scale`
    texture pixels, wrapping around the tileable texture. Below scale 1 each
    image pixel averages `ceil(1 / scale)`² texture samples; above it the crop
    is enlarged bilinearly.
    """
    textures = _stack_on_device(like.device, like.dtype)
    size = TEXTURE_SIZE
    step = 1.0 / scale
    samples = max(1, math.ceil(step)) if step >= 1 else 1
    grid_h = height * samples if step >= 1 else math.ceil(height * step) + 1
    grid_w = width * samples if step >= 1 else math.ceil(width * step) + 1
    spacing = step / samples if step >= 1 else 1.0
    rows = torch.floor((torch.arange(grid_h, device=like.device) + 0.5) * spacing)
    columns = torch.floor((torch.arange(grid_w, device=like.device) + 0.5) * spacing)

    texture = draws[:, 0] % TEXTURE_COUNT
    orientation = draws[:, 3] % 8
    along = draws[:, 1:2] % size + rows.to(torch.int64).view(1, -1)
    across = draws[:, 2:3] % size + columns.to(torch.int64).view(1, -1)
    along = torch.where((orientation & 2).bool().view(-1, 1), size - 1 - along, along)
    across = torch.where(
        (orientation & 1).bool().view(-1, 1), size - 1 - across, across
    )
    along = along.remainder(size).view(-1, grid_h, 1)
    across = across.remainder(size).view(-1, 1, grid_w)
    transposed = (orientation & 4).bool().view(-1, 1, 1)
    texture_row = torch.where(transposed, across, along)
    texture_column = torch.where(transposed, along, across)
    flat = (texture.view(-1, 1, 1) * size + texture_row) * size + texture_column
    values = textures.index_select(1, flat.reshape(-1))
    layers = values.view(3, -1, grid_h, grid_w).transpose(0, 1)
    if samples > 1:
        return F.avg_pool2d(layers, samples)
    if step < 1:
        layers = F.interpolate(
            layers, scale_factor=scale, mode="bilinear", align_corners=False
        )
        return layers[..., :height, :width].contiguous()
    return layers.contiguous()


_DEVICE_CACHE: dict[tuple[str, torch.dtype], torch.Tensor] = {}


def _stack_on_device(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Return all textures as one 3×(5·448·448) tensor on `device`, cached."""
    key = (str(device), dtype)
    stack = _DEVICE_CACHE.get(key)
    if stack is None:
        textures = torch.stack([frost_texture(i) for i in range(TEXTURE_COUNT)])
        stack = textures.transpose(0, 1).reshape(3, -1).to(device=device, dtype=dtype)
        _DEVICE_CACHE[key] = stack
    return stack
