"""Train the digit reader and write its weights: ``python -m digit_reader.train``.

Training is deterministic: the same torch build on the same CPU writes the same
weights bit for bit. Another torch version or CPU instruction set may change
the last bits of the floating-point sums, and with them the weights.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from digit_reader.data import DigitSplit
from digit_reader.data import build_splits
from digit_reader.model import WEIGHTS_PATH
from digit_reader.model import DigitCNN
from digit_reader.model import normalize

TRAIN_SEED = 0
EPOCHS = 8
BATCH_SIZE = 64
LEARNING_RATE = 1e-3
# One thread, because a different thread count can split floating-point sums
# differently and so change the weights.
NUM_THREADS = 1


def to_model_input(images: torch.Tensor) -> torch.Tensor:
    """Convert uint8 images (0-255) to the normalised float input of the model."""
    return normalize(images.float() / 255.0)


def train(split: DigitSplit) -> DigitCNN:
    """Train a fresh DigitCNN on ``split`` with Adam and cross-entropy."""
    torch.manual_seed(TRAIN_SEED)
    model = DigitCNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    inputs = to_model_input(split.images)
    order_generator = torch.Generator().manual_seed(TRAIN_SEED)

    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(split), generator=order_generator)
        for batch in order.split(BATCH_SIZE):
            optimizer.zero_grad()
            loss = F.cross_entropy(model(inputs[batch]), split.labels[batch])
            loss.backward()
            optimizer.step()
    return model.eval()


@torch.no_grad()
def accuracy_by_site(model: DigitCNN, split: DigitSplit) -> dict[str, float]:
    """Return the share of correctly read digits for each site in ``split``."""
    predicted = model(to_model_input(split.images)).argmax(dim=1)
    correct = (predicted == split.labels).numpy()
    return {
        site: float(correct[split.site == site].mean()) for site in ("north", "south")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--output",
        type=Path,
        default=WEIGHTS_PATH,
        help=f"where to write the state_dict (default: {WEIGHTS_PATH})",
    )
    arguments = parser.parse_args()

    torch.set_num_threads(NUM_THREADS)
    torch.use_deterministic_algorithms(True)

    splits = build_splits()
    started = time.perf_counter()
    model = train(splits.train)
    elapsed = time.perf_counter() - started

    for name, split in (("train", splits.train), ("evaluation", splits.evaluation)):
        figures = accuracy_by_site(model, split)
        north, south = figures["north"], figures["south"]
        print(f"{name:<10} accuracy: north {north:.3f}, south {south:.3f}")
    torch.save(model.state_dict(), arguments.output)
    print(f"trained in {elapsed:.1f} s; weights written to {arguments.output}")


if __name__ == "__main__":
    main()
