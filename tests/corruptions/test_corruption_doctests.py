"""Run the `>>>` examples in the corruption and strategy docstrings."""

from __future__ import annotations

import doctest
import importlib
import subprocess
import sys

import pytest

DOCUMENTED_MODULES = [
    "pytest_visionguard.corruptions",
    "pytest_visionguard.corruptions._api",
    "pytest_visionguard.corruptions._registry",
    "pytest_visionguard.strategies",
]


@pytest.mark.parametrize("name", DOCUMENTED_MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_modules_import_without_pytest():
    code = (
        "import sys; import pytest_visionguard.corruptions, "
        "pytest_visionguard.strategies; "
        "assert 'pytest' not in sys.modules, 'pytest was imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
