"""The generated conftest of the hand-computable PixelReader project."""

from __future__ import annotations

# The model reads its prediction from the image: pixel (0, 0) is the predicted
# class as class / 10, pixel (0, 1) the confidence of that prediction. The
# remaining probability is spread evenly over the other classes. So a test
# chooses every prediction and confidence, and every figure follows by hand.
#
# The data: 100 float images of 3 classes, labels cycling 0, 1, 2.
#   site "north": 60 images, 54 predicted right (accuracy 0.900), confidence 0.9
#   site "south": 40 images, 30 predicted right (accuracy 0.750), confidence 0.9
# So the overall accuracy is 84 / 100 = 0.840, the ECE of north is 0.000 and
# the ECE of south is |0.9 - 0.75| = 0.150; the mistakes predict label + 1.
TINY_CONFTEST = '''
import numpy as np
import pandas as pd
import pytest
import torch

import pytest_visionguard as vg

NUM_CLASSES = 3


class PixelReader(torch.nn.Module):
    """Predicts the class in pixel (0, 0) with the confidence in pixel (0, 1)."""

    def __init__(self):
        super().__init__()
        self.images_seen = 0

    def forward(self, x):
        self.images_seen += x.shape[0]
        predicted = (x[:, 0, 0, 0] * 10).round().long().clamp(0, NUM_CLASSES - 1)
        # Corruptions may push the pixel to 0 or 1; keep every log finite.
        confidence = x[:, 0, 0, 1].double().clamp(0.01, 0.99)
        rest = (1 - confidence) / (NUM_CLASSES - 1)
        probs = rest[:, None].repeat(1, NUM_CLASSES)
        probs[torch.arange(len(x)), predicted] = confidence
        return torch.log(probs)


def make_images(predicted, confidence, size=8):
    images = torch.full((len(predicted), 1, size, size), 0.5)
    images[:, 0, 0, 0] = torch.tensor(predicted, dtype=torch.float32) / 10
    images[:, 0, 0, 1] = torch.tensor(confidence, dtype=torch.float32)
    return images


def make_sites(north=(60, 54), south=(40, 30), confidence=0.9):
    sizes = {"north": north, "south": south}
    labels, predicted, sites = [], [], []
    for site, (count, right) in sizes.items():
        for i in range(count):
            label = (len(labels)) % NUM_CLASSES
            labels.append(label)
            predicted.append(label if i < right else (label + 1) % NUM_CLASSES)
            sites.append(site)
    images = make_images(predicted, [confidence] * len(labels))
    metadata = pd.DataFrame({"site": sites})
    return images, np.array(labels), metadata


@pytest.fixture(scope="session")
def visionguard_model():
    return PixelReader()


@pytest.fixture(scope="session")
def visionguard_data():
    images, labels, metadata = make_sites()
    return vg.EvalSet(images, labels, metadata=metadata, class_names=["cat", "dog", "fox"])
'''
