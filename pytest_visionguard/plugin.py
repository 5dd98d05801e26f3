"""The pytest plugin: options, markers, gate markers, failure reports and the summary.

Loading this module imports neither torch nor pandas: projects that install
the plugin but do not use it pay nothing at start-up.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Generator
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import pytest

from pytest_visionguard.errors import GateFailure
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.errors import VisionGuardWarning
from pytest_visionguard.fixtures import visionguard
from pytest_visionguard.fixtures import visionguard_data
from pytest_visionguard.fixtures import visionguard_model
from pytest_visionguard.fixtures import visionguard_reference_model
from pytest_visionguard.reporting.terminal import render_gate_table
from pytest_visionguard.reporting.terminal import render_summary

if TYPE_CHECKING:
    from pytest_visionguard.baselines import BaselineSummary
    from pytest_visionguard.cache import PredictionCache
    from pytest_visionguard.evaluation import Evaluation
    from pytest_visionguard.gates import GateResult
    from pytest_visionguard.guard import VisionGuard
    from pytest_visionguard.measurements import Measurement

__all__ = [
    "visionguard",
    "visionguard_data",
    "visionguard_model",
    "visionguard_reference_model",
]

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
    "no_regression": (
        "assert_no_regression",
        "no_regression(name='accuracy', by=None, tolerance=0.01, positive=None, "
        "paired=False, ...): fail when a group is worse than in the baseline file "
        "by more than tolerance, e.g. no_regression(by='site', tolerance=0.02)",
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
        min_group_size: the default minimum number of samples per figure.
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
        "default minimum number of samples a group's figure may be computed on "
        "(default: 1)",
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
    _add_file_options(group, parser)


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
        file_options = _read_file_options(config)
        subsample_options = _read_subsample_options(config)
    except VisionGuardError as error:
        raise pytest.UsageError(str(error)) from None
    state = PluginState(options)
    config.stash[STATE_KEY] = state
    config.pluginmanager.register(SummaryCollector(state), "visionguard-summary")
    files = RunFiles(config, file_options, state)
    config.stash[FILES_KEY] = files
    config.pluginmanager.register(files, "visionguard-files")
    subsampler = Subsampler(subsample_options, options)
    config.stash[SUBSAMPLE_KEY] = subsampler
    config.pluginmanager.register(subsampler, "visionguard-subsample")


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
    from workers to the controller, so the controller receives every gate.
    """

    def __init__(self, state: PluginState) -> None:
        self.state = state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == USER_PROPERTY:
                result = json.loads(str(value))
                result["expected_failure"] = hasattr(report, "wasxfail")
                self.state.summary.append((report.nodeid, result))

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


def guard_for_item(
    item: pytest.Item,
    model: Any,
    data: Any,
    reference_model: Callable[[], Any] | None = None,
) -> VisionGuard:
    """Return a VisionGuard for a test, sharing the session's cached inference.

    `reference_model` returns the `visionguard_reference_model` fixture's
    value; it is called only when a corruption-error measurement needs it.
    """
    from pytest_visionguard.guard import GuardSettings
    from pytest_visionguard.guard import VisionGuard

    state = item.config.stash[STATE_KEY]
    cache = item.config.stash[FILES_KEY].prediction_cache()
    data = item.config.stash[SUBSAMPLE_KEY].data_for(item, data)
    evaluation = _evaluation_for(state, model, data, cache)
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

    def reference() -> Evaluation:
        if reference_model is None:
            raise VisionGuardError("no reference model is available outside a test")
        return _evaluation_for(state, reference_model(), data, cache)

    guard = VisionGuard(
        evaluation, settings=settings, recorder=record, reference=reference
    )
    _bind_baseline(item, guard)
    return guard


def _evaluation_for(
    state: PluginState, model: Any, data: Any, cache: PredictionCache | None = None
) -> Evaluation:
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
        cache=cache,
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
                f"the arguments of visionguard.{method_name}(), thresholds as "
                f"keywords, e.g. {_marker_example(marker.name)}"
            ) from None
    if len(failures) == 1:
        raise failures[0]
    if failures:
        raise GateFailure("\n\n".join(str(failure) for failure in failures))


def _marker_example(name: str) -> str:
    description = GATE_MARKERS[name][1]
    return description.split("e.g. ")[-1] if "e.g. " in description else name


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


# Baselines, the prediction cache and report files

BASELINE_PROPERTY = "visionguard_baseline"
FILES_KEY = pytest.StashKey["RunFiles"]()
REPORT_SUFFIXES = (".json", ".md", ".html")


@dataclass(frozen=True)
class FileOptions:
    """The options of the files that the plugin reads and writes, command line over ini.

    Attributes:
        baseline: the baseline file.
        baseline_option: the `--visionguard-baseline` argument that chose
            the file on the command line, repeated in the commands that
            messages suggest; "" otherwise.
        baseline_mode: "compare", "update" or "regenerate".
        cache_dir: the prediction cache directory, or None for the default
            inside pytest's cache directory.
        no_cache: whether the on-disk prediction cache is off.
        reports: the report files, each in the format its suffix names.
    """

    baseline: Path
    baseline_option: str = ""
    baseline_mode: str = "compare"
    cache_dir: Path | None = None
    no_cache: bool = False
    reports: tuple[Path, ...] = ()


def _add_file_options(group: Any, parser: pytest.Parser) -> None:
    group.addoption(
        "--visionguard-baseline",
        dest="visionguard_baseline",
        metavar="PATH",
        default=None,
        help="baseline file of the no_regression gates "
        "(default: visionguard-baseline.json in the rootdir)",
    )
    parser.addini("visionguard_baseline", "baseline file of the no_regression gates")
    for name, help_text in (
        (
            "update-baseline",
            "record the baseline entries that are missing or failing; the gates "
            "whose entries are recorded pass",
        ),
        (
            "regenerate-baseline",
            "record every baseline entry that a gate of this run checks",
        ),
        ("no-cache", "keep predictions in memory only, without the on-disk cache"),
    ):
        dest = "visionguard_" + name.replace("-", "_")
        group.addoption(
            f"--visionguard-{name}",
            dest=dest,
            action="store_true",
            default=False,
            help=help_text,
        )
        parser.addini(dest, help_text, type="bool", default=False)
    group.addoption(
        "--visionguard-cache-dir",
        dest="visionguard_cache_dir",
        metavar="DIR",
        default=None,
        help="directory of an on-disk prediction cache that re-runs share; "
        "clear it after changing code the model calls outside its class "
        "(default: none, except that pytest-xdist workers share one per run)",
    )
    parser.addini("visionguard_cache_dir", "directory of the prediction cache")
    group.addoption(
        "--visionguard-report",
        dest="visionguard_report",
        metavar="PATH",
        action="append",
        default=None,
        help="write a report of every gate to PATH; the suffix .json, .md or "
        ".html picks the format; repeat the option for several reports",
    )
    parser.addini(
        "visionguard_report", "report files, one per line", type="linelist", default=[]
    )
    group.addoption(
        "--visionguard-subsample",
        dest="visionguard_subsample",
        metavar="FRACTION",
        default=None,
        help="evaluate a stratified subsample of each evaluation set, e.g. 0.25; "
        "every group of the gates' by= columns keeps at least min-group-size "
        "images (default: the whole set)",
    )
    parser.addini("visionguard_subsample", "fraction of each evaluation set to use")
    parser.addini(
        "visionguard_subsample_by",
        "metadata columns to stratify the subsample by, besides the by= columns "
        "of the gate markers",
        type="args",
        default=[],
    )


def _read_file_options(config: pytest.Config) -> FileOptions:
    def flag(name: str) -> bool:
        return bool(config.getoption(name)) or bool(config.getini(name))

    update = flag("visionguard_update_baseline")
    regenerate = flag("visionguard_regenerate_baseline")
    if update and regenerate:
        raise VisionGuardError(
            "--visionguard-update-baseline and --visionguard-regenerate-baseline "
            "exclude each other; pass one of them"
        )
    baseline = _option_path(config, "visionguard_baseline")
    option_text = config.getoption("visionguard_baseline")
    mode = "compare"
    if update:
        mode = "update"
    if regenerate:
        mode = "regenerate"
    return FileOptions(
        baseline=baseline or config.rootpath / "visionguard-baseline.json",
        baseline_option=f"--visionguard-baseline={option_text}" if option_text else "",
        baseline_mode=mode,
        cache_dir=_option_path(config, "visionguard_cache_dir"),
        no_cache=flag("visionguard_no_cache"),
        reports=_report_paths(config),
    )


def _option_path(config: pytest.Config, name: str) -> Path | None:
    """Return an option's path: from the command line relative to the invocation
    directory, else from the ini file relative to the ini file's directory."""
    value = config.getoption(name)
    if value:
        return config.invocation_params.dir / str(value)
    text = str(config.getini(name) or "").strip()
    return _ini_directory(config) / text if text else None


def _ini_directory(config: pytest.Config) -> Path:
    return config.inipath.parent if config.inipath else config.rootpath


def _report_paths(config: pytest.Config) -> tuple[Path, ...]:
    given = config.getoption("visionguard_report")
    if given:
        paths = [config.invocation_params.dir / str(value) for value in given]
    else:
        lines = [str(line).strip() for line in config.getini("visionguard_report")]
        paths = [_ini_directory(config) / line for line in lines if line]
    for path in paths:
        if path.suffix.lower() not in REPORT_SUFFIXES:
            raise VisionGuardError(
                f"--visionguard-report: unknown report format {path.name!r}; use a "
                "path ending in .json, .md or .html"
            )
    return tuple(paths)


def _bind_baseline(item: pytest.Item, guard: VisionGuard) -> None:
    from pytest_visionguard.baselines import BaselineBinding
    from pytest_visionguard.baselines import EntryOutcome
    from pytest_visionguard.baselines import bind_baseline

    def send(outcome: EntryOutcome) -> None:
        payload = json.dumps(outcome.to_json(), sort_keys=True, separators=(",", ":"))
        item.user_properties.append((BASELINE_PROPERTY, payload))

    files = item.config.stash[FILES_KEY]
    binding = BaselineBinding(
        files.baseline_session, test=item.nodeid, params=_parameter_ids(item), send=send
    )
    bind_baseline(guard, binding)


def _parameter_ids(item: pytest.Item) -> dict[str, str]:
    """Return name -> id of the test's parameters, part of every baseline entry key.

    A parameter that is a string, number, bool or None is written as itself.
    Any other value is written as its position in the parameter list, as `#0`.
    """
    callspec = getattr(item, "callspec", None)
    params: dict[str, object] = getattr(callspec, "params", None) or {}
    indices: dict[str, int] = getattr(callspec, "indices", None) or {}
    ids = {}
    for name, value in params.items():
        if value is None or isinstance(value, str | int | float | bool):
            ids[name] = str(value)
        else:
            ids[name] = f"#{indices.get(name, 0)}"
    return ids


class RunFiles:
    """Writes the baseline file and the reports once per run, on the controller.

    Each regression gate sends its baseline outcome (and any entry it
    recorded) in the test report's `user_properties`, under the name
    `visionguard_baseline`. pytest-xdist carries those to the controller,
    which writes the baseline file once, in `pytest_sessionfinish`.
    """

    def __init__(
        self, config: pytest.Config, options: FileOptions, state: PluginState
    ) -> None:
        from pytest_visionguard.baselines import BaselineSession

        self.config = config
        self.options = options
        self.state = state
        self.baseline_session = BaselineSession(
            options.baseline,
            options.baseline_mode,  # type: ignore[arg-type]
            path_option=options.baseline_option,
        )
        self.outcomes: list[Any] = []
        self.order: dict[str, int] = {}
        self.baseline: BaselineSummary | None = None
        self.written_reports: list[Path] = []
        self.errors: list[str] = []
        self._cache: PredictionCache | None = None

    def prediction_cache(self) -> PredictionCache | None:
        """Return the on-disk prediction cache, or None when it is off."""
        if self.options.no_cache:
            return None
        if self._cache is None:
            from pytest_visionguard.cache import DEFAULT_CACHE_NAME
            from pytest_visionguard.cache import PredictionCache

            directory = self.options.cache_dir
            if directory is None:
                directory = self._run_cache_directory(DEFAULT_CACHE_NAME)
            if directory is None:
                return None
            self._cache = PredictionCache(directory)
        return self._cache

    def _run_cache_directory(self, default_name: str) -> Path | None:
        """Return this run's cache directory under pytest-xdist, else None.

        Without `--visionguard-cache-dir`, predictions are shared only by the
        workers of one run: a later run must not reuse predictions made
        before an edit that the fingerprints cannot see, such as a helper
        function the model calls. A single process keeps them in memory.
        """
        workerinput = getattr(self.config, "workerinput", None)
        run_id = workerinput.get("testrunuid") if workerinput else None
        if not run_id:
            return None
        pytest_cache = getattr(self.config, "cache", None)
        if pytest_cache is not None:
            root = Path(pytest_cache.mkdir("visionguard-predictions"))
        else:
            root = self.config.rootpath / default_name
        _remove_old_runs(root, keep=str(run_id))
        return root / str(run_id)

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.order = {item.nodeid: index for index, item in enumerate(session.items)}

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: list[str]) -> None:
        # Every worker collects the same tests; the first list sets the order.
        if not self.order:
            self.order = {nodeid: index for index, nodeid in enumerate(ids)}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        from pytest_visionguard.baselines import EntryOutcome

        if report.when != "call" or hasattr(self.config, "workerinput"):
            return
        for name, value in report.user_properties:
            if name == BASELINE_PROPERTY:
                payload = json.loads(str(value))
                self.outcomes.append(EntryOutcome.from_json(payload, report.nodeid))

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        from pytest_visionguard.baselines import finish_run

        if hasattr(self.config, "workerinput"):
            return
        interrupted = exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.INTERNAL_ERROR,
        )
        # A run without regression gates reports none of the entries as stale.
        # With a flag, the summary also reports when the file cannot be written.
        recording = self.options.baseline_mode != "compare"
        if self.outcomes or (recording and self.options.baseline.exists()):
            self.baseline = finish_run(
                self.baseline_session, self.outcomes, write=not interrupted
            )
        self._write_reports()

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(
        self, terminalreporter: Any, config: pytest.Config
    ) -> None:
        if hasattr(config, "workerinput"):
            return
        lines = list(self.errors)
        if self.baseline is not None:
            lines += self.baseline.lines(
                shown_path=_shown_path(config, self.baseline.path),
                verbose=config.get_verbosity() > 0,
            )
        lines += [
            f"wrote report {_shown_path(config, path)}" for path in self.written_reports
        ]
        if lines:
            terminalreporter.write_sep("-", "visionguard files")
            for line in lines:
                terminalreporter.write_line(line)

    def _write_reports(self) -> None:
        import os

        from pytest_visionguard.reporting.json_report import build_report
        from pytest_visionguard.reporting.json_report import write_report
        from pytest_visionguard.reporting.markdown import append_step_summary

        step_summary = os.environ.get("GITHUB_STEP_SUMMARY", "").strip()
        if not self.options.reports and not step_summary:
            return
        if not self.state.summary and self.baseline is None:
            return
        report = build_report(
            self.state.summary,
            order=self.order,
            baseline=self.baseline,
            options=self.state.options,
            rootpath=self.config.rootpath,
            subsample=list(self.config.stash[SUBSAMPLE_KEY].descriptions),
        )
        for path in self.options.reports:
            try:
                write_report(path, report)
            except OSError as error:
                self.errors.append(f"error: could not write report {path}: {error}")
            else:
                self.written_reports.append(path)
        if step_summary:
            try:
                append_step_summary(Path(step_summary), report)
            except OSError as error:
                self.errors.append(
                    f"error: could not append to GITHUB_STEP_SUMMARY {step_summary}: "
                    f"{error}"
                )


def _shown_path(config: pytest.Config, path: Path) -> str:
    try:
        return str(path.relative_to(config.rootpath))
    except ValueError:
        return str(path)


# The stratified subsample

SUBSAMPLE_PROPERTY = "visionguard_subsample"
SUBSAMPLE_KEY = pytest.StashKey["Subsampler"]()


@dataclass(frozen=True)
class SubsampleOptions:
    """The stratified subsample, command line over ini.

    Attributes:
        fraction: the share of each evaluation set to evaluate, or None for
            all of it.
        by: columns to stratify by, beside the `by=` columns of gate markers.
    """

    fraction: float | None = None
    by: tuple[str, ...] = ()


def _read_subsample_options(config: pytest.Config) -> SubsampleOptions:
    text = config.getoption("visionguard_subsample") or config.getini(
        "visionguard_subsample"
    )
    by = tuple(str(column) for column in config.getini("visionguard_subsample_by"))
    return SubsampleOptions(_parse_fraction(str(text or "")), by)


def _parse_fraction(text: str) -> float | None:
    import math

    if not text.strip():
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0.0 < value <= 1.0:
        raise VisionGuardError(
            f"--visionguard-subsample: expected a fraction in (0, 1] such as 0.25, "
            f"got {text!r}"
        )
    return value


class Subsampler:
    """Replaces each evaluation set by its stratified subsample, and reports it.

    The strata are the combinations of the columns that gate markers name in
    `by=` and of `visionguard_subsample_by`. Every pytest-xdist worker
    collects the same tests, so every worker draws the same images.
    """

    def __init__(self, options: SubsampleOptions, run: RunOptions) -> None:
        self.options = options
        self.run = run
        self.columns: set[str] = set(options.by)
        self.subsets: dict[int, tuple[Any, Any]] = {}
        self.descriptions: dict[str, None] = {}

    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        from pytest_visionguard.subsample import marker_columns

        if self.options.fraction is None:
            return
        for item in items:
            self.columns |= marker_columns(_gate_markers(item))

    def data_for(self, item: pytest.Item, data: Any) -> Any:
        """Return the subsample of `data`, or `data` itself without the option."""
        from pytest_visionguard.data import EvalSet
        from pytest_visionguard.subsample import subsample_evalset

        if self.options.fraction is None or not isinstance(data, EvalSet):
            return data
        if id(data) not in self.subsets:
            subset, info = subsample_evalset(
                data,
                sorted(self.columns),
                fraction=self.options.fraction,
                min_group_size=self.run.min_group_size,
                seed=self.run.seed,
            )
            # Keeping `data` alive keeps its id unique while the entry exists.
            self.subsets[id(data)] = (data, (subset, info))
        subset, info = self.subsets[id(data)][1]
        item.user_properties.append((SUBSAMPLE_PROPERTY, info.describe()))
        return subset

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "call":
            return
        for name, value in report.user_properties:
            if name == SUBSAMPLE_PROPERTY:
                self.descriptions.setdefault(str(value), None)

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(
        self, terminalreporter: Any, config: pytest.Config
    ) -> None:
        if hasattr(config, "workerinput") or not self.descriptions:
            return
        terminalreporter.write_sep("-", "visionguard subsample")
        for description in sorted(self.descriptions):
            terminalreporter.write_line(description)
        terminalreporter.write_line(
            "the figures and intervals come from the subsample, not the whole set"
        )


def _remove_old_runs(root: Path, *, keep: str, max_age_s: float = 86400.0) -> None:
    """Delete the run directories of earlier xdist runs older than a day."""
    import shutil
    import time

    if not root.is_dir():
        return
    cutoff = time.time() - max_age_s
    for entry in root.iterdir():
        try:
            if entry.is_dir() and entry.name != keep and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry, ignore_errors=True)
        except OSError:
            continue
