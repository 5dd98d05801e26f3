"""pytest-xdist: the shared prediction cache, and gate figures in JUnit XML.

The generated model appends the size of every batch it receives to a file named
after the pytest-xdist worker, so a test can count the images the model saw
across all workers.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

COUNTING_CONFTEST = '''
import os


class CountingReader(PixelReader):
    """PixelReader that logs each batch size to calls-<worker>.txt."""

    def forward(self, x):
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with open(f"calls-{worker}.txt", "a") as log:
            log.write(f"{x.shape[0]}\\n")
        return super().forward(x)


@pytest.fixture(scope="session")
def visionguard_model():
    return CountingReader()
'''

# Six tests, so that pytest-xdist's load scheduling gives both workers some.
SIX_GATES = """
import pytest

@pytest.mark.accuracy_floor(at_least=0.5, by="site")
def test_floor(visionguard):
    pass

@pytest.mark.calibration(max_ece=0.5)
def test_calibration(visionguard):
    pass

@pytest.mark.metric_limit("recall", positive="dog", at_least=0.5)
def test_recall(visionguard):
    pass

@pytest.mark.max_gap("accuracy", at_most=0.5, by="site")
def test_gap(visionguard):
    pass

def test_table(visionguard):
    assert visionguard.accuracy(by="site").loc["south", "accuracy"] == 0.75

@pytest.mark.cost_budget([[0, 1, 1], [1, 0, 1], [1, 1, 0]], at_most=0.5)
def test_cost(visionguard):
    pass
"""


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def counting(tiny: pytest.Pytester) -> pytest.Pytester:
    """The tiny project with a model that logs how many images it receives."""
    from tiny_project import TINY_CONFTEST

    tiny.makeconftest(TINY_CONFTEST + COUNTING_CONFTEST)
    tiny.makepyfile(test_gates=SIX_GATES)
    return tiny


def take_image_counts(project: pytest.Pytester) -> dict[str, int]:
    """Return worker -> images the model saw, and delete the logs."""
    counts = {}
    for log in sorted(project.path.glob("calls-*.txt")):
        counts[log.stem.removeprefix("calls-")] = sum(
            int(line) for line in log.read_text().split()
        )
        log.unlink()
    return counts


def read_junit_figures(report: Path) -> dict[str, dict[str, object]]:
    """Return test name -> the gate result in its `visionguard` JUnit property."""
    figures = {}
    for case in ElementTree.parse(report).iter("testcase"):
        for prop in case.iter("property"):
            if prop.get("name") == "visionguard":
                figures[str(case.get("name"))] = json.loads(prop.get("value", ""))
    return figures


def assert_junit_figures(report: Path) -> None:
    figures = read_junit_figures(report)
    assert sorted(figures) == [
        "test_calibration",
        "test_cost",
        "test_floor",
        "test_gap",
        "test_recall",
    ]
    south = figures["test_floor"]["checks"][1]  # type: ignore[index]
    assert south["group"] == "site=south"
    assert south["value"] == 0.75


def test_cache_shared_across_workers(counting: pytest.Pytester) -> None:
    cache = counting.path / ".pytest_cache" / "d" / "visionguard-predictions"
    uncached = counting.runpytest(
        "-n",
        "2",
        "--visionguard-no-cache",
        "--junitxml=x1.xml",
        "-o",
        "junit_family=xunit1",
    )
    uncached.assert_outcomes(passed=6)
    assert take_image_counts(counting) == {"gw0": 100, "gw1": 100}
    assert not cache.exists()
    assert_junit_figures(counting.path / "x1.xml")

    # pytest 9.2 writes testcase properties under xunit2 as well, though the
    # xunit2 schema has no place for them.
    cached = counting.runpytest(
        "-n", "2", "--junitxml=x2.xml", "-o", "junit_family=xunit2"
    )
    cached.assert_outcomes(passed=6)
    assert sum(take_image_counts(counting).values()) == 100
    # The workers of one run share a directory named after the run.
    assert len(list(cache.glob("*/*.npz"))) == 1
    assert_junit_figures(counting.path / "x2.xml")


def test_cache_reruns_only_when_needed(counting: pytest.Pytester) -> None:
    counting.makeini(
        "[pytest]\nvisionguard_cache_dir = predictions\nfilterwarnings =\n    error\n"
        "    ignore::DeprecationWarning\n"
    )
    counting.runpytest("-k", "table").assert_outcomes(passed=1, deselected=5)
    assert take_image_counts(counting) == {"main": 100}
    [stored] = (counting.path / "predictions").glob("*.npz")

    counting.runpytest("-k", "floor").assert_outcomes(passed=1, deselected=5)
    assert take_image_counts(counting) == {}

    stored.write_bytes(b"truncated")
    counting.runpytest("-k", "floor").assert_outcomes(passed=1, deselected=5)
    assert take_image_counts(counting) == {"main": 100}
    assert stored.read_bytes()[:2] == b"PK"

    conftest = counting.path / "conftest.py"
    conftest.write_text(
        conftest.read_text().replace(
            "return super().forward(x)", "return super().forward(x).roll(1, dims=1)"
        )
    )
    counting.runpytest("-k", "table").assert_outcomes(failed=1, deselected=5)
    assert take_image_counts(counting) == {"main": 100}


def test_rerun_without_cache_dir_runs_model(counting: pytest.Pytester) -> None:
    # Without --visionguard-cache-dir nothing persists between runs, so an
    # edit the fingerprints cannot see never leaves stale predictions.
    counting.runpytest("-k", "table").assert_outcomes(passed=1, deselected=5)
    assert take_image_counts(counting) == {"main": 100}
    counting.runpytest("-k", "table").assert_outcomes(passed=1, deselected=5)
    assert take_image_counts(counting) == {"main": 100}
    assert not (
        counting.path / ".pytest_cache" / "d" / "visionguard-predictions"
    ).exists()
