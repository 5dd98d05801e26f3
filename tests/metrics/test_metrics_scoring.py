"""Brier score and negative log-likelihood against brute force, sklearn and torch."""

from __future__ import annotations

import math

import metric_references as reference
import numpy as np
import pytest
import sklearn.metrics as sklearn_metrics
import torch
from hypothesis import given
from hypothesis import settings

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import NLL_EPSILON
from pytest_visionguard.metrics import brier_score
from pytest_visionguard.metrics import negative_log_likelihood


def random_probs(seed: int, n: int, num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(num_classes, 0.7), size=n)
    labels = rng.integers(0, num_classes, n)
    return probs, labels


@settings(max_examples=100, deadline=None)
@given(reference.calibration_inputs())
def test_brier_matches_brute_force(inputs):
    probs, labels, _ = inputs
    expected = reference.brier_score(probs, labels)
    assert brier_score(probs, labels) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("seed", "num_classes"), [(0, 3), (1, 10)])
def test_brier_matches_sklearn_multiclass(seed, num_classes):
    probs, labels = random_probs(seed, 1000, num_classes)
    expected = sklearn_metrics.brier_score_loss(
        labels, probs, labels=list(range(num_classes))
    )
    assert brier_score(probs, labels) == pytest.approx(expected, rel=1e-12)


def test_brier_two_classes_is_twice_binary_brier():
    probs, labels = random_probs(2, 500, 2)
    binary = sklearn_metrics.brier_score_loss(labels, probs[:, 1])
    assert brier_score(probs, labels) == pytest.approx(2 * binary, rel=1e-12)


def test_brier_hand_computed():
    # (0.2² + 0.2²) + (0.5² + 0.5²) over 2 samples.
    assert brier_score([[0.8, 0.2], [0.5, 0.5]], [0, 1]) == pytest.approx(0.29)


@pytest.mark.parametrize(("seed", "num_classes"), [(3, 2), (4, 5), (5, 10)])
def test_nll_matches_sklearn_log_loss(seed, num_classes):
    probs, labels = random_probs(seed, 1000, num_classes)
    expected = sklearn_metrics.log_loss(labels, probs, labels=list(range(num_classes)))
    assert negative_log_likelihood(probs, labels) == pytest.approx(expected, rel=1e-12)


def test_nll_matches_torch_cross_entropy():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(800, 7, generator=generator, dtype=torch.float64)
    labels = torch.randint(0, 7, (800,), generator=generator)
    expected = torch.nn.functional.cross_entropy(logits, labels).item()
    probs = torch.softmax(logits, dim=1)
    assert negative_log_likelihood(probs, labels) == pytest.approx(expected, rel=1e-10)


def test_nll_zero_probability_is_large_and_finite():
    value = negative_log_likelihood([[1.0, 0.0]], [1])
    assert math.isfinite(value)
    assert value == pytest.approx(-math.log(NLL_EPSILON))
    assert value == pytest.approx(36.04365338911715)


def test_nll_clip_matches_sklearn():
    # scikit-learn 1.9 clips float64 probabilities at the float64 epsilon too.
    probs = np.array([[1.0, 0.0], [0.5, 0.5]])
    labels = np.array([1, 0])
    expected = sklearn_metrics.log_loss(labels, probs, labels=[0, 1])
    assert negative_log_likelihood(probs, labels) == pytest.approx(expected, rel=1e-12)


def test_scores_of_empty_input_are_nan():
    empty_probs, empty_labels = np.zeros((0, 2)), np.zeros(0, dtype=int)
    assert math.isnan(brier_score(empty_probs, empty_labels))
    assert math.isnan(negative_log_likelihood(empty_probs, empty_labels))


@pytest.mark.parametrize("function", [brier_score, negative_log_likelihood])
def test_scores_reject_bad_input(function):
    with pytest.raises(VisionGuardError, match="is nan"):
        function([[math.nan, 1.0]], [0])
    with pytest.raises(VisionGuardError, match="sums to"):
        function([[0.5, 0.6]], [0])
    with pytest.raises(VisionGuardError, match=r"labels\[0\] is 2"):
        function([[0.5, 0.5]], [2])
