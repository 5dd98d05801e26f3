"""Bind the digit reader and its evaluation set to pytest-visionguard."""

from __future__ import annotations

import pytest
from digit_reader.data import NUM_CLASSES
from digit_reader.data import evaluation_set
from digit_reader.model import load_model
from digit_reader.model import normalize

import pytest_visionguard as vg


@pytest.fixture(scope="session")
def visionguard_model() -> vg.Classifier:
    """The committed digit reader, with its normalisation applied after corruption."""
    return vg.Classifier(load_model(), preprocess=normalize)


@pytest.fixture(scope="session")
def visionguard_data() -> vg.EvalSet:
    """The 1,600 held-out digits of both sites, with site, stroke and ink groups."""
    images, labels, metadata = evaluation_set()
    return vg.EvalSet(
        images,
        labels,
        metadata=metadata,
        class_names=[str(digit) for digit in range(NUM_CLASSES)],
        name="mail digits, north and south",
    )
