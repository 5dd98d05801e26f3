"""The pytest plugin: options, markers, gate markers, failure reports and the summary.

Loading this module imports neither torch nor pandas: projects that install
the plugin but do not use it pay nothing at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import pytest

from pytest_visionguard.errors import GateFailure
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.errors import VisionGuardWarning
from pytest_visionguard.fixtures import visionguard
from pytest_visionguard.fixtures import visionguard_data
from pytest_visionguard.fixtures import visionguard_model
from pytest_visionguard.reporting.terminal import render_gate_table
from pytest_visionguard.reporting.terminal import render_summary

if TYPE_CHECKING:
    from pytest_visionguard.evaluation import Evaluation
    from pytest_visionguard.gates import GateResult
    from pytest_visionguard.guard import VisionGuard
    from pytest_visionguard.measurements import Measurement

__all__ = ["visionguard", "visionguard_data", "visionguard_model"]

USER_PROPERTY = "visionguard"

# Marker name -> (VisionGuard method, signature and example for --markers).
GATE_MARKERS: dict[str, tuple[str, str]] = {
    "accuracy_floor": (
        "assert_accuracy",
        "accuracy_floor(at_least, by=None, ...): fail unless top-1 accuracy is at "
        "least at_least in every group, e.g. accuracy_floor(at_least=0.9, by='site')",
    ),
    "metric_limit": (
        "assert_metric",
        "metric_limit(name, at_least=None, at_most=None, by=None, positive=None, "
        "...): bound a rate metric in every group, e.g. metric_limit("
        "'false_negative_rate', positive='tumour', at_most=0.05)",
    ),
    "max_gap": (
        "assert_gap",
        "max_gap(name, at_most, by, positive=None, ...): fail when the best and "
        "worst group differ by more than at_most, e.g. max_gap("
        "'false_negative_rate', positive=1, at_most=0.05, by='skin_tone')",
    ),
    "calibration": (
        "assert_calibration",
        "calibration(max_ece, n_bins=15, norm='l1', by=None, ...): fail when the "
        "top-label calibration error exceeds max_ece, e.g. calibration(max_ece=0.05)",
    ),
    "robustness": (
        "assert_robustness",
        "robustness(corruptions, severity=3, max_drop=None, min_accuracy=None, "
        "by=None): fail when accuracy under corruption drops too far, e.g. "
        "robustness('gaussian_noise', severity=3, max_drop=0.05)",
    ),
    "cost_budget": (
        "assert_cost",
        "cost_budget(cost_matrix, at_most, by=None, review_below=None, "
        "review_cost=None, max_review_rate=None): fail when the expected cost per "
        "image exceeds at_most, e.g. cost_budget([[0, 5], [1, 0]], at_most=0.2)",
    ),
}


@dataclass(frozen=True)
class RunOptions:
    """The plugin's options for this run, command line over ini.

    Attributes:
        device: auto, cpu, cuda or cuda:N.
        batch_size: images per forward pass, or None for the model's own.
        seed: the seed of corruptions and bootstrap intervals.
        confidence: the default deciding interval level, or None.
        min_group_size: the default fewest samples per figure.
        small_groups: the default policy for smaller groups.
    """

    device: str = "auto"
    batch_size: int | None = None
    seed: int = 0
    confidence: float | None = None
    min_group_size: int = 1
    small_groups: str = "fail"


@dataclass
class PluginState:
    """Per-run state, kept under a `pytest.StashKey` on the config.

    Attributes:
        options: the parsed options.
        evaluations: one evaluation per (model, data) pair seen, with the
            pair itself so that its ids stay unique while cached.
        summary: (test id, gate result JSON) for every gate that ran.
    """

    options: RunOptions
    evaluations: dict[tuple[int, int], tuple[Any, Any, Evaluation]] = field(
        default_factory=dict
    )
    summary: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


STATE_KEY = pytest.StashKey[PluginState]()
RESULTS_KEY = pytest.StashKey[list[tuple["GateResult", "Measurement"]]]()

_OPTIONS: list[tuple[str, str, str, str | None]] = [
    # (name, metavar, help, ini default)
    (
        "device",
        "DEVICE",
        "device for inference: auto (CUDA when available), cpu, cuda or cuda:N (default: auto)",
        "auto",
    ),
    (
        "batch-size",
        "N",
        "images per forward pass (default: the Classifier's batch_size, else 128)",
        None,
    ),
    ("seed", "N", "seed of corruptions and bootstrap intervals (default: 0)", "0"),
    (
        "confidence",
        "LEVEL",
        "default interval level that decides gates, e.g. 0.95; 'none' compares point estimates (default: none)",
        None,
    ),
    (
        "min-group-size",
        "N",
        "default fewest samples a group's figure may be computed on (default: 1)",
        "1",
    ),
    (
        "small-groups",
        "POLICY",
        "what groups below the minimum size do: fail, warn or skip (default: fail)",
        "fail",
    ),
]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("visionguard", "deployment gates for image classifiers")
    for name, metavar, help_text, default in _OPTIONS:
        ini_name = "visionguard_" + name.replace("-", "_")
        group.addoption(
            f"--visionguard-{name}",
            dest=ini_name,
            metavar=metavar,
            default=None,
            help=help_text,
        )
        parser.addini(ini_name, help_text, default=default)


def pytest_configure(config: pytest.Config) -> None:
    for _method, description in GATE_MARKERS.values():
        config.addinivalue_line("markers", description)
    config.addinivalue_line(
        "markers",
        "visionguard: added to every test that uses the visionguard fixture; "
        "select with -m visionguard",
    )
    try:
        options = _read_options(config)
    except VisionGuardError as error:
        raise pytest.UsageError(str(error)) from None
    state = PluginState(options)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(SummaryCollector(state), "visionguard-summary")


def pytest_collection_modifyitems(
    config: pytest.Config, items: list[pytest.Item]
) -> None:
    for item in items:
        uses_fixture = "visionguard" in getattr(item, "fixturenames", ())
        if uses_fixture:
            item.add_marker("visionguard")
            continue
        for marker in _gate_markers(item):
            item.warn(
                VisionGuardWarning(
                    f"@pytest.mark.{marker.name} has no effect on {item.name}, which "
                    "does not request the visionguard fixture; add visionguard to "
                    "its arguments"
                )
            )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    result = yield
    markers = _gate_markers(item)
    funcargs = getattr(item, "funcargs", {})
    if markers and "visionguard" in funcargs:
        _run_gate_markers(funcargs["visionguard"], markers)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if call.excinfo is not None and report.failed and _short_reports(item.config):
        if call.excinfo.errisinstance((VisionGuardError, GateFailure)):
            report.longrepr = _short_repr(call.excinfo)  # type: ignore[assignment]
    results = item.stash.get(RESULTS_KEY, [])
    if call.when == "call" and results:
        tables = [
            render_gate_table(result, measurement) for result, measurement in results
        ]
        report.sections.append(("visionguard", "\n\n".join(tables)))
    return report


class SummaryCollector:
    """Collects gate results from test reports and prints the summary table.

    Reports carry the results in `user_properties`, which pytest-xdist sends
    from workers to the controller, so the controller sees every gate.
    """

    def __init__(self, state: PluginState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == USER_PROPERTY:
                self.state.summary.append((report.nodeid, json.loads(str(value))))

    def pytest_terminal_summary(
        self, terminalreporter: Any, config: pytest.Config
    ) -> None:
        if hasattr(config, "workerinput") or not self.state.summary:
            return
        terminalreporter.write_sep("=", "visionguard gates")
        for line in render_summary(
            self.state.summary, verbose=config.get_verbosity() > 0
        ):
            terminalreporter.write_line(line)


def guard_for_item(item: pytest.Item, model: Any, data: Any) -> VisionGuard:
    """Return a VisionGuard for a test, sharing the session's cached inference."""
    from pytest_visionguard.guard import GuardSettings
    from pytest_visionguard.guard import VisionGuard

    state = item.config.stash[STATE_KEY]
    evaluation = _evaluation_for(state, model, data)
    options = state.options
    settings = GuardSettings(
        confidence=options.confidence,
        min_group_size=options.min_group_size,
        small_groups=options.small_groups,
        seed=options.seed,
    )

    def record(result: GateResult, measurement: Measurement) -> None:
        item.user_properties.append((USER_PROPERTY, result.to_json()))
        item.stash.setdefault(RESULTS_KEY, []).append((result, measurement))

    return VisionGuard(evaluation, settings=settings, recorder=record)


def _evaluation_for(state: PluginState, model: Any, data: Any) -> Evaluation:
    from pytest_visionguard.data import EvalSet
    from pytest_visionguard.evaluation import Evaluation
    from pytest_visionguard.evaluation import resolve_device
    from pytest_visionguard.model import as_classifier

    key = (id(model), id(data))
    if key in state.evaluations:
        return state.evaluations[key][2]
    if not isinstance(data, EvalSet):
        raise VisionGuardError(
            f"the visionguard_data fixture returned a {type(data).__name__}; return "
            "a pytest_visionguard.EvalSet (EvalSet(images, labels, metadata=...) or "
            "EvalSet.from_dataset(dataset))"
        )
    options = state.options
    evaluation = Evaluation(
        as_classifier(model),
        data,
        device=resolve_device(options.device),
        batch_size=options.batch_size,
        seed=options.seed,
    )
    state.evaluations[key] = (model, data, evaluation)
    return evaluation


def _run_gate_markers(guard: VisionGuard, markers: list[pytest.Mark]) -> None:
    __tracebackhide__ = True
    failures: list[GateFailure] = []
    for marker in markers:
        method_name = GATE_MARKERS[marker.name][0]
        method = getattr(guard, method_name)
        try:
            method(*marker.args, **marker.kwargs)
        except GateFailure as failure:
            failures.append(failure)
        except TypeError as error:
            raise VisionGuardError(
                f"invalid arguments to @pytest.mark.{marker.name}: {error}; it takes "
                f"the arguments of visionguard.{method_name}()"
            ) from None
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise GateFailure("\n\n".join(str(failure) for failure in failures))


def _gate_markers(item: pytest.Item) -> list[pytest.Mark]:
    # Closest marker first, as iter_markers yields them; run them top-down.
    markers = [marker for marker in item.iter_markers() if marker.name in GATE_MARKERS]
    return list(reversed(markers))


def _short_reports(config: pytest.Config) -> bool:
    return config.getoption("tbstyle", "auto") in ("auto", "short")


class ShortFailureRepr:
    """A failure shown as the user's line and the message, without internals.

    `reprcrash.message` feeds pytest's short test summary, so `-r` lines read
    "GateFailure: accuracy_floor failed: ...". Under pytest-xdist the report
    travels as `str()` of this object.
    """

    def __init__(self, location: str | None, kind: str, message: str) -> None:
        self.lines = (
            [location] if location else []
        ) + f"{kind}: {message}".splitlines()
        self.reprcrash = _Crash(f"{kind}: {message.splitlines()[0] if message else ''}")

    def toterminal(self, writer: Any) -> None:
        for line in self.lines:
            writer.line(line, red=line is not self.lines[0] or len(self.lines) == 1)

    def __str__(self) -> str:
        return "\n".join(self.lines)


@dataclass(frozen=True)
class _Crash:
    message: str


def _short_repr(excinfo: pytest.ExceptionInfo[BaseException]) -> ShortFailureRepr:
    return ShortFailureRepr(
        _user_location(excinfo), excinfo.typename, str(excinfo.value)
    )


def _user_location(excinfo: pytest.ExceptionInfo[BaseException]) -> str | None:
    """Return `path:line` and source of the innermost frame outside the plugin."""
    import os

    package = os.path.dirname(os.path.abspath(__file__))
    chosen = None
    for entry in excinfo.traceback:
        path = str(entry.path)
        if path.startswith(package) or "_pytest" in path or "pluggy" in path:
            continue
        chosen = entry
    if chosen is None:
        return None
    source = str(chosen.statement).strip() if chosen.statement else ""
    relative = os.path.relpath(str(chosen.path))
    return f"{relative}:{chosen.lineno + 1}: {source}"


def _read_options(config: pytest.Config) -> RunOptions:
    def raw(name: str) -> str | None:
        key = "visionguard_" + name
        value = config.getoption(key)
        if value is None:
            value = config.getini(key)
        text = "" if value is None else str(value).strip()
        return text or None

    return RunOptions(
        device=_parse_device(raw("device") or "auto"),
        batch_size=_parse_int("batch-size", raw("batch_size"), minimum=1),
        seed=_parse_int("seed", raw("seed"), minimum=0) or 0,
        confidence=_parse_confidence(raw("confidence")),
        min_group_size=_parse_int("min-group-size", raw("min_group_size"), minimum=1)
        or 1,
        small_groups=_parse_choice(
            "small-groups", raw("small_groups") or "fail", ("fail", "warn", "skip")
        ),
    )


def _parse_device(text: str) -> str:
    import re

    if not re.fullmatch(r"auto|cpu|cuda|cuda:\d+", text):
        raise VisionGuardError(
            f"--visionguard-device: invalid device {text!r}; use auto, cpu, cuda or cuda:N"
        )
    return text


def _parse_int(option: str, text: str | None, *, minimum: int) -> int | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        raise VisionGuardError(
            f"--visionguard-{option}: expected an integer >= {minimum}, got {text!r}"
        )
    return value


def _parse_confidence(text: str | None) -> float | None:
    if text is None or text.lower() == "none":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 < value < 1.0:
        raise VisionGuardError(
            f"--visionguard-confidence: expected a level in (0, 1) such as 0.95, or "
            f"none, got {text!r}"
        )
    return value


def _parse_choice(option: str, text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise VisionGuardError(
            f"--visionguard-{option}: expected one of {', '.join(choices)}, got {text!r}"
        )
    return text
