"""Shared fixtures: a generated project whose figures can be computed by hand."""

from __future__ import annotations

import pytest
from tiny_project import TINY_CONFTEST


@pytest.fixture
def tiny(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester project with the hand-computable PixelReader conftest."""
    # A CI job summary must not collect the Markdown of the generated runs.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    # When this suite itself runs under pytest-xdist, the generated runs must
    # not inherit the worker's identity.
    for name in (
        "PYTEST_XDIST_WORKER",
        "PYTEST_XDIST_WORKER_COUNT",
        "PYTEST_XDIST_TESTRUNUID",
    ):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest(TINY_CONFTEST)
    pytester.makeini(
        "[pytest]\nfilterwarnings =\n    error\n    ignore::DeprecationWarning\n"
    )
    return pytester
