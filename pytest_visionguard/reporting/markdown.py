"""The run report as GitHub-flavoured Markdown, also appended to GITHUB_STEP_SUMMARY.

It renders the dict of `json_report.build_report`: a table with each gate's
deciding check, every group in a collapsed section, then what the run did
with its baseline file.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_visionguard.reporting.json_report import deciding_checks
from pytest_visionguard.reporting.terminal import check_cells
from pytest_visionguard.reporting.terminal import percent

_COLUMNS = [
    "result",
    "test",
    "gate",
    "group",
    "figure",
    "value",
    "CI",
    "n",
    "threshold",
]


def render_markdown(report: Mapping[str, Any]) -> str:
    """Return the report as Markdown."""
    gates: list[dict[str, Any]] = list(report.get("gates", []))
    lines = ["## visionguard gates", "", _summary_sentence(report), ""]
    for line in report.get("subsample", []):
        lines += [f"Evaluated on a stratified subsample: {_escape(line)}.", ""]
    if gates:
        lines += _table(gates, verbose=False)
        lines += ["", "<details><summary>Every group</summary>", ""]
        lines += _table(gates, verbose=True)
        lines += ["", "</details>"]
    baseline = report.get("baseline")
    if baseline:
        lines += ["", *_baseline_lines(baseline)]
    return "\n".join(lines) + "\n"


def append_step_summary(path: Path, report: Mapping[str, Any]) -> None:
    """Append the Markdown report to a GitHub Actions job summary file."""
    with path.open("a", encoding="utf-8") as handle:
        handle.write(render_markdown(report) + "\n")


def _summary_sentence(report: Mapping[str, Any]) -> str:
    summary = report.get("summary", {})
    gates, failed = summary.get("gates", 0), summary.get("failed", 0)
    text = f"**{gates} gate{'' if gates == 1 else 's'}, {failed} failed**"
    expected = summary.get("expected_failures", 0)
    if expected:
        text += f", {expected} failed as expected (xfail)"
    return text + f" in {summary.get('tests', 0)} tests."


def _table(gates: Sequence[dict[str, Any]], *, verbose: bool) -> list[str]:
    levels = {float(gate.get("confidence") or 0.95) for gate in gates}
    columns = list(_COLUMNS)
    if len(levels) == 1:
        columns[6] = f"{percent(levels.pop())} CI"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for gate in gates:
        checks = gate.get("checks", [])
        for check in checks if verbose else deciding_checks(checks):
            lines.append(_row(gate, check))
    return lines


def _row(gate: dict[str, Any], check: dict[str, Any]) -> str:
    word, group, figure, value, interval, n, threshold = check_cells(
        check, include_test=None
    )
    if gate.get("expected_failure") and not check.get("passed"):
        word = "xfail"
    elif not check.get("passed"):
        word = f"**{word}**"
    cells = [
        word,
        f"`{gate['test']}`",
        str(gate.get("gate", "")),
        group,
        figure,
        value,
        interval,
        n,
        threshold,
    ]
    return "| " + " | ".join(_escape(cell) for cell in cells) + " |"


def _baseline_lines(baseline: Mapping[str, Any]) -> list[str]:
    path = baseline.get("path", "")
    lines = ["### Baseline", ""]
    outcomes = baseline.get("outcomes", [])
    if outcomes:
        lines.append(f"- {status_counts(outcomes)} in `{path}`.")
    if baseline.get("error"):
        lines.append(f"- error: {_escape(baseline['error'])}")
    written = baseline.get("written", [])
    if written:
        verb = "Wrote" if baseline.get("changed") else "Recorded (unchanged)"
        lines.append(f"- {verb} {len(written)} entries to `{path}`:")
        lines += [
            f"  - `{_escape(item['key'])}` ({item['reason']}; `{item['test']}`)"
            for item in written
        ]
    stale = baseline.get("stale", [])
    if stale:
        lines.append(
            f"- {len(stale)} stale entries in `{path}`, not checked by this run:"
        )
        lines += [f"  - `{_escape(key)}`" for key in stale]
    for outcome in outcomes:
        lines += [
            f"- warning: `{outcome['test']}`: {_escape(note)}"
            for note in outcome.get("notes", [])
        ]
    return lines


def status_counts(outcomes: Sequence[Mapping[str, Any]]) -> str:
    """Return "3 entries checked: 2 matched, 1 regressed" for baseline outcomes."""
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
    parts = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    total = len(outcomes)
    return f"{total} {'entry' if total == 1 else 'entries'} checked: {parts}"


def _escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")
