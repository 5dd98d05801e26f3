"""The digit reader: a small CNN over 28x28 grey-level images."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

WEIGHTS_PATH = Path(__file__).with_name("weights.pt")

# Mean and standard deviation of MNIST's 60,000 training images, grey levels
# scaled to [0, 1]. These are the constants that torchvision's MNIST examples use.
PIXEL_MEAN = 0.1307
PIXEL_STD = 0.3081


def normalize(images: torch.Tensor) -> torch.Tensor:
    """Standardise float images in [0, 1] to the model's input scale."""
    return (images - PIXEL_MEAN) / PIXEL_STD


class DigitCNN(nn.Module):
    """Three 3x3 convolution blocks and a two-layer head; 33,194 parameters.

    Input: ``N x 1 x 28 x 28`` float images, already passed through ``normalize``.
    Output: ``N x 10`` logits, one per digit.
    """

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 28 -> 14
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 14 -> 7
            nn.Conv2d(32, 32, kernel_size=3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 7 -> 3
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(32 * 3 * 3, 64),
            nn.ReLU(),
            nn.Linear(64, 10),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(images))


def load_model(path: str | Path = WEIGHTS_PATH) -> DigitCNN:
    """Build a DigitCNN with the weights at ``path``, in eval mode on the CPU."""
    model = DigitCNN()
    state_dict = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(state_dict)
    return model.eval()
