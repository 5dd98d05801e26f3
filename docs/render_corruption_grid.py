"""Render every corruption at every severity on a photograph, as one PNG grid.

Rows are corruptions in `CORRUPTIONS` order; the first column is the clean
image, then severities 1 to 5. The photograph is scikit-image's astronaut
(public domain) at 224 px, corrupted at that size and shown at `--tile` px.
Needs Pillow (a development dependency) for the labels and the PNG.

Example:
    python docs/render_corruption_grid.py --output docs/corruption_grid.png
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from PIL import ImageDraw

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_visionguard.corruptions import CORRUPTIONS  # noqa: E402
from pytest_visionguard.corruptions import corrupt  # noqa: E402

PHOTO = ROOT / "tests" / "corruptions" / "data" / "imagecorruptions_reference.npz"
LABEL_WIDTH = 130
HEADER_HEIGHT = 18


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--output", type=Path, default=ROOT / "docs" / "corruption_grid.png"
    )
    parser.add_argument("--tile", type=int, default=96, help="tile side in px")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    with np.load(PHOTO) as data:
        photo = torch.from_numpy(data["clean/224/astronaut"]).permute(2, 0, 1)[None]
    rows = [
        render_row(photo, name, arguments.seed, arguments.tile) for name in CORRUPTIONS
    ]
    grid = assemble(rows, arguments.tile)
    grid.save(arguments.output, optimize=True)
    print(f"wrote {arguments.output} ({grid.width}×{grid.height})")


def render_row(
    photo: torch.Tensor, name: str, seed: int, tile: int
) -> list[np.ndarray]:
    """Return the clean tile and one tile per severity for corruption `name`."""
    images = [photo] + [corrupt(photo, name, s, seed=seed) for s in range(1, 6)]
    tiles = []
    for image in images:
        small = F.interpolate(image.float(), size=(tile, tile), mode="area")
        tiles.append(small[0].round().clamp(0, 255).byte().permute(1, 2, 0).numpy())
    return tiles


def assemble(rows: list[list[np.ndarray]], tile: int) -> Image.Image:
    width = LABEL_WIDTH + 6 * tile
    height = HEADER_HEIGHT + len(rows) * tile
    grid = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(grid)
    for column, title in enumerate(["clean", "1", "2", "3", "4", "5"]):
        draw.text((LABEL_WIDTH + column * tile + 4, 3), title, fill="black")
    for index, (name, row) in enumerate(zip(CORRUPTIONS, rows, strict=True)):
        top = HEADER_HEIGHT + index * tile
        draw.text((4, top + tile // 2 - 6), name, fill="black")
        for column, tile_array in enumerate(row):
            grid.paste(Image.fromarray(tile_array), (LABEL_WIDTH + column * tile, top))
    return grid


if __name__ == "__main__":
    main()
