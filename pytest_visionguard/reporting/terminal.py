"""Plain-text tables: a failing test's `visionguard` section and the run summary.

These functions read gate results and never compute a figure; they import
nothing heavy, so the plugin can load them at start-up.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

if TYPE_CHECKING:
    from pytest_visionguard.gates import GateResult
    from pytest_visionguard.measurements import Measurement

_SIGNS = {"at_least": ">=", "at_most": "<="}
_RESULT_WORDS = {
    "pass": "pass",
    "fail": "FAIL",
    "inconclusive": "inconclusive",
    "too_small": "too small",
    "undefined": "undefined",
    "skipped": "skipped",
}


def render_gate_table(result: GateResult, measurement: Measurement) -> str:
    """Return one gate's per-group checks as an aligned text table."""
    header = f"{result.gate}: {result.description}"
    if result.decided_by_interval:
        header += f" (decided on {percent(result.confidence)} intervals"
        header += ", strict)" if result.strict else ")"
    rows = [check_cells(check, include_test=None) for check in _as_dicts(result)]
    return (
        header + "\n" + format_table(_columns(result.confidence, with_test=False), rows)
    )


def render_summary(
    entries: Sequence[tuple[str, dict[str, Any]]], *, verbose: bool
) -> list[str]:
    """Return the summary lines: one row per gate, or per group with `verbose`.

    Args:
        entries: (test id, gate result as decoded JSON) per gate that ran.
        verbose: list every check instead of each gate's deciding one.
    """
    rows = []
    confidence = 0.95
    for nodeid, result in entries:
        confidence = result.get("confidence") or confidence
        checks = result.get("checks", [])
        chosen = checks if verbose else _deciding_checks(checks)
        expected = bool(result.get("expected_failure"))
        for check in chosen:
            cells = check_cells(check, include_test=(nodeid, result["gate"]))
            if expected and not check["passed"]:
                cells[1] = "xfail"
            rows.append(cells)
    failed = [result for _, result in entries if not result.get("passed")]
    expected_failures = sum(1 for result in failed if result.get("expected_failure"))
    lines = format_table(_columns(confidence, with_test=True), rows).splitlines()
    count = f"{len(entries)} gate" + ("" if len(entries) == 1 else "s")
    footer = f"{count}, {len(failed) - expected_failures} failed"
    if expected_failures:
        footer += f", {expected_failures} failed as expected (xfail)"
    lines.append(footer + ("" if verbose else "; -v lists every group"))
    return lines


def check_cells(
    check: dict[str, Any], *, include_test: tuple[str, str] | None
) -> list[str]:
    """Return the table cells of one check."""
    status = check["status"]
    word = _RESULT_WORDS.get(status, status)
    if not check["passed"]:
        word = word.upper()
    cells = [include_test[1]] if include_test is not None else []
    cells += [
        word,
        str(check["group"]),
        str(check["figure"]),
        figure_text(check["value"]),
        f"[{figure_text(check['ci_low'])}, {figure_text(check['ci_high'])}]",
        str(check["n"]),
        _threshold_text(check),
    ]
    if include_test is not None:
        cells.append(include_test[0])
    return cells


def _threshold_text(check: dict[str, Any]) -> str:
    threshold = check["threshold"]
    if threshold is None or (isinstance(threshold, float) and math.isnan(threshold)):
        return "-"
    return f"{_SIGNS[check['direction']]} {figure_text(threshold)}"


def format_table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Return rows under a header, each column padded to its widest cell."""
    widths = [len(column) for column in columns]
    for row in rows:
        widths = [
            max(width, len(cell)) for width, cell in zip(widths, row, strict=True)
        ]
    lines = [_join(columns, widths)] + [_join(row, widths) for row in rows]
    return "\n".join(lines)


def figure_text(value: Any) -> str:
    """Format a figure with three decimals; None and NaN read "nan"."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    return f"{value:.3f}"


def percent(confidence: float) -> str:
    """Format an interval level such as 0.95 as "95%"."""
    return f"{confidence * 100:g}%"


def _columns(confidence: float, *, with_test: bool) -> list[str]:
    figures = ["result", "group", "figure", "value", f"{percent(confidence)} CI"]
    figures += ["n", "threshold"]
    return ["gate", *figures, "test"] if with_test else figures


def _deciding_checks(checks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Return a gate's failing checks, or its check of least margin when all pass."""
    failing = [check for check in checks if not check["passed"]]
    if failing:
        return failing
    return sorted(checks, key=_margin)[:1]


def _margin(check: dict[str, Any]) -> float:
    value, threshold = check["value"], float(check["threshold"])
    if value is None or math.isnan(value):
        return -math.inf
    margin = float(value) - threshold
    return margin if check["direction"] == "at_least" else -margin


def _as_dicts(result: GateResult) -> list[dict[str, Any]]:
    from dataclasses import asdict

    return [asdict(check) for check in result.checks]


def _join(cells: Sequence[str], widths: Sequence[int]) -> str:
    return "  ".join(
        cell.ljust(width) for cell, width in zip(cells, widths, strict=True)
    ).rstrip()
