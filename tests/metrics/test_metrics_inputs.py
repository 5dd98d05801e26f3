"""Input conversion shared by every metric: tensors, dtypes, pandas and bad values."""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.metrics import accuracy
from pytest_visionguard.metrics import brier_score
from pytest_visionguard.metrics import expected_calibration_error
from pytest_visionguard.metrics import reliability_table
from pytest_visionguard.metrics._convert import as_float64
from pytest_visionguard.metrics._convert import as_int64

PROBS = [[0.7, 0.3], [0.25, 0.75], [0.5, 0.5]]
LABELS = [0, 0, 1]


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.float32, torch.float64]
)
def test_float_tensors_convert_exactly(dtype):
    tensor = torch.tensor(PROBS, dtype=dtype)
    converted = as_float64(tensor, "probs")
    assert converted.dtype == np.float64
    np.testing.assert_array_equal(converted, tensor.double().numpy())


def test_tensor_requiring_grad_is_accepted():
    probs = torch.tensor(PROBS, requires_grad=True)
    value = brier_score(probs, torch.tensor(LABELS))
    assert value == pytest.approx(brier_score(PROBS, LABELS), rel=1e-6)


def test_bfloat16_probabilities_bin_by_their_value():
    # bfloat16(0.7) is 0.69921875, below the edge 0.7 of 10 bins.
    probs = torch.tensor([[0.7, 0.3]], dtype=torch.bfloat16)
    table = reliability_table(probs, torch.tensor([0]), n_bins=10)
    assert int(table.loc[6, "count"]) == 1


@pytest.mark.parametrize("dtype", [torch.int32, torch.int64, torch.uint8])
def test_integer_tensors_as_labels(dtype):
    labels = torch.tensor([0, 1, 1], dtype=dtype)
    assert accuracy(labels, torch.tensor([0, 1, 0])) == pytest.approx(2 / 3)


def test_pandas_inputs():
    frame = pd.DataFrame(PROBS, columns=["cat", "dog"])
    labels = pd.Series(LABELS)
    expected = expected_calibration_error(PROBS, LABELS)
    assert expected_calibration_error(frame, labels) == expected


def test_integer_conversion_keeps_values():
    converted = as_int64(np.array([0, 3, 7], dtype=np.uint16), "labels")
    assert converted.dtype == np.int64
    assert converted.tolist() == [0, 3, 7]


def test_ragged_list_raises():
    with pytest.raises(VisionGuardError, match="could not be converted"):
        expected_calibration_error([[0.5, 0.5], [1.0]], [0, 0])


def test_strings_raise():
    with pytest.raises(VisionGuardError, match="must contain integers"):
        accuracy(["cat"], [0])
    with pytest.raises(VisionGuardError, match="must contain real numbers"):
        expected_calibration_error([["a", "b"]], [0])


def test_nan_labels_raise():
    with pytest.raises(VisionGuardError, match=r"labels\[1\] is nan"):
        accuracy([0.0, math.nan], [0, 0])


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_tensor_probabilities_raise(bad):
    probs = torch.tensor([[0.5, 0.5], [bad, 0.0]], dtype=torch.float16)
    with pytest.raises(VisionGuardError, match=r"probs\[1, 0\]"):
        expected_calibration_error(probs, [0, 0])


def test_single_column_probs_raise():
    with pytest.raises(VisionGuardError, match="at least 2 columns"):
        expected_calibration_error([[1.0], [1.0]], [0, 0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tensors_match_cpu():
    probs = torch.tensor(PROBS, device="cuda")
    labels = torch.tensor(LABELS, device="cuda")
    on_cpu = expected_calibration_error(probs.cpu(), labels.cpu())
    assert expected_calibration_error(probs, labels) == on_cpu
    assert accuracy(labels, probs.argmax(dim=1)) == pytest.approx(1 / 3)


def test_import_loads_neither_torch_nor_pandas():
    code = (
        "import sys, pytest_visionguard.metrics; "
        "print(sorted(m for m in ('torch', 'pandas', 'scipy') if m in sys.modules))"
    )
    root = Path(__file__).resolve().parents[2]
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert output.strip() == "[]"
