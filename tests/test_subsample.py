"""The stratified subsample: which images it keeps, and how a run reports it."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from pytest_visionguard.subsample import marker_columns
from pytest_visionguard.subsample import stratified_indices


@pytest.fixture(autouse=True)
def no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


def sites(north: int, south: int) -> pd.DataFrame:
    return pd.DataFrame({"site": ["north"] * north + ["south"] * south})


def test_every_stratum_keeps_its_share() -> None:
    metadata = sites(600, 400)
    kept = stratified_indices(
        metadata, ["site"], fraction=0.1, min_group_size=1, seed=0
    )
    chosen = metadata["site"].iloc[kept].value_counts()
    assert chosen["north"] == 60
    assert chosen["south"] == 40
    assert list(kept) == sorted(kept)


def test_small_strata_keep_min_group_size() -> None:
    metadata = sites(600, 12)
    kept = stratified_indices(
        metadata, ["site"], fraction=0.1, min_group_size=30, seed=0
    )
    chosen = metadata["site"].iloc[kept].value_counts()
    assert chosen["north"] == 60
    assert chosen["south"] == 12


def test_missing_values_form_a_stratum() -> None:
    metadata = pd.DataFrame({"site": ["north"] * 50 + [None] * 10})
    kept = stratified_indices(
        metadata, ["site"], fraction=0.2, min_group_size=1, seed=0
    )
    assert int((kept >= 50).sum()) == 2


def test_same_seed_same_images() -> None:
    metadata = sites(600, 400)
    first = stratified_indices(
        metadata, ["site"], fraction=0.1, min_group_size=1, seed=3
    )
    again = stratified_indices(
        metadata, ["site"], fraction=0.1, min_group_size=1, seed=3
    )
    other = stratified_indices(
        metadata, ["site"], fraction=0.1, min_group_size=1, seed=4
    )
    assert np.array_equal(first, again)
    assert not np.array_equal(first, other)


def test_marker_columns_from_by() -> None:
    accuracy = pytest.mark.accuracy_floor(at_least=0.9, by="site").mark
    gap = pytest.mark.max_gap("accuracy", at_most=0.1, by=["site", "device"]).mark
    overall = pytest.mark.calibration(max_ece=0.1).mark
    assert marker_columns([accuracy, gap, overall]) == {"site", "device"}


def test_subsample_run_reported(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.5, by="site")
        def test_floor(visionguard):
            assert len(visionguard.evaluation.data) == 30
            table = visionguard.accuracy(by="site")
            assert table.loc["north", "n"] == 15
            assert table.loc["south", "n"] == 15
        """
    )
    result = tiny.runpytest(
        "--visionguard-subsample=0.25",
        "--visionguard-min-group-size=15",
        "--visionguard-report=run.json",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "*- visionguard subsample -*",
            "evalset: 30 of 100 images (25% requested, stratified by site, at least "
            "15 per group where it has them)",
        ]
    )
    report = json.loads((tiny.path / "run.json").read_text())
    assert report["subsample"] == [
        "evalset: 30 of 100 images (25% requested, stratified by site, at least "
        "15 per group where it has them)"
    ]


def test_invalid_fraction_is_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest("--visionguard-subsample=25")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "*--visionguard-subsample: expected a fraction in (0, 1] such as 0.25, got '25'"
        ]
    )
