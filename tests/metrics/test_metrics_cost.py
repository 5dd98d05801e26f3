"""Expected cost, review and the Bayes decision against loops and hand values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import bayes_decision
from pytest_visionguard.metrics import check_cost_matrix
from pytest_visionguard.metrics import expected_cost
from pytest_visionguard.metrics import per_sample_cost
from pytest_visionguard.metrics import review_rate

COSTS = [[0.0, 1.0, 2.0], [10.0, 0.0, 1.0], [5.0, 5.0, 0.0]]


@st.composite
def cost_cases(draw: st.DrawFn):
    num_classes = draw(st.integers(1, 4))
    n = draw(st.integers(0, 30))
    classes = st.integers(0, num_classes - 1)
    labels = draw(st.lists(classes, min_size=n, max_size=n))
    predicted = draw(st.lists(classes, min_size=n, max_size=n))
    confidence = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    matrix = draw(
        st.lists(
            st.lists(st.floats(0, 100), min_size=num_classes, max_size=num_classes),
            min_size=num_classes,
            max_size=num_classes,
        )
    )
    review_below = draw(st.none() | st.floats(0.0, 1.0))
    review_cost = None if review_below is None else draw(st.floats(0, 50))
    return labels, predicted, confidence, matrix, review_below, review_cost


@settings(max_examples=150, deadline=None)
@given(cost_cases())
def test_per_sample_cost_matches_loop(case):
    labels, predicted, confidence, matrix, review_below, review_cost = case
    expected = []
    for label, guess, c in zip(labels, predicted, confidence, strict=True):
        if review_below is not None and c < review_below:
            expected.append(review_cost)
        else:
            expected.append(matrix[label][guess])

    costs = per_sample_cost(
        labels,
        predicted,
        matrix,
        confidence=confidence,
        review_below=review_below,
        review_cost=review_cost,
    )
    assert costs.dtype == np.float64
    assert costs.tolist() == expected
    mean = expected_cost(
        labels,
        predicted,
        matrix,
        confidence=confidence,
        review_below=review_below,
        review_cost=review_cost,
    )
    if expected:
        assert mean == pytest.approx(sum(expected) / len(expected), rel=1e-12)
    else:
        assert math.isnan(mean)


def test_expected_cost_hand_computed():
    labels = [0, 1, 1, 2]
    predicted = [0, 0, 2, 2]
    assert expected_cost(labels, predicted, COSTS) == pytest.approx((10 + 1) / 4)


def test_review_replaces_cost_below_threshold():
    labels = [1, 1, 0]
    predicted = [0, 0, 0]
    confidence = [0.4, 0.9, 0.5]
    costs = per_sample_cost(
        labels,
        predicted,
        COSTS,
        confidence=confidence,
        review_below=0.5,
        review_cost=3.0,
    )
    # 0.5 is not below 0.5, so only the first image is reviewed.
    assert costs.tolist() == [3.0, 10.0, 0.0]
    assert review_rate(confidence, review_below=0.5) == pytest.approx(1 / 3)


def test_review_rate_edges():
    assert review_rate([0.2, 0.9], review_below=0.0) == 0.0
    assert review_rate([0.2, 0.9], review_below=1.0) == 1.0
    assert math.isnan(review_rate([], review_below=0.5))


def test_review_requires_confidence_and_cost():
    with pytest.raises(VisionGuardError, match="confidence is not"):
        per_sample_cost([0], [0], COSTS, review_below=0.5, review_cost=1.0)
    with pytest.raises(VisionGuardError, match="review_cost is not"):
        per_sample_cost([0], [0], COSTS, confidence=[0.4], review_below=0.5)
    with pytest.raises(VisionGuardError, match="has no effect without review_below"):
        per_sample_cost([0], [0], COSTS, confidence=[0.4], review_cost=1.0)
    with pytest.raises(VisionGuardError, match="review_below must be in"):
        per_sample_cost(
            [0], [0], COSTS, confidence=[0.4], review_below=1.5, review_cost=1.0
        )
    with pytest.raises(VisionGuardError, match="review_cost must be a finite"):
        per_sample_cost(
            [0], [0], COSTS, confidence=[0.4], review_below=0.5, review_cost=-1.0
        )
    with pytest.raises(VisionGuardError, match="confidence has 2 samples"):
        per_sample_cost(
            [0], [0], COSTS, confidence=[0.4, 0.5], review_below=0.5, review_cost=1.0
        )
    with pytest.raises(VisionGuardError, match=r"confidence\[0\] is 1.2"):
        review_rate([1.2], review_below=0.5)


def test_confidence_ignored_without_review():
    costs = per_sample_cost([1], [0], COSTS, confidence=[0.1])
    assert costs.tolist() == [10.0]


def test_cost_matrix_accepts_common_containers():
    expected = np.array(COSTS)
    frame = pd.DataFrame(COSTS, index=["a", "b", "c"], columns=["a", "b", "c"])
    for matrix in (COSTS, np.array(COSTS, dtype=np.int32), torch.tensor(COSTS), frame):
        checked = check_cost_matrix(matrix, 3)
        assert checked.dtype == np.float64
        np.testing.assert_array_equal(checked, expected)


def test_cost_matrix_is_a_copy():
    original = np.array(COSTS)
    check_cost_matrix(original, 3)[0, 0] = 99.0
    assert original[0, 0] == 0.0


def test_cost_matrix_errors_name_shape_and_entry():
    with pytest.raises(VisionGuardError, match=r"shape \(2, 2\), expected \(3, 3\)"):
        check_cost_matrix([[0, 1], [1, 0]], 3)
    with pytest.raises(VisionGuardError, match=r"cost_matrix\[1, 0\] is -1.0"):
        check_cost_matrix([[0, 1], [-1, 0]], 2)
    with pytest.raises(VisionGuardError, match=r"cost_matrix\[0, 1\] is nan"):
        check_cost_matrix([[0, math.nan], [1, 0]], 2)
    with pytest.raises(VisionGuardError, match=r"cost_matrix\[0, 0\] is inf"):
        check_cost_matrix([[math.inf, 1], [1, 0]], 2)
    with pytest.raises(VisionGuardError, match="square"):
        per_sample_cost([0], [0], [[0, 1, 2], [1, 0, 2]])
    with pytest.raises(VisionGuardError, match=r"labels\[0\] is 3"):
        per_sample_cost([3], [0], COSTS)


def test_bayes_decision_matches_loop():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=300)
    matrix = np.array(COSTS)
    expected = []
    for row in probs:
        risks = [sum(row[i] * matrix[i, j] for i in range(3)) for j in range(3)]
        expected.append(int(np.argmin(risks)))
    decision = bayes_decision(probs, matrix)
    assert decision.dtype == np.int64
    assert decision.tolist() == expected


def test_bayes_decision_with_zero_one_cost_is_argmax():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(5), size=300)
    zero_one = 1.0 - np.eye(5)
    np.testing.assert_array_equal(bayes_decision(probs, zero_one), probs.argmax(axis=1))


def test_bayes_decision_hand_computed():
    # Missing class 1 costs 10: predicting 1 for p = (0.8, 0.2) risks 0.8,
    # predicting 0 risks 2.0.
    assert bayes_decision([[0.8, 0.2]], [[0, 1], [10, 0]]).tolist() == [1]
