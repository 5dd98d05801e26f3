"""pytest-visionguard: deployment gates for image classifiers, as pytest tests.

The names below load their modules on first use, so importing the package (as
the pytest plugin does at start-up) does not import torch or pandas.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

from pytest_visionguard.errors import GateFailure
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.errors import VisionGuardWarning

if TYPE_CHECKING:
    from pytest_visionguard.corruptions import CORRUPTIONS
    from pytest_visionguard.corruptions import corrupt
    from pytest_visionguard.data import EvalSet
    from pytest_visionguard.evaluation import Evaluation
    from pytest_visionguard.evaluation import Predictions
    from pytest_visionguard.gates import GateResult
    from pytest_visionguard.guard import VisionGuard
    from pytest_visionguard.model import Classifier

__version__ = "0.1.0"

_LAZY_NAMES = {
    "CORRUPTIONS": "pytest_visionguard.corruptions",
    "Classifier": "pytest_visionguard.model",
    "EvalSet": "pytest_visionguard.data",
    "Evaluation": "pytest_visionguard.evaluation",
    "GateResult": "pytest_visionguard.gates",
    "Predictions": "pytest_visionguard.evaluation",
    "VisionGuard": "pytest_visionguard.guard",
    "corrupt": "pytest_visionguard.corruptions",
}
_SUBMODULES = ("corruptions", "metrics", "strategies")

__all__ = [
    "CORRUPTIONS",
    "Classifier",
    "EvalSet",
    "Evaluation",
    "GateFailure",
    "GateResult",
    "Predictions",
    "VisionGuard",
    "VisionGuardError",
    "VisionGuardWarning",
    "corrupt",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY_NAMES:
        value = getattr(importlib.import_module(_LAZY_NAMES[name]), name)
        globals()[name] = value
        return value
    if name in _SUBMODULES:
        return importlib.import_module(f"pytest_visionguard.{name}")
    raise AttributeError(f"module 'pytest_visionguard' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | set(_SUBMODULES))
