"""The run report as one self-contained HTML page: no scripts, no external files.

It renders the dict of `json_report.build_report`: one table per gate with
every group, and beside each figure a small inline SVG of its value, its
interval and the threshold on a shared axis.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

from pytest_visionguard.reporting.markdown import status_counts
from pytest_visionguard.reporting.terminal import check_cells
from pytest_visionguard.reporting.terminal import percent

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1b1f23; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.6em; text-align: left; }
th { background: #f6f8fa; }
td.number { text-align: right; font-variant-numeric: tabular-nums; }
tr.failed td { background: #ffebe9; }
tr.expected td { background: #fff8c5; }
.status-fail, .status-undefined, .status-missing { color: #cf222e; font-weight: bold; }
.status-pass, .status-recorded { color: #1a7f37; }
.status-inconclusive, .status-too_small, .status-skipped { color: #9a6700; }
h2 .passed { color: #1a7f37; } h2 .failed { color: #cf222e; }
code { background: #f6f8fa; padding: 0 0.2em; }
"""

_PLOT_WIDTH = 160
_PLOT_HEIGHT = 14


def render_html(report: Mapping[str, Any]) -> str:
    """Return the report as a self-contained HTML page."""
    summary = report.get("summary", {})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>visionguard gates</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>visionguard gates</h1>",
        f"<p>{summary.get('gates', 0)} gates in {summary.get('tests', 0)} tests: "
        f"{summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed"
        + _expected_text(summary)
        + ".</p>",
    ]
    parts += [
        f"<p>Evaluated on a stratified subsample: {_text(line)}.</p>"
        for line in report.get("subsample", [])
    ]
    for gate in report.get("gates", []):
        parts += _gate_section(gate)
    baseline = report.get("baseline")
    if baseline:
        parts += _baseline_section(baseline)
    parts += _provenance_section(report.get("provenance", {}))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _expected_text(summary: Mapping[str, Any]) -> str:
    expected = summary.get("expected_failures", 0)
    return f", {expected} failed as expected (xfail)" if expected else ""


def _gate_section(gate: Mapping[str, Any]) -> list[str]:
    passed = bool(gate.get("passed"))
    verdict = "passed" if passed else "failed"
    if not passed and gate.get("expected_failure"):
        verdict = "failed as expected (xfail)"
    css = "passed" if passed else "failed"
    checks: list[dict[str, Any]] = list(gate.get("checks", []))
    confidence = float(gate.get("confidence") or 0.95)
    heading = (
        f"<h2><code>{_text(gate.get('test'))}</code> {_text(gate.get('gate'))}: "
        f'<span class="{css}">{verdict}</span></h2>'
    )
    lines = [heading, f"<p>{_text(gate.get('description'))}</p>"]
    if gate.get("hint"):
        lines.append(f"<p>{_text(gate.get('hint'))}</p>")
    header = ["result", "group", "figure", "value", f"{percent(confidence)} CI"]
    header += ["n", "threshold", "plot"]
    lines.append(
        "<table><tr>" + "".join(f"<th>{_text(h)}</th>" for h in header) + "</tr>"
    )
    domain = _domain(checks)
    for check in checks:
        lines.append(_check_row(check, domain, bool(gate.get("expected_failure"))))
    lines.append("</table>")
    return lines


def _check_row(
    check: dict[str, Any], domain: tuple[float, float], expected: bool
) -> str:
    word, group, figure, value, interval, n, threshold = check_cells(
        check, include_test=None
    )
    status = str(check.get("status", ""))
    row_class = ""
    if not check.get("passed"):
        row_class = ' class="expected"' if expected else ' class="failed"'
    cells = [
        f'<td class="status-{_text(status)}">{_text(word)}</td>',
        f"<td>{_text(group)}</td>",
        f"<td>{_text(figure)}</td>",
        f'<td class="number">{_text(value)}</td>',
        f'<td class="number">{_text(interval)}</td>',
        f'<td class="number">{_text(n)}</td>',
        f'<td class="number">{_text(threshold)}</td>',
        f"<td>{_plot(check, domain)}</td>",
    ]
    return f"<tr{row_class}>" + "".join(cells) + "</tr>"


def _domain(checks: Sequence[dict[str, Any]]) -> tuple[float, float]:
    """Return the plotted range: [0, 1] unless a figure or threshold lies outside."""
    values = [0.0, 1.0]
    for check in checks:
        for name in ("value", "ci_low", "ci_high", "threshold"):
            number = check.get(name)
            if isinstance(number, int | float) and math.isfinite(number):
                values.append(float(number))
    low, high = min(values), max(values)
    return (low, high) if high > low else (low - 1.0, high + 1.0)


def _plot(check: dict[str, Any], domain: tuple[float, float]) -> str:
    """Return an inline SVG: the interval as a line, the value as a dot, the threshold as a tick."""
    low, high = domain

    def x(number: Any) -> float | None:
        if not isinstance(number, int | float) or not math.isfinite(number):
            return None
        return round((float(number) - low) / (high - low) * (_PLOT_WIDTH - 4) + 2, 1)

    middle = _PLOT_HEIGHT / 2
    shapes = [
        f'<line x1="2" x2="{_PLOT_WIDTH - 2}" y1="{middle}" y2="{middle}" '
        'stroke="#d0d7de"/>'
    ]
    start, end = x(check.get("ci_low")), x(check.get("ci_high"))
    if start is not None and end is not None:
        shapes.append(
            f'<line x1="{start}" x2="{end}" y1="{middle}" y2="{middle}" '
            'stroke="#57606a" stroke-width="3"/>'
        )
    tick = x(check.get("threshold"))
    if tick is not None:
        shapes.append(
            f'<line x1="{tick}" x2="{tick}" y1="0" y2="{_PLOT_HEIGHT}" '
            'stroke="#cf222e"/>'
        )
    dot = x(check.get("value"))
    if dot is not None:
        colour = "#1a7f37" if check.get("passed") else "#cf222e"
        shapes.append(f'<circle cx="{dot}" cy="{middle}" r="3.5" fill="{colour}"/>')
    return (
        f'<svg width="{_PLOT_WIDTH}" height="{_PLOT_HEIGHT}" role="img" '
        f'aria-label="value, interval and threshold">{"".join(shapes)}</svg>'
    )


def _baseline_section(baseline: Mapping[str, Any]) -> list[str]:
    path = _text(baseline.get("path"))
    items = []
    outcomes = baseline.get("outcomes", [])
    if outcomes:
        items.append(f"{_text(status_counts(outcomes))} in <code>{path}</code>")
    if baseline.get("error"):
        items.append(f"error: {_text(baseline['error'])}")
    for write in baseline.get("written", []):
        items.append(
            f"recorded <code>{_text(write['key'])}</code> ({_text(write['reason'])}; "
            f"<code>{_text(write['test'])}</code>)"
        )
    for key in baseline.get("stale", []):
        items.append(f"stale, not checked by this run: <code>{_text(key)}</code>")
    for outcome in outcomes:
        for note in outcome.get("notes", []):
            items.append(
                f"warning: <code>{_text(outcome['test'])}</code>: {_text(note)}"
            )
    lines = ["<h2>Baseline</h2>", "<ul>"]
    lines += [f"<li>{item}</li>" for item in items]
    lines.append("</ul>")
    return lines


def _provenance_section(provenance: Mapping[str, Any]) -> list[str]:
    rows = [("python", provenance.get("python", ""))]
    rows += sorted(provenance.get("versions", {}).items())
    rows += [
        (f"option {k}", v) for k, v in sorted(provenance.get("options", {}).items())
    ]
    lines = ["<h2>Provenance</h2>", "<table>"]
    lines += [
        f"<tr><th>{_text(name)}</th><td>{_text(value)}</td></tr>"
        for name, value in rows
    ]
    lines.append("</table>")
    return lines


def _text(value: Any) -> str:
    return html.escape("" if value is None else str(value))
