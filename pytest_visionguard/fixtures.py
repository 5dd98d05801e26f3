"""The fixtures: the user's `visionguard_model` and `visionguard_data`, and `visionguard`.

This module imports nothing heavy; torch and pandas load when a fixture runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

import pytest

from pytest_visionguard.errors import VisionGuardError

if TYPE_CHECKING:
    from pytest_visionguard.guard import VisionGuard

_MISSING_FIXTURE = (
    "no {name} fixture is defined; add one to conftest.py that returns {what}, "
    "for example:\n\n"
    "    @pytest.fixture(scope='session')\n"
    "    def {name}():\n"
    "        return {example}\n"
)


@pytest.fixture(scope="session")
def visionguard_model() -> Any:
    """The model under test: override it in conftest.py.

    Return a `torch.nn.Module`, or a `pytest_visionguard.Classifier` to set
    preprocessing, output kind or batch size. This default raises an error that
    explains how.
    """
    raise VisionGuardError(
        _MISSING_FIXTURE.format(
            name="visionguard_model",
            what="your torch.nn.Module or a pytest_visionguard.Classifier",
            example="vg.Classifier(load_my_model(), preprocess=normalize)",
        )
    )


@pytest.fixture(scope="session")
def visionguard_data() -> Any:
    """The evaluation set: override it in conftest.py.

    Return a `pytest_visionguard.EvalSet` of images, labels and subgroup
    metadata. This default raises an error that explains how.
    """
    raise VisionGuardError(
        _MISSING_FIXTURE.format(
            name="visionguard_data",
            what="a pytest_visionguard.EvalSet",
            example="vg.EvalSet(images, labels, metadata=metadata_frame)",
        )
    )


@pytest.fixture(scope="session")
def visionguard_reference_model() -> Any:
    """The reference model of corruption errors (mCE): override it in conftest.py.

    Return a `torch.nn.Module` or a `pytest_visionguard.Classifier`, such as
    the model in production or a standard baseline (ImageNet-C uses
    AlexNet). Only `visionguard.corruption_error` reads it; this default
    raises an error that explains how.
    """
    raise VisionGuardError(
        _MISSING_FIXTURE.format(
            name="visionguard_reference_model",
            what="the model that corruption errors are relative to",
            example="vg.Classifier(load_released_model(), preprocess=normalize)",
        )
    )


@pytest.fixture
def visionguard(
    request: pytest.FixtureRequest, visionguard_model: Any, visionguard_data: Any
) -> VisionGuard:
    """Measurements and deployment gates for `visionguard_model` on `visionguard_data`.

    Inference runs once per distinct input (clean, or one corruption at one
    severity) for the whole session, however many tests read it.
    """
    from pytest_visionguard.plugin import guard_for_item

    def reference_model() -> Any:
        return request.getfixturevalue("visionguard_reference_model")

    return guard_for_item(
        request.node, visionguard_model, visionguard_data, reference_model
    )
