"""Temperature scaling: the fit recovers a known temperature and keeps predictions."""

from __future__ import annotations

import numpy as np
import pytest

from pytest_visionguard.metrics import apply_temperature
from pytest_visionguard.metrics import fit_temperature


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_fit_recovers_generating_temperature() -> None:
    # Labels drawn from softmax(z / 3) make the model's softmax(z) three times
    # too sharp, so the fitted temperature should be close to 3.
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4000, 5)) * 3
    truth = _softmax(logits / 3)
    labels = np.array([rng.choice(5, p=row) for row in truth])
    assert fit_temperature(_softmax(logits), labels) == pytest.approx(3.0, rel=0.1)


def test_scaling_keeps_predictions() -> None:
    rng = np.random.default_rng(1)
    probs = _softmax(rng.normal(size=(50, 4)) * 2)
    scaled = apply_temperature(probs, 2.5)
    assert np.array_equal(scaled.argmax(axis=1), probs.argmax(axis=1))
    assert np.allclose(scaled.sum(axis=1), 1.0)
    assert (scaled.max(axis=1) <= probs.max(axis=1) + 1e-12).all()


def test_temperature_one_is_identity() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.05, 0.9, 0.05]])
    assert np.allclose(apply_temperature(probs, 1.0), probs)
