"""Each gate, passing and failing, on the hand-computable PixelReader project.

The expected figures come from the data described in conftest.py; the Wilson
intervals were computed by hand from the closed form at 95%.
"""

from __future__ import annotations

import pytest


def test_accuracy_floor_passes_overall(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_floor(visionguard):
            result = visionguard.assert_accuracy(at_least=0.80)
            assert result.passed
            assert abs(result.checks[0].value - 0.84) < 1e-12
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=1)


def test_accuracy_floor_fails_weak_site(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_floor(visionguard):
            visionguard.assert_accuracy(at_least=0.80, by="site")
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*GateFailure: accuracy_floor failed: accuracy >= 0.800; 1 of 2 groups fail (by site)",
            "*site=south: accuracy 0.750, 95% CI [[]0.598, 0.858], n=40, threshold >= 0.800: fails",
        ]
    )
    result.stdout.no_fnmatch_line("*site=north: accuracy*fails*")


def test_failure_points_at_test_line(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_floor(visionguard):
            visionguard.assert_accuracy(at_least=0.95)
        """
    )
    result = tiny.runpytest()
    result.stdout.fnmatch_lines(
        [
            "test_failure_points_at_test_line.py:2: visionguard.assert_accuracy(at_least=0.95)"
        ]
    )
    result.stdout.no_fnmatch_line("*guard.py*")


def test_accuracy_table_columns(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_table(visionguard):
            table = visionguard.accuracy(by="site")
            assert list(table.columns) == ["n", "accuracy", "ci_low", "ci_high"]
            assert table.index.name == "site"
            assert table.loc["north", "n"] == 60
            assert table.loc["south", "accuracy"] == 0.75
            assert abs(table.loc["south", "ci_low"] - 0.5980604) < 1e-6
            assert abs(table.loc["south", "ci_high"] - 0.8581288) < 1e-6
        """
    )
    tiny.runpytest().assert_outcomes(passed=1)


def test_accuracy_floor_marker(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.80)
        def test_overall(visionguard):
            pass

        @pytest.mark.accuracy_floor(at_least=0.80, by="site")
        def test_by_site(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*site=south: accuracy 0.750*threshold >= 0.800: fails"]
    )


def test_marker_runs_after_failing_body(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.99)
        def test_body_fails(visionguard):
            assert False, "the body failed first"
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*the body failed first*"])
    result.stdout.no_fnmatch_line("*accuracy_floor failed*")


def test_metric_limit_false_negative_rate(tiny: pytest.Pytester) -> None:
    # Class "cat" (0) has 20 positives in north with 2 missed, and 14 in
    # south with 4 missed: false negative rates 0.100 and 4/14 = 0.286.
    tiny.makepyfile(
        """
        import pytest

        def test_table(visionguard):
            table = visionguard.metric("false_negative_rate", by="site", positive="cat")
            assert table.loc["north", "n"] == 20
            assert table.loc["north", "false_negative_rate"] == 0.1
            assert table.loc["south", "n"] == 14
            assert abs(table.loc["south", "false_negative_rate"] - 4 / 14) < 1e-12

        @pytest.mark.metric_limit("false_negative_rate", positive="cat", at_most=0.2, by="site")
        def test_ceiling(visionguard):
            pass

        @pytest.mark.metric_limit("false_negative_rate", positive=0, at_most=0.2)
        def test_overall(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*site=south: false_negative_rate[[]cat] 0.286, 95% CI [[]0.117, 0.546], n=14, threshold <= 0.200: fails"
        ]
    )


def test_calibration_gate(tiny: pytest.Pytester) -> None:
    # Every confidence is 0.9, so each group's ECE is |0.9 - accuracy|.
    tiny.makepyfile(
        """
        import pytest

        def test_table(visionguard):
            table = visionguard.calibration(by="site")
            assert list(table.columns)[:4] == ["n", "ece", "ci_low", "ci_high"]
            assert {"mce", "brier", "nll"} <= set(table.columns)
            assert abs(table.loc["north", "ece"] - 0.0) < 1e-6
            assert abs(table.loc["south", "ece"] - 0.15) < 1e-6

        @pytest.mark.calibration(max_ece=0.07)
        def test_overall(visionguard):
            pass

        @pytest.mark.calibration(max_ece=0.10, by="site")
        def test_by_site(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        ["*site=south: ece 0.150, 95% CI [[]*], n=40, threshold <= 0.100: fails"]
    )


def test_cost_budget_with_review(tiny: pytest.Pytester) -> None:
    # With unit costs off the diagonal, the expected cost is the error rate.
    # Every confidence (0.9) is below 0.95, so review takes every image.
    tiny.makepyfile(
        """
        import pandas as pd
        import pytest

        UNIT = [[0, 1, 1], [1, 0, 1], [1, 1, 0]]

        def test_table(visionguard):
            table = visionguard.cost(UNIT, by="site")
            assert abs(table.loc["north", "expected_cost"] - 0.1) < 1e-12
            assert abs(table.loc["south", "expected_cost"] - 0.25) < 1e-12
            reviewed = visionguard.cost(UNIT, review_below=0.95, review_cost=0.2)
            assert abs(reviewed["expected_cost"].iloc[0] - 0.2) < 1e-12
            assert reviewed["review_rate"].iloc[0] == 1.0

        def test_named_matrix(visionguard):
            # The mistakes are 6 cats read as dogs, 5 dogs as foxes and 5 foxes
            # as cats. A cat read as a dog costs 10, every other mistake 1.
            names = ["fox", "dog", "cat"]
            rows = [[0, 1, 1], [1, 0, 1], [1, 10, 0]]
            frame = pd.DataFrame(rows, index=names, columns=names)
            assert abs(visionguard.cost(frame)["expected_cost"].iloc[0] - 0.70) < 1e-12

        @pytest.mark.cost_budget(UNIT, at_most=0.2)
        def test_budget(visionguard):
            pass

        @pytest.mark.cost_budget(UNIT, at_most=0.5, review_below=0.95, review_cost=0.2, max_review_rate=0.5)
        def test_review_budget(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*all: review_rate 1.000, 95% CI [[]0.963, 1.000], n=100, threshold <= 0.500: fails"
        ]
    )


def test_robustness_matches_direct_corruption(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import numpy as np
        import torch
        import pytest_visionguard as vg

        def test_table(visionguard, visionguard_data, visionguard_model):
            table = visionguard.robustness("gaussian_noise", severities=(2, 5))
            images = visionguard_data._images
            labels = visionguard_data.labels
            for severity in (2, 5):
                noisy = vg.corrupt(images, "gaussian_noise", severity, seed=0)
                probs = torch.softmax(visionguard_model(noisy), dim=1)
                expected = float((probs.argmax(1).numpy() == labels).mean())
                row = table.loc[("gaussian_noise", severity, "all")]
                assert abs(row["accuracy"] - expected) < 1e-12
                assert abs(row["drop"] - (0.84 - expected)) < 1e-12
                assert row["clean_accuracy"] == 0.84
        """
    )
    tiny.runpytest().assert_outcomes(passed=1)


def test_robustness_gate_fails_on_noise(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.robustness("gaussian_noise", severity=5, max_drop=0.01)
        def test_noise(visionguard):
            pass

        @pytest.mark.robustness(["brightness", "contrast"], severity=1, min_accuracy=0.0)
        def test_mild(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*robustness failed: accuracy drop <= 0.010 under gaussian_noise*"]
    )
    result.stdout.fnmatch_lines(["*gaussian_noise@5: drop *threshold <= 0.010: fails"])


def test_intersectional_groups_list_empty(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import numpy as np
        import pandas as pd
        import pytest
        import pytest_visionguard as vg
        from conftest import make_sites

        @pytest.fixture(scope="session")
        def visionguard_data():
            images, labels, metadata = make_sites()
            metadata["shift"] = ["day"] * 60 + ["night"] * 30 + [None] * 10
            return vg.EvalSet(images, labels, metadata=metadata)

        def test_table(visionguard):
            table = visionguard.accuracy(by=["site", "shift"])
            assert table.index.names == ["site", "shift"]
            assert table.loc[("north", "night"), "n"] == 0
            assert np.isnan(table.loc[("north", "night"), "accuracy"])
            assert table.loc[("south", "<missing>"), "n"] == 10
            assert table.loc[("south", "<missing>"), "accuracy"] == 0.0
            assert len(table) == 6

        def test_empty_group_fails(visionguard):
            visionguard.assert_accuracy(at_least=0.0, by=["site", "shift"])
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*site=north, shift=night: accuracy nan*n=0*too little data*"]
    )


def test_confidence_makes_close_call_inconclusive(tiny: pytest.Pytester) -> None:
    # South's accuracy 0.750 has the 95% interval [0.598, 0.858]: a floor of
    # 0.80 fails on the point estimate but is inconclusive on the interval.
    tiny.makepyfile(
        """
        import pytest

        def test_lenient(visionguard):
            result = visionguard.assert_accuracy(at_least=0.80, by="site", confidence=0.95)
            south = [c for c in result.checks if c.group == "site=south"][0]
            assert south.status == "inconclusive"
            assert south.more_images > 0

        def test_strict(visionguard):
            visionguard.assert_accuracy(at_least=0.80, by="site", confidence=0.95, strict=True)
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*site=south*inconclusive, counted as a failure (strict); about * more images*"
        ]
    )


def test_confidence_option_sets_default(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_lenient(visionguard):
            visionguard.assert_accuracy(at_least=0.80, by="site")
        """
    )
    tiny.runpytest().assert_outcomes(failed=1)
    tiny.runpytest("--visionguard-confidence=0.95").assert_outcomes(passed=1)


def test_gap_gate_between_sites(tiny: pytest.Pytester) -> None:
    # Accuracy 0.900 in north and 0.750 in south: a gap of 0.150.
    tiny.makepyfile(
        """
        import pytest

        def test_gap_value(visionguard):
            result = visionguard.assert_gap("accuracy", at_most=0.2, by="site")
            gap = result.checks[0]
            assert gap.group == "site=north vs site=south"
            assert abs(gap.value - 0.15) < 1e-12
            assert gap.ci_low < 0.15 < gap.ci_high

        @pytest.mark.max_gap("accuracy", at_most=0.10, by="site")
        def test_gap_marker(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*max_gap failed: gap in accuracy between groups <= 0.100*",
            "*site=north vs site=south: accuracy gap 0.150, 95% CI*threshold <= 0.100: fails",
        ]
    )


def test_corruption_error_uses_reference_fixture(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest
        from conftest import PixelReader

        @pytest.fixture(scope="session")
        def visionguard_reference_model():
            return PixelReader()

        def test_against_itself(visionguard):
            table = visionguard.corruption_error(["brightness"], severities=(5,))
            assert table.loc[("brightness", "all"), "ce"] == 1.0
            assert table.loc[("mean", "all"), "ce"] == 1.0
        """
    )
    tiny.runpytest().assert_outcomes(passed=1)


def test_corruption_error_without_reference_fixture(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_missing(visionguard):
            visionguard.corruption_error("brightness")
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*VisionGuardError: no visionguard_reference_model fixture is defined; add one to conftest.py*"
        ]
    )
