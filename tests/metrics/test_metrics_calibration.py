"""Calibration errors against brute-force loops, hand values and torchmetrics."""

from __future__ import annotations

import math

import metric_references as reference
import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from torchmetrics.functional.classification import multiclass_calibration_error

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import RELIABILITY_COLUMNS
from pytest_visionguard.metrics import adaptive_calibration_error
from pytest_visionguard.metrics import classwise_calibration_error
from pytest_visionguard.metrics import expected_calibration_error
from pytest_visionguard.metrics import maximum_calibration_error
from pytest_visionguard.metrics import reliability_table
from pytest_visionguard.metrics._binning import equal_width_bin_index

NORMS = ("l1", "l2", "max")


def two_class(confidences: list[float], dtype: type = np.float64) -> np.ndarray:
    """Stack top-label confidences c >= 0.5 into rows [c, 1 - c] of `dtype`."""
    top = np.asarray(confidences, dtype=np.float64)
    return np.stack([top, 1.0 - top], axis=1).astype(dtype)


# Brute-force references, with edge values, ties and float16/32/64 inputs.


@settings(max_examples=150, deadline=None)
@given(reference.calibration_inputs(), st.sampled_from(NORMS))
def test_ece_matches_brute_force(inputs, norm):
    probs, labels, n_bins = inputs
    expected = reference.expected_calibration_error(probs, labels, n_bins, norm)
    assert expected_calibration_error(
        probs, labels, n_bins=n_bins, norm=norm
    ) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(reference.calibration_inputs(), st.sampled_from(NORMS))
def test_adaptive_ece_matches_brute_force(inputs, norm):
    probs, labels, n_bins = inputs
    expected = reference.adaptive_calibration_error(probs, labels, n_bins, norm)
    assert adaptive_calibration_error(
        probs, labels, n_bins=n_bins, norm=norm
    ) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(reference.calibration_inputs(max_samples=25), st.sampled_from(NORMS))
def test_classwise_ece_matches_brute_force(inputs, norm):
    probs, labels, n_bins = inputs
    expected = reference.classwise_calibration_error(probs, labels, n_bins, norm)
    assert classwise_calibration_error(
        probs, labels, n_bins=n_bins, norm=norm
    ) == pytest.approx(expected, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(reference.calibration_inputs())
def test_mce_is_max_norm(inputs):
    probs, labels, n_bins = inputs
    assert maximum_calibration_error(probs, labels, n_bins=n_bins) == (
        expected_calibration_error(probs, labels, n_bins=n_bins, norm="max")
    )


@settings(max_examples=100, deadline=None)
@given(reference.calibration_inputs())
def test_reliability_table_matches_brute_force_bins(inputs):
    probs, labels, n_bins = inputs
    table = reliability_table(probs, labels, n_bins=n_bins)

    pairs = reference.top_label_pairs(probs, labels)
    counts = [0] * n_bins
    for confidence, _ in pairs:
        counts[reference.equal_width_bin(confidence, n_bins)] += 1
    assert table["count"].tolist() == counts
    assert table["empty"].tolist() == [c == 0 for c in counts]
    assert float((table["weight"] * table["gap"]).sum()) == pytest.approx(
        reference.expected_calibration_error(probs, labels, n_bins), abs=1e-12
    )


@settings(max_examples=100, deadline=None)
@given(reference.calibration_inputs())
def test_adaptive_bins_count_every_sample(inputs):
    probs, labels, n_bins = inputs
    table = reliability_table(probs, labels, n_bins=n_bins, adaptive=True)

    confidences = [c for c, _ in reference.top_label_pairs(probs, labels)]
    assert table["count"].sum() == len(confidences)
    assert not table["empty"].any()
    assert 1 <= len(table) <= min(n_bins, len(confidences))
    for value in set(confidences):
        holding = table[(table["lower"] <= value) & (value < table["upper"])]
        if value == 1.0:
            holding = table.tail(1)
        assert len(holding) == 1


# Hand-computed edge cases.


def test_ece_hand_computed_two_bins():
    # Bin [0.5, 1.0) of 2 bins: confidences 0.6, 0.7, 0.8, 0.9, mean 0.75;
    # 2 of 4 correct, so accuracy 0.5 and ECE 0.25.
    probs = [[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]
    labels = [0, 1, 1, 1]
    assert expected_calibration_error(probs, labels, n_bins=2) == pytest.approx(0.25)


def test_ece_two_classes_uses_top_label():
    # Positive-class binning would put p1 = 0.2 (label 0) in the low bin; the
    # top-label convention scores confidence 0.8 and a correct prediction.
    probs = [[0.8, 0.2]]
    assert expected_calibration_error(probs, [0], n_bins=10) == pytest.approx(0.2)


def test_confidence_one_falls_in_last_bin():
    probs = two_class([1.0, 0.95, 0.95])
    labels = [1, 0, 0]  # the 1.0 prediction is wrong
    table = reliability_table(probs, labels, n_bins=10)
    assert len(table) == 10
    assert table["count"].tolist() == [0] * 9 + [3]
    # One bin [0.9, 1.0]: mean confidence 2.9/3, accuracy 2/3.
    assert expected_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.3)


def test_confidence_zero_falls_in_first_bin():
    assert equal_width_bin_index(np.array([0.0, 0.25, 1.0]), 4).tolist() == [0, 1, 3]
    # Classwise ECE bins every probability, zeros included: class 1 has p = 0
    # with label 1 (bin 0, gap 1) and p = 1 with label 1 (bin 3, gap 0).
    probs = [[1.0, 0.0], [0.0, 1.0]]
    assert classwise_calibration_error(probs, [1, 1], n_bins=4) == pytest.approx(0.5)


@pytest.mark.parametrize("dtype", reference.DTYPES)
@pytest.mark.parametrize("n_bins", [3, 5, 7, 10, 15])
def test_edges_compare_in_float64(dtype, n_bins):
    # Each confidence is the given dtype's nearest value to the edge k/B; it
    # must land in the bin its float64 value belongs to, not the bin of k/B.
    edges = [k / n_bins for k in range(n_bins // 2 + 1, n_bins + 1)]
    probs = two_class(edges, dtype)
    confidences = probs.max(axis=1).astype(np.float64)
    table = reliability_table(probs, np.zeros(len(edges), dtype=int), n_bins=n_bins)

    expected = [0] * n_bins
    for confidence in confidences:
        expected[reference.equal_width_bin(float(confidence), n_bins)] += 1
    assert table["count"].tolist() == expected


@pytest.mark.parametrize("n_bins", [3, 7, 10, 15, 100])
def test_values_one_ulp_from_edges(n_bins):
    # The float64 just below k/B belongs to bin k - 1. Multiplying it by B can
    # round up to k (0.8999999999999999 * 10 gives 9.0), so binning by
    # floor(c·B) would misplace it.
    edges = np.arange(n_bins // 2 + 1, n_bins) / n_bins
    below = np.nextafter(edges, 0.0)
    above = np.nextafter(edges, 1.0)
    bins = np.arange(n_bins // 2 + 1, n_bins)
    assert equal_width_bin_index(below, n_bins).tolist() == (bins - 1).tolist()
    assert equal_width_bin_index(edges, n_bins).tolist() == bins.tolist()
    assert equal_width_bin_index(above, n_bins).tolist() == bins.tolist()


def test_float32_value_below_edge_stays_below():
    # float32(0.7) is 0.699999988..., below the float64 edge 0.7 of 10 bins.
    probs = two_class([0.7], np.float32)
    table = reliability_table(probs, [0], n_bins=10)
    assert int(table.loc[6, "count"]) == 1
    assert int(table.loc[7, "count"]) == 0


def test_float16_value_above_edge_goes_up():
    # float16(0.7) is 0.7001953125, at or above the edge 0.7.
    probs = two_class([0.7], np.float16)
    table = reliability_table(probs, [0], n_bins=10)
    assert int(table.loc[7, "count"]) == 1


def test_same_values_same_bins_across_dtypes():
    # 0.75 and 0.5 are exact in every float dtype, so every dtype agrees.
    values = [0.5, 0.75, 1.0, 0.625]
    labels = [0, 1, 0, 0]
    results = {
        expected_calibration_error(two_class(values, dtype), labels, n_bins=4)
        for dtype in reference.DTYPES
    }
    assert len(results) == 1


def test_fewer_samples_than_bins():
    probs = two_class([0.55, 0.95])
    labels = [0, 1]
    assert expected_calibration_error(probs, labels, n_bins=15) == pytest.approx(
        0.5 * 0.45 + 0.5 * 0.95
    )
    assert adaptive_calibration_error(probs, labels, n_bins=15) == pytest.approx(
        0.5 * 0.45 + 0.5 * 0.95
    )
    assert len(reliability_table(probs, labels, n_bins=15, adaptive=True)) == 2


@pytest.mark.parametrize(
    "function",
    [
        expected_calibration_error,
        adaptive_calibration_error,
        classwise_calibration_error,
        maximum_calibration_error,
    ],
)
def test_single_sample(function):
    value = function(two_class([0.8]), [1])
    assert value == pytest.approx(0.8)


@pytest.mark.parametrize(
    "function",
    [
        expected_calibration_error,
        adaptive_calibration_error,
        classwise_calibration_error,
        maximum_calibration_error,
    ],
)
def test_empty_input_is_nan(function):
    assert math.isnan(function(np.zeros((0, 3)), np.zeros(0, dtype=int)))


def test_adaptive_all_ties_keeps_one_bin():
    probs = two_class([0.8] * 50)
    labels = [0] * 30 + [1] * 20
    table = reliability_table(probs, labels, n_bins=10, adaptive=True)
    assert table["count"].tolist() == [50]
    assert adaptive_calibration_error(probs, labels, n_bins=10) == pytest.approx(0.2)


def test_adaptive_ties_share_a_bin():
    # 8 distinct low values, then 12 ties at 0.9: quantile cuts land inside
    # the ties, which must still stay together.
    confidences = [0.51 + 0.01 * i for i in range(8)] + [0.9] * 12
    probs = two_class(confidences)
    labels = [0] * 20
    table = reliability_table(probs, labels, n_bins=4, adaptive=True)
    assert table["count"].tolist() == [5, 3, 12]
    assert table["lower"].tolist()[1:] == [confidences[5], 0.9]


def test_adaptive_counts_last_partial_bin():
    # 10 distinct samples into 3 bins: cuts at order statistics 3 and 6.
    confidences = [0.5 + 0.05 * i for i in range(10)]
    table = reliability_table(two_class(confidences), [0] * 10, n_bins=3, adaptive=True)
    assert table["count"].tolist() == [3, 3, 4]


def test_reliability_table_columns_and_empty_bins():
    table = reliability_table(two_class([0.95]), [0], n_bins=5)
    assert tuple(table.columns) == RELIABILITY_COLUMNS
    assert table["empty"].tolist() == [True, True, True, True, False]
    assert table.loc[0, ["confidence", "accuracy", "gap"]].isna().all()
    assert table["lower"].tolist() == [0.0, 0.2, 0.4, 0.6, 0.8]
    assert table["upper"].tolist() == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert table["weight"].tolist() == [0.0, 0.0, 0.0, 0.0, 1.0]


def test_tensor_input_matches_numpy():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4), size=200)
    labels = rng.integers(0, 4, size=200)
    tensor_value = expected_calibration_error(
        torch.tensor(probs, requires_grad=True), torch.tensor(labels)
    )
    assert tensor_value == expected_calibration_error(probs, labels)


# Bad input.


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_probabilities_raise(bad):
    probs = two_class([0.6, 0.7])
    probs[1, 0] = bad
    with pytest.raises(VisionGuardError, match=r"probs\[1, 0\]"):
        expected_calibration_error(probs, [0, 0])


def test_unnormalised_row_raises_naming_row():
    probs = [[0.6, 0.4], [0.6, 0.3]]
    with pytest.raises(VisionGuardError, match="row 1 sums to 0.900000"):
        expected_calibration_error(probs, [0, 0])


def test_negative_probability_raises():
    with pytest.raises(VisionGuardError, match="row 0 has 1.5 in column 0"):
        expected_calibration_error([[1.5, -0.5]], [0])


def test_sum_tolerance_is_1e_3():
    expected_calibration_error([[0.6, 0.4009]], [0])
    with pytest.raises(VisionGuardError, match="within 0.001"):
        expected_calibration_error([[0.6, 0.4011]], [0])


def test_label_out_of_range_raises():
    with pytest.raises(VisionGuardError, match=r"labels\[1\] is 2, expected"):
        expected_calibration_error(two_class([0.6, 0.7]), [0, 2])


def test_one_dimensional_probs_raise_with_fix():
    with pytest.raises(VisionGuardError, match="numpy.stack"):
        expected_calibration_error([0.6, 0.7], [0, 1])


def test_length_mismatch_raises():
    with pytest.raises(VisionGuardError, match="probs has 2 samples but labels has 3"):
        expected_calibration_error(two_class([0.6, 0.7]), [0, 1, 1])


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "15"])
def test_bad_n_bins_raises(n_bins):
    with pytest.raises(VisionGuardError, match="n_bins must be a positive integer"):
        expected_calibration_error(two_class([0.6]), [0], n_bins=n_bins)


def test_unknown_norm_raises():
    with pytest.raises(VisionGuardError, match="norm must be one of"):
        expected_calibration_error(two_class([0.6]), [0], norm="L1")


# torchmetrics 1.9 multiclass_calibration_error.


def random_softmax(seed: int, n: int, num_classes: int) -> tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(seed)
    logits = 1.5 * torch.randn(n, num_classes, generator=generator)
    probs = torch.softmax(logits, dim=1)
    labels = torch.randint(0, num_classes, (n,), generator=generator)
    # Make the model better than chance, so bins hold a mix of outcomes.
    agree = torch.rand(n, generator=generator) < 0.6
    labels = torch.where(agree, probs.argmax(dim=1), labels)
    return probs, labels


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize(
    ("seed", "num_classes", "n_bins"), [(0, 2, 15), (1, 3, 10), (2, 10, 15), (3, 5, 7)]
)
def test_ece_agrees_with_torchmetrics(norm, seed, num_classes, n_bins):
    probs, labels = random_softmax(seed, 3000, num_classes)
    assert (probs.max(dim=1).values < 1.0).all()

    theirs = multiclass_calibration_error(
        probs, labels, num_classes=num_classes, n_bins=n_bins, norm=norm
    ).item()
    ours = expected_calibration_error(probs, labels, n_bins=n_bins, norm=norm)
    # torchmetrics accumulates in float32.
    assert ours == pytest.approx(theirs, abs=2e-6)


def test_torchmetrics_gives_confidence_one_its_own_bin():
    # Observed with torchmetrics 1.9.0: bucketize(right=True) - 1 sends 1.0 to
    # index B, an extra bin after [0.9, 1.0). The wrong 1.0 prediction then
    # counts as a bin of gap 1 and weight 1/3, giving 1/3 + (2/3)·0.05. Ours
    # puts all three in the closed last bin: gap |2/3 - 2.9/3| = 0.3.
    probs = torch.tensor(two_class([1.0, 0.95, 0.95]))
    labels = torch.tensor([1, 0, 0])
    expected = {
        "l1": (0.3, 1 / 3 + 2 / 3 * 0.05),
        "l2": (0.3, math.sqrt(1 / 3 + 2 / 3 * 0.05**2)),
        "max": (0.3, 1.0),
    }
    for norm, (ours, theirs) in expected.items():
        tm = multiclass_calibration_error(
            probs, labels, num_classes=2, n_bins=10, norm=norm
        ).item()
        assert tm == pytest.approx(theirs, abs=1e-6)
        ece = expected_calibration_error(probs, labels, n_bins=10, norm=norm)
        assert ece == pytest.approx(ours, abs=1e-12)


def test_torchmetrics_bins_float32_against_float32_edges():
    # Observed with torchmetrics 1.9.0: edges come from
    # torch.linspace(0, 1, B + 1) in float32, whose 0.7 is float32(0.7) =
    # 0.699999988, so the float32 input 0.7 lands in bin [0.7, 0.8) with 0.75.
    # Compared in float64, 0.699999988 < 0.7 and it has bin [0.6, 0.7) alone.
    probs = torch.tensor(two_class([0.7, 0.75], np.float32))
    labels = torch.tensor([0, 1])
    c = float(np.float32(0.7))
    tm = multiclass_calibration_error(probs, labels, num_classes=2, n_bins=10).item()
    assert tm == pytest.approx(abs(0.5 - (c + 0.75) / 2), abs=1e-6)
    ours = expected_calibration_error(probs, labels, n_bins=10)
    assert ours == pytest.approx(0.5 * (1 - c) + 0.5 * 0.75, abs=1e-12)


def test_torchmetrics_casts_float64_to_float32_before_binning():
    # Observed with torchmetrics 1.9.0: confidences are cast with .float(), so
    # the float64 0.69999999 rounds to float32(0.7), equal to its float32 edge,
    # and joins bin [0.7, 0.8). In float64 it is below 0.7.
    probs = torch.tensor(two_class([0.69999999, 0.75]), dtype=torch.float64)
    labels = torch.tensor([0, 1])
    tm = multiclass_calibration_error(probs, labels, num_classes=2, n_bins=10).item()
    assert tm == pytest.approx(abs(0.5 - (0.69999999 + 0.75) / 2), abs=1e-6)
    ours = expected_calibration_error(probs, labels, n_bins=10)
    assert ours == pytest.approx(0.5 * (1 - 0.69999999) + 0.5 * 0.75, abs=1e-12)
