"""Print the figures that the release gates' thresholds were set from.

``python -m digit_reader.measure`` measures the committed model on the
evaluation set with plain torch and numpy, independently of pytest-visionguard,
so its output can be compared with the plugin's gate table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from digit_reader.data import evaluation_set
from digit_reader.model import DigitCNN
from digit_reader.model import load_model
from digit_reader.model import normalize

# ImageNet-C gaussian_noise at severity 3: x + N(0, 0.18) on [0, 1], clipped.
GAUSSIAN_NOISE_STD = 0.18
# Stand-in for low light, used only here: x * 0.4 + N(0, 0.02), clipped.
LOW_LIGHT_GAIN = 0.4
LOW_LIGHT_NOISE_STD = 0.02
NOISE_SEEDS = range(5)

CALIBRATION_BINS = 15
FALSE_NEGATIVE_DIGIT = 0
MISREAD_COST = 10.0
REVIEW_COST = 1.0
REVIEW_BELOW = 0.8


@torch.no_grad()
def predict_probabilities(model: DigitCNN, images: torch.Tensor) -> np.ndarray:
    """Return ``N x 10`` softmax probabilities for float images in [0, 1]."""
    return torch.softmax(model(normalize(images)), dim=1).double().numpy()


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Compute the top-label ECE over CALIBRATION_BINS equal-width bins.

    Bin k contains confidences in [k/B, (k+1)/B), and the last bin also contains 1.0.
    Each non-empty bin adds ``count / n * |mean confidence - accuracy|``.
    """
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    edges = np.arange(CALIBRATION_BINS + 1) / CALIBRATION_BINS
    bins = np.clip(
        np.searchsorted(edges, confidence, side="right") - 1, 0, CALIBRATION_BINS - 1
    )
    error = 0.0
    for k in range(CALIBRATION_BINS):
        in_bin = bins == k
        if in_bin.any():
            gap = abs(confidence[in_bin].mean() - correct[in_bin].mean())
            error += in_bin.mean() * gap
    return float(error)


def cost_per_image(
    probabilities: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Return each image's cost and whether it went to review.

    An image whose confidence is below REVIEW_BELOW goes to a person and costs
    REVIEW_COST. Any other image costs MISREAD_COST when misread and 0 otherwise.
    """
    reviewed = probabilities.max(axis=1) < REVIEW_BELOW
    misread = probabilities.argmax(axis=1) != labels
    cost = np.where(reviewed, REVIEW_COST, np.where(misread, MISREAD_COST, 0.0))
    return cost, reviewed


def darken(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Apply the low-light stand-in: scale by LOW_LIGHT_GAIN, add noise, clip."""
    noise = torch.randn(images.shape, generator=generator) * LOW_LIGHT_NOISE_STD
    return (images * LOW_LIGHT_GAIN + noise).clamp(0, 1)


def add_gaussian_noise(
    images: torch.Tensor, generator: torch.Generator
) -> torch.Tensor:
    """Add N(0, GAUSSIAN_NOISE_STD) to every pixel and clip to [0, 1]."""
    noise = torch.randn(images.shape, generator=generator) * GAUSSIAN_NOISE_STD
    return (images + noise).clamp(0, 1)


def by_site(values: np.ndarray, metadata: pd.DataFrame) -> pd.Series:
    """Return the mean of ``values`` over all images and for each site."""
    per_site = pd.Series(values).groupby(metadata["site"].to_numpy()).mean()
    return pd.concat([pd.Series({"all": values.mean()}), per_site])


def corrupted_accuracy(
    model: DigitCNN,
    images: torch.Tensor,
    labels: np.ndarray,
    metadata: pd.DataFrame,
    corrupt: Callable[[torch.Tensor, torch.Generator], torch.Tensor],
) -> pd.DataFrame:
    """Return accuracy overall and per site (rows) for each seed in NOISE_SEEDS."""
    columns = {}
    for seed in NOISE_SEEDS:
        generator = torch.Generator().manual_seed(seed)
        probabilities = predict_probabilities(model, corrupt(images, generator))
        columns[f"seed {seed}"] = by_site(
            probabilities.argmax(axis=1) == labels, metadata
        )
    table = pd.DataFrame(columns)
    return table.assign(
        mean=table.mean(axis=1), min=table.min(axis=1), max=table.max(axis=1)
    )


def print_table(title: str, table: pd.DataFrame | pd.Series) -> None:
    print(title)
    print(table.round(4).to_string(), end="\n\n")


def print_clean_figures(
    probabilities: np.ndarray, labels: np.ndarray, metadata: pd.DataFrame
) -> None:
    """Print accuracy by group, the false negative rate of one digit, and ECE."""
    correct = probabilities.argmax(axis=1) == labels
    print_table("clean accuracy", by_site(correct, metadata))
    for column in ("stroke", "ink"):
        groups = pd.Series(correct).groupby(metadata[column].to_numpy())
        print_table(
            f"clean accuracy by {column} (n, accuracy)", groups.agg(["size", "mean"])
        )

    positives = labels == FALSE_NEGATIVE_DIGIT
    missed = pd.Series(~correct[positives]).groupby(
        metadata["site"].to_numpy()[positives]
    )
    print_table(
        f"false negative rate of digit {FALSE_NEGATIVE_DIGIT} (positives, rate)",
        missed.agg(["size", "mean"]),
    )

    ece = {"all": expected_calibration_error(probabilities, labels)}
    for site in ("north", "south"):
        in_site = (metadata["site"] == site).to_numpy()
        ece[site] = expected_calibration_error(probabilities[in_site], labels[in_site])
    print_table(f"top-label ECE, {CALIBRATION_BINS} equal-width bins", pd.Series(ece))


def print_cost_figures(
    probabilities: np.ndarray, labels: np.ndarray, metadata: pd.DataFrame
) -> None:
    """Print the expected cost and review rate, overall and per site."""
    cost, reviewed = cost_per_image(probabilities, labels)
    misread = probabilities.argmax(axis=1) != labels
    table = pd.DataFrame(
        {
            "expected_cost": by_site(cost, metadata),
            "review_rate": by_site(reviewed.astype(float), metadata),
            "cost_without_review": by_site(misread * MISREAD_COST, metadata),
        }
    )
    title = (
        f"cost: misread {MISREAD_COST:g}, "
        f"review {REVIEW_COST:g} below confidence {REVIEW_BELOW}"
    )
    print_table(title, table)
    print(f"standard deviation of the cost per image: {cost.std(ddof=1):.3f}")


def main() -> None:
    uint8_images, label_tensor, metadata = evaluation_set()
    images = uint8_images.float() / 255.0
    labels = label_tensor.numpy()
    model = load_model()
    probabilities = predict_probabilities(model, images)

    print_clean_figures(probabilities, labels, metadata)
    for name, corrupt in (
        ("gaussian noise", add_gaussian_noise),
        ("low light", darken),
    ):
        table = corrupted_accuracy(model, images, labels, metadata, corrupt)
        print_table(f"accuracy under {name}", table)
    print_cost_figures(probabilities, labels, metadata)


if __name__ == "__main__":
    main()
