"""The baseline file and the no_regression gate: its life, its file, its statistics.

The generated project extends PixelReader: each image also carries its index
in pixel (0, 2), and the model shifts the prediction of the indices listed
in flips.txt by one class. So a test makes the model worse on chosen images
without touching the data. North has images 0-59 (0-53 right), south
60-99 (60-89 right).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import pytest

from pytest_visionguard import baselines
from pytest_visionguard import regression
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.gates import DecisionSettings

FLIPPING_CONFTEST = '''
from pathlib import Path


class FlippingReader(PixelReader):
    """PixelReader that shifts the prediction of the images listed in flips.txt."""

    def __init__(self, flips=()):
        super().__init__()
        self.register_buffer("flips", torch.tensor(sorted(flips), dtype=torch.long))

    def forward(self, x):
        log_probs = super().forward(x)
        index = (x[:, 0, 0, 2] * 1000).round().long()
        chosen = torch.isin(index, self.flips)
        log_probs[chosen] = log_probs[chosen].roll(1, dims=1)
        return log_probs


def read_flips():
    path = Path("flips.txt")
    text = path.read_text().strip() if path.exists() else ""
    return [int(index) for index in text.split(",") if index]


@pytest.fixture(scope="session")
def visionguard_model():
    return FlippingReader(read_flips())


@pytest.fixture(scope="session")
def visionguard_data():
    images, labels, metadata = make_sites()
    images[:, 0, 0, 2] = torch.arange(len(labels), dtype=torch.float32) / 1000
    if Path("shifted.txt").exists():
        images[:, 0, 3, :] = 0.25
    return vg.EvalSet(images, labels, metadata=metadata, class_names=["cat", "dog", "fox"])
'''

XDIST_IDS = ["no-xdist", "xdist"]
XDIST_ARGS = [(), ("-n", "2")]


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def flipping(tiny: pytest.Pytester) -> pytest.Pytester:
    """The tiny project with a model whose mistakes flips.txt chooses."""
    from tiny_project import TINY_CONFTEST

    tiny.makeconftest(TINY_CONFTEST + FLIPPING_CONFTEST)
    return tiny


def flip(project: pytest.Pytester, *indices: int) -> None:
    (project.path / "flips.txt").write_text(",".join(map(str, indices)))


TWO_GATES = """
import pytest

@pytest.mark.no_regression(by="site", tolerance=0.02)
def test_sites(visionguard):
    pass

def test_overall(visionguard):
    visionguard.assert_no_regression(tolerance=0.02)
"""


@pytest.mark.parametrize("workers", XDIST_ARGS, ids=XDIST_IDS)
def test_baseline_life(flipping: pytest.Pytester, workers: tuple[str, ...]) -> None:
    flipping.makepyfile(test_release=TWO_GATES)
    baseline = flipping.path / "visionguard-baseline.json"

    missing = flipping.runpytest(*workers)
    missing.assert_outcomes(failed=2)
    missing.stdout.fnmatch_lines(
        [
            "*GateFailure: no_regression failed: accuracy drop from the baseline <= 0.020; "
            "no baseline entry for this figure: 'accuracy by site on evalset' in *visionguard-baseline.json",
            "  record it with: pytest --visionguard-update-baseline test_release.py::test_sites",
        ]
    )
    assert not baseline.exists()

    recorded = flipping.runpytest("--visionguard-update-baseline", *workers)
    recorded.assert_outcomes(passed=2)
    recorded.stdout.fnmatch_lines(
        [
            "*- visionguard files -*",
            "wrote 2 entries to visionguard-baseline.json:",
            "  accuracy by site on evalset (missing; test_release.py::test_sites)",
            "  accuracy on evalset (missing; test_release.py::test_overall)",
        ]
    )
    first_bytes = baseline.read_bytes()

    matching = flipping.runpytest(*workers)
    matching.assert_outcomes(passed=2)
    matching.stdout.no_fnmatch_line("*visionguard files*")

    flip(flipping, 0, 1, 2)
    regressed = flipping.runpytest(*workers)
    regressed.assert_outcomes(failed=2)
    regressed.stdout.fnmatch_lines(
        [
            "*GateFailure: no_regression failed: accuracy drop from the baseline <= 0.020; "
            "1 of 2 groups fail against the baseline (by site)",
            "  site=north: accuracy 0.850 (baseline 0.900, change -0.050, 95% CI [[]*]), n=60; "
            "beyond the tolerance 0.020 (threshold >= 0.880)",
            "  note: the weights differ from those the baseline was recorded with*",
        ]
    )
    regressed.stdout.no_fnmatch_line("  site=south: accuracy*")
    regressed.stdout.fnmatch_lines(
        [
            "warning: test_release.py::test_sites: accuracy by site on evalset: "
            "the weights differ from those the baseline was recorded with*"
        ]
    )
    assert baseline.read_bytes() == first_bytes

    updated = flipping.runpytest("--visionguard-update-baseline", *workers)
    updated.assert_outcomes(passed=2)
    updated.stdout.fnmatch_lines(
        [
            "wrote 2 entries to visionguard-baseline.json:",
            "  accuracy by site on evalset (failing; test_release.py::test_sites)",
            "  accuracy on evalset (failing; test_release.py::test_overall)",
        ]
    )
    entry = json.loads(baseline.read_text())["entries"]["accuracy by site on evalset"]
    assert entry["groups"]["site=north"]["value"] == 0.85

    flipping.runpytest(*workers).assert_outcomes(passed=2)


def assert_sorted_layout(text: str) -> None:
    payload = json.loads(text)
    entry = payload["entries"]["accuracy by site on evalset"]
    assert text == json.dumps(payload, sort_keys=True, indent=2) + "\n"
    assert payload["format"] == "pytest-visionguard-baseline"
    assert payload["version"] == 1
    assert entry["groups"]["site=south"] == {
        "value": 0.75,
        "n": 40,
        "successes": 30,
        "ci_low": pytest.approx(0.5980604, abs=1e-6),
        "ci_high": pytest.approx(0.8581288, abs=1e-6),
    }
    assert entry["metric"] == "accuracy"
    assert entry["by"] == ["site"]
    assert entry["data"] == "evalset"
    assert sorted(entry["provenance"]) == [
        "data",
        "device",
        "model",
        "seed",
        "versions",
    ]
    assert sorted(entry["provenance"]["versions"]) == [
        "numpy",
        "pytest-visionguard",
        "torch",
    ]
    assert os.uname().nodename not in text


def test_regenerate_rewrites_same_bytes(flipping: pytest.Pytester) -> None:
    flipping.makepyfile(
        test_release="""
        import pytest

        @pytest.mark.no_regression(by="site", tolerance=0.1)
        def test_sites(visionguard):
            pass
        """
    )
    baseline = flipping.path / "visionguard-baseline.json"
    flipping.runpytest("--visionguard-regenerate-baseline").assert_outcomes(passed=1)
    first = baseline.read_bytes()
    assert_sorted_layout(baseline.read_text())

    again = flipping.runpytest("--visionguard-regenerate-baseline")
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(
        [
            "recorded (the file already held them) 1 entry to visionguard-baseline.json:",
            "  accuracy by site on evalset (regenerate; test_release.py::test_sites)",
        ]
    )
    assert baseline.read_bytes() == first

    flip(flipping, 0)
    flipping.runpytest("--visionguard-update-baseline").assert_outcomes(passed=1)
    assert baseline.read_bytes() == first

    flipping.runpytest("--visionguard-regenerate-baseline").assert_outcomes(passed=1)
    entries = json.loads(baseline.read_text())["entries"]
    north = entries["accuracy by site on evalset"]["groups"]["site=north"]
    assert north["successes"] == 53


def test_update_and_regenerate_exclude_each_other(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(
        "--visionguard-update-baseline", "--visionguard-regenerate-baseline"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*exclude each other; pass one of them*"])


def test_baseline_path_and_corrupt_file(flipping: pytest.Pytester) -> None:
    flipping.makepyfile(test_release=TWO_GATES)
    elsewhere = flipping.runpytest(
        "--visionguard-baseline=gates/base.json", "-k", "overall"
    )
    elsewhere.assert_outcomes(failed=1, deselected=1)
    elsewhere.stdout.fnmatch_lines(
        [
            "*no baseline entry for this figure: 'accuracy on evalset' in *gates/base.json",
            "  record it with: pytest --visionguard-update-baseline "
            "--visionguard-baseline=gates/base.json test_release.py::test_overall",
        ]
    )

    baseline = flipping.path / "gates" / "base.json"
    baseline.parent.mkdir()
    baseline.write_text('{"format": "pytest-visionguard-baseline", "entries": {')
    result = flipping.runpytest(
        "--visionguard-baseline=gates/base.json", "--visionguard-update-baseline"
    )
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*VisionGuardError: the baseline file *base.json is not valid JSON*"
            "the file was left unchanged*",
            "error: the baseline file *base.json is not valid JSON*",
        ]
    )
    assert baseline.read_text() == (
        '{"format": "pytest-visionguard-baseline", "entries": {'
    )


def test_stale_entries_and_changed_data_reported(flipping: pytest.Pytester) -> None:
    flipping.makepyfile(test_release=TWO_GATES)
    flipping.runpytest("--visionguard-update-baseline").assert_outcomes(passed=2)
    (flipping.path / "shifted.txt").write_text("yes")

    result = flipping.runpytest("-k", "sites")
    result.assert_outcomes(passed=1, deselected=1)
    result.stdout.fnmatch_lines(
        [
            "stale: 1 entry in visionguard-baseline.json not checked by this run*",
            "  accuracy on evalset",
            "warning: test_release.py::test_sites: accuracy by site on evalset: the "
            "evaluation data differ from the data the baseline was recorded on*",
        ]
    )
    result.stdout.no_fnmatch_line("*the weights differ*")


def test_paired_detects_what_rates_miss(flipping: pytest.Pytester) -> None:
    flipping.makepyfile(
        test_release="""
        import pytest

        @pytest.mark.no_regression(tolerance=0.01, confidence=0.95)
        def test_rates(visionguard):
            pass

        @pytest.mark.no_regression(tolerance=0.01, confidence=0.95, paired=True)
        def test_paired(visionguard):
            pass
        """
    )
    flipping.runpytest("--visionguard-update-baseline").assert_outcomes(passed=2)
    entry = json.loads((flipping.path / "visionguard-baseline.json").read_text())
    assert entry["entries"]["accuracy on evalset"]["paired"]["n_images"] == 100

    # Eight more mistakes take accuracy from 0.840 to 0.760: comparing two
    # independent rates of 100 images cannot tell, the same images can.
    flip(flipping, *range(8))
    result = flipping.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*test_rates PASSED*",
            "*test_paired FAILED*",
            "  all: accuracy 0.760 (baseline 0.840, change -0.080, 95% CI [[]-0.080, -0.021]), "
            "n=100; beyond the tolerance 0.010 (threshold >= 0.830); 8 images no longer "
            "correct, 0 newly correct, McNemar exact p = 0.007812",
        ]
    )
    result.stdout.fnmatch_lines(
        ["*no_regression * inconclusive * all * 0.760*test_rates"]
    )


def test_paired_rejects_precision() -> None:
    with pytest.raises(VisionGuardError, match="paired=True needs a metric counted"):
        regression.check_regression_arguments("precision", 0.01, paired=True)


@pytest.mark.parametrize("tolerance", [-0.01, math.nan, True, "0.1"])
def test_invalid_tolerance_rejected(tolerance: object) -> None:
    with pytest.raises(VisionGuardError, match="tolerance must be a finite number"):
        regression.check_regression_arguments("accuracy", tolerance, paired=False)  # type: ignore[arg-type]


# The file, without a subprocess


def make_entry(**groups: tuple[float, int]) -> baselines.BaselineEntry:
    return baselines.BaselineEntry(
        metric="accuracy",
        positive=None,
        by=("site",),
        corruption=None,
        severity=None,
        data_name="evalset",
        params={},
        confidence=0.95,
        groups={
            label: baselines.GroupFigure(value, n, math.nan, math.nan, None)
            for label, (value, n) in groups.items()
        },
        provenance=baselines.Provenance("weights", "data", 0, "cpu", {"torch": "2"}),
    )


def test_nan_written_as_null_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(baselines.render_baseline({"k": make_entry(east=(math.nan, 0))}))
    assert '"value": null' in path.read_text()
    figure = baselines.BaselineFile.load(path).entries["k"].groups["east"]
    assert math.isnan(figure.value)
    assert figure.n == 0


@pytest.mark.parametrize(
    ("stored", "current"),
    [(math.nan, math.nan), (math.nan, 0.5), (0.5, math.nan)],
    ids=["nan-vs-nan", "nan-baseline", "nan-now"],
)
def test_undefined_figures_fail(stored: float, current: float) -> None:
    from pytest_visionguard.measurements import MeasuredRow
    from pytest_visionguard.measurements import Measurement

    session = baselines.BaselineSession(Path("unused.json"))
    session._file = baselines.BaselineFile(
        Path("unused.json"),
        {"accuracy by site on evalset": make_entry(**{"site=east": (stored, 5)})},
    )
    row = MeasuredRow(("east",), "site=east", 5, current, math.nan, math.nan)
    run = regression.CurrentRun(
        measurement=Measurement("accuracy", ("site",), [row], 0.95, "wilson"),
        group_indices={"site=east": None},  # type: ignore[dict-item]
        hits=None,
        counted=None,
        provenance=baselines.Provenance("weights", "data", 0, "cpu", {}),
        data_name="evalset",
    )
    spec = regression.RegressionSpec(
        "accuracy", None, ("site",), None, None, 0.01, False
    )
    comparison = regression.compare_with_baseline(
        spec, run, baselines.BaselineBinding(session), DecisionSettings()
    )
    [check] = comparison.checks
    assert check.status == "undefined"
    assert not check.passed
    assert comparison.outcome.status == "regressed"


def test_foreign_json_rejected(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text('{"entries": {}}')
    with pytest.raises(VisionGuardError, match="is not a pytest-visionguard baseline"):
        baselines.BaselineFile.load(path)
    assert path.read_text() == '{"entries": {}}'


def test_newer_format_rejected(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text('{"format": "pytest-visionguard-baseline", "version": 2}')
    with pytest.raises(VisionGuardError, match="format version 2.*upgrade"):
        baselines.BaselineFile.load(path)


def test_malformed_entry_named(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text(
        '{"format": "pytest-visionguard-baseline", "version": 1, '
        '"entries": {"accuracy on val": {"metric": "accuracy"}}}'
    )
    with pytest.raises(VisionGuardError, match="entry 'accuracy on val': groups must"):
        baselines.BaselineFile.load(path)


def test_failed_write_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("old\n")

    def interrupted(handle: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        baselines.write_atomically(path, "new\n")
    assert path.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [path]


def test_failed_rename_keeps_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("old\n")

    def no_space(source: str, target: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(OSError, match="No space left"):
        baselines.write_atomically(path, "new\n")
    assert path.read_text() == "old\n"
    assert list(tmp_path.iterdir()) == [path]


def test_write_keeps_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "baseline.json"
    path.write_text("old\n")
    path.chmod(0o640)
    baselines.write_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert path.stat().st_mode & 0o777 == 0o640


def test_conflicting_records_rejected() -> None:
    first = baselines.EntryOutcome(
        "k", "recorded", "missing", make_entry(a=(0.5, 2)), test="t1"
    )
    second = baselines.EntryOutcome(
        "k", "recorded", "missing", make_entry(a=(1.0, 2)), test="t2"
    )
    with pytest.raises(
        VisionGuardError, match="recorded with different figures by t1 and t2"
    ):
        baselines.recorded_entries([second, first])


def test_outcome_round_trip() -> None:
    outcome = baselines.EntryOutcome(
        "k",
        "recorded",
        "failing",
        make_entry(a=(0.5, 2)),
        ("note",),
        {"a": {"change": -0.1}},
        "t",
    )
    assert baselines.EntryOutcome.from_json(outcome.to_json(), "t") == outcome


def test_outside_pytest_needs_binding() -> None:
    from pytest_visionguard.guard import VisionGuard

    guard = VisionGuard(None)  # type: ignore[arg-type]
    with pytest.raises(VisionGuardError, match="needs a baseline file"):
        baselines.binding_for(guard)


# The statistics


def test_newcombe_interval_by_hand() -> None:
    # 56/70 - 48/80 = 0.2, with the Wilson intervals [0.69183, 0.87695] and
    # [0.49045, 0.70038]: 0.2 - hypot(0.8 - 0.69183, 0.70038 - 0.6) = 0.0524
    # and 0.2 + hypot(0.87695 - 0.8, 0.6 - 0.49045) = 0.3339.
    from pytest_visionguard.metrics import wilson_interval

    low, high = regression.mover_difference_interval(
        56 / 70, wilson_interval(56, 70), 48 / 80, wilson_interval(48, 80)
    )
    assert round(low, 4) == 0.0524
    assert round(high, 4) == 0.3339


@pytest.mark.parametrize(
    ("up", "down"), [(0, 8), (3, 12), (5, 5), (0, 0), (2400, 2600)]
)
def test_mcnemar_matches_binomial_test(up: int, down: int) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = 1.0 if up + down == 0 else scipy_stats.binomtest(up, up + down).pvalue
    assert regression.mcnemar_exact_p_value(up, down) == pytest.approx(
        expected, rel=1e-9
    )


@pytest.mark.parametrize(("successes", "n"), [(0, 10), (3, 10), (8, 8), (50, 1000)])
def test_clopper_pearson_matches_beta_quantiles(successes: int, n: int) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    low, high = regression.clopper_pearson_interval(successes, n, 0.95)
    expected_low = (
        0.0
        if successes == 0
        else scipy_stats.beta.ppf(0.025, successes, n - successes + 1)
    )
    expected_high = (
        1.0
        if successes == n
        else scipy_stats.beta.ppf(0.975, successes + 1, n - successes)
    )
    assert low == pytest.approx(expected_low, abs=1e-12)
    assert high == pytest.approx(expected_high, abs=1e-12)


@pytest.mark.parametrize(
    ("a", "b", "x"),
    [(2.5, 3.5, 0.3), (1.0, 1.0, 0.7), (50.0, 951.0, 0.04), (8.0, 1.0, 0.99)],
)
def test_incomplete_beta_matches_scipy(a: float, b: float, x: float) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    expected = scipy_stats.beta.cdf(x, a, b)
    assert regression.regularized_incomplete_beta(a, b, x) == pytest.approx(
        expected, rel=1e-10
    )


def test_paired_interval_excludes_zero_when_mcnemar_rejects() -> None:
    low, high = regression.paired_change_interval(up=0, down=8, n=100, confidence=0.95)
    assert low == pytest.approx(-0.08)
    assert high < 0
    assert regression.mcnemar_exact_p_value(0, 8) < 0.05


def test_paired_interval_without_changes_is_zero() -> None:
    assert regression.paired_change_interval(0, 0, 100, 0.95) == (0.0, 0.0)


@pytest.mark.parametrize(
    ("metric", "expected"),
    [
        ("accuracy", [("at_least", 0.79)]),
        ("false_negative_rate", [("at_most", 0.81)]),
        ("selection_rate", [("at_least", 0.79), ("at_most", 0.81)]),
    ],
)
def test_worse_direction_per_metric(
    metric: str, expected: list[tuple[str, float]]
) -> None:
    limits = regression.regression_limits(metric, 0.8, 0.01)
    assert [(direction, round(value, 9)) for direction, value in limits] == expected
