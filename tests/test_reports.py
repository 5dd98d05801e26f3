"""Report files: JSON, Markdown and HTML from the controller, and the job summary."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

GATES = """
import pytest

@pytest.mark.accuracy_floor(at_least=0.80, by="site")
def test_floor(visionguard):
    pass

@pytest.mark.calibration(max_ece=0.10)
def test_calibrated(visionguard):
    pass

@pytest.mark.no_regression(by="site")
def test_no_regression(visionguard):
    pass

def test_recall(visionguard):
    visionguard.assert_metric("recall", positive="dog", at_least=0.5, by="site")
"""

REPORTS = (
    "--visionguard-report=out/run.json",
    "--visionguard-report=out/run.md",
    "--visionguard-report=out/run.html",
)


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def gates(tiny: pytest.Pytester) -> pytest.Pytester:
    """The tiny project with four gates, one failing, and a recorded baseline."""
    tiny.makepyfile(test_gates=GATES)
    tiny.runpytest("--visionguard-update-baseline", "-k", "regression")
    return tiny


class _TagCounter(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: dict[str, int] = {}

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1


def check_json_report(text: str) -> None:
    report = json.loads(text)
    assert report["format"] == "pytest-visionguard-report"
    assert report["version"] == 1
    assert report["summary"] == {
        "tests": 4,
        "gates": 4,
        "passed": 3,
        "failed": 1,
        "expected_failures": 0,
    }
    tests = [gate["test"] for gate in report["gates"]]
    assert tests == [
        "test_gates.py::test_floor",
        "test_gates.py::test_calibrated",
        "test_gates.py::test_no_regression",
        "test_gates.py::test_recall",
    ]
    floor = report["gates"][0]
    assert floor["gate"] == "accuracy_floor"
    assert floor["passed"] is False
    assert floor["by"] == ["site"]
    south = floor["checks"][1]
    assert south["group"] == "site=south"
    assert south["value"] == 0.75
    assert south["status"] == "fail"
    assert south["ci_low"] == pytest.approx(0.5980604, abs=1e-6)
    assert report["baseline"]["path"] == "visionguard-baseline.json"
    assert report["baseline"]["outcomes"][0]["status"] == "matched"
    assert report["baseline"]["written"] == []
    assert sorted(report["provenance"]["versions"]) == [
        "numpy",
        "pytest",
        "pytest-visionguard",
        "torch",
    ]
    assert report["provenance"]["options"]["seed"] == 0


def check_markdown_report(markdown: str) -> None:
    assert "**4 gates, 1 failed** in 4 tests." in markdown
    assert (
        "| **FAIL** | `test_gates.py::test_floor` | accuracy_floor | site=south | "
        "accuracy | 0.750 | [0.598, 0.858] | 40 | >= 0.800 |"
    ) in markdown
    assert "- 1 entry checked: 1 matched in `visionguard-baseline.json`." in markdown


def check_html_report(page: str) -> None:
    counter = _TagCounter()
    counter.feed(page)
    assert page.startswith("<!DOCTYPE html>")
    assert counter.tags["table"] == 5
    assert counter.tags["svg"] == 7
    assert "<script" not in page
    assert "<link" not in page
    assert '<td class="status-fail">FAIL</td><td>site=south</td>' in page


def test_reports_same_with_xdist(gates: pytest.Pytester) -> None:
    plain = gates.runpytest(*REPORTS)
    plain.assert_outcomes(passed=3, failed=1)
    plain.stdout.fnmatch_lines(
        [
            "wrote report out/run.json",
            "wrote report out/run.md",
            "wrote report out/run.html",
        ]
    )
    single = {
        name: (gates.path / "out" / name).read_text()
        for name in ("run.json", "run.md", "run.html")
    }
    check_json_report(single["run.json"])
    check_markdown_report(single["run.md"])
    check_html_report(single["run.html"])

    distributed = gates.runpytest("-n", "2", *REPORTS)
    distributed.assert_outcomes(passed=3, failed=1)
    for name, text in single.items():
        assert (gates.path / "out" / name).read_text() == text, name
    assert sorted(path.name for path in (gates.path / "out").iterdir()) == [
        "run.html",
        "run.json",
        "run.md",
    ]


def test_step_summary_appended(
    tiny: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny.makepyfile(test_gates=GATES)
    summary = tiny.path / "step-summary.md"
    summary.write_text("# Earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    tiny.runpytest("-k", "floor").assert_outcomes(failed=1, deselected=3)
    text = summary.read_text()
    assert text.startswith("# Earlier step\n## visionguard gates\n")
    assert "**1 gate, 1 failed** in 1 tests." in text
    assert "site=south" in text


def test_unknown_report_suffix_is_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--visionguard-report=run.txt")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--visionguard-report: unknown report format 'run.txt'; use a path ending in .json, .md or .html"
        ]
    )
