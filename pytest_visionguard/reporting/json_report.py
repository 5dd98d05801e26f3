"""The run report: every gate result, the baseline outcome and the provenance, as JSON.

`build_report` gathers the gate results that the tests recorded into one
JSON-ready dict, which the Markdown and HTML reports render too. Reports
read gate results and never compute a figure. The layout is documented in
docs/report-schema.md.
"""

from __future__ import annotations

import dataclasses
import json
import math
import platform
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from pytest_visionguard.baselines import package_versions
from pytest_visionguard.baselines import write_atomically

if TYPE_CHECKING:
    from pytest_visionguard.baselines import BaselineSummary

REPORT_FORMAT = "pytest-visionguard-report"
REPORT_VERSION = 1


def build_report(
    entries: Sequence[tuple[str, dict[str, Any]]],
    *,
    order: Mapping[str, int],
    baseline: BaselineSummary | None,
    options: Any,
    rootpath: Path | None = None,
    subsample: Sequence[str] = (),
) -> dict[str, Any]:
    """Return the report of a run as a JSON-ready dict.

    Args:
        entries: (test id, gate result as decoded JSON) per gate that ran.
        order: test id -> position in the collection, so that gates are
            listed in the same order with and without pytest-xdist; tests
            it does not list go last, by id.
        baseline: what the run did with its baseline file, or None.
        options: the plugin's run options, a dataclass.
        rootpath: paths inside it are written relative to it.
        subsample: one line per evaluation set that a stratified subsample
            replaced, or none.
    """
    positions = sorted(
        range(len(entries)),
        key=lambda i: (order.get(entries[i][0], len(order)), entries[i][0], i),
    )
    gates = [{"test": entries[i][0], **entries[i][1]} for i in positions]
    failed = [gate for gate in gates if not gate.get("passed")]
    expected = sum(1 for gate in failed if gate.get("expected_failure"))
    return {
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "summary": {
            "tests": len({gate["test"] for gate in gates}),
            "gates": len(gates),
            "passed": len(gates) - len(failed),
            "failed": len(failed) - expected,
            "expected_failures": expected,
        },
        "provenance": _provenance(options),
        "gates": gates,
        "baseline": _baseline_section(baseline, rootpath),
        "subsample": sorted(subsample),
    }


def render_json(report: Mapping[str, Any]) -> str:
    """Return the report as sorted, indented JSON with NaN written as null."""
    return json.dumps(_finite(report), sort_keys=True, indent=2, allow_nan=False) + "\n"


def write_report(path: Path, report: Mapping[str, Any]) -> None:
    """Write the report to `path` atomically, in the format that its suffix names."""
    from pytest_visionguard.reporting.html import render_html
    from pytest_visionguard.reporting.markdown import render_markdown

    renderers = {".json": render_json, ".md": render_markdown, ".html": render_html}
    write_atomically(path, renderers[path.suffix.lower()](report))


def deciding_checks(checks: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return a gate's failing checks, or its check with the least margin when all pass."""
    failing = [check for check in checks if not check.get("passed")]
    if failing:
        return failing
    return sorted(checks, key=_margin)[:1]


def _margin(check: dict[str, Any]) -> float:
    value, threshold = check.get("value"), check.get("threshold")
    if value is None or threshold is None:
        return -math.inf
    if math.isnan(value) or math.isnan(threshold):
        return -math.inf
    margin = float(value) - float(threshold)
    return margin if check.get("direction") == "at_least" else -margin


def _provenance(options: Any) -> dict[str, Any]:
    from importlib import metadata

    versions = package_versions()
    versions["pytest"] = metadata.version("pytest")
    settings = {}
    if dataclasses.is_dataclass(options) and not isinstance(options, type):
        settings = dataclasses.asdict(options)
    return {
        "python": platform.python_version(),
        "versions": versions,
        "options": settings,
    }


def _baseline_section(
    baseline: BaselineSummary | None, rootpath: Path | None
) -> dict[str, Any] | None:
    if baseline is None:
        return None
    section = baseline.to_json()
    if rootpath is not None:
        try:
            section["path"] = str(baseline.path.relative_to(rootpath))
        except ValueError:
            pass
    return section


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
