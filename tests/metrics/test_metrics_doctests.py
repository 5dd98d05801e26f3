"""Run the `>>>` examples in the metrics modules' docstrings."""

from __future__ import annotations

import doctest
import importlib

import pytest

DOCUMENTED_MODULES = [
    "pytest_visionguard.metrics.bootstrap",
    "pytest_visionguard.metrics.calibration",
    "pytest_visionguard.metrics.cost",
    "pytest_visionguard.metrics.intervals",
    "pytest_visionguard.metrics.rates",
    "pytest_visionguard.metrics.scoring",
    "pytest_visionguard.metrics.temperature",
]


@pytest.mark.parametrize("name", DOCUMENTED_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_every_public_function_has_an_example():
    import pytest_visionguard.metrics as metrics

    missing = [
        name
        for name in metrics.__all__
        if callable(getattr(metrics, name))
        and ">>>" not in (getattr(metrics, name).__doc__ or "")
    ]
    assert missing == []
