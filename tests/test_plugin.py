"""The plugin's pytest integration: loading, markers, options, the summary, caching."""

from __future__ import annotations

import subprocess
import sys

import pytest


def test_loading_plugin_imports_no_torch() -> None:
    code = (
        "import sys, pytest\n"
        "pytest.main(['--help', '-p', 'no:cacheprovider'])\n"
        "heavy = [m for m in ('torch', 'torchvision', 'pandas') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "--visionguard-device=DEVICE" in output
    assert "HEAVY []" in output


def test_help_lists_options_with_ini_keys(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(
        [
            "*--visionguard-device=DEVICE*",
            "*--visionguard-batch-size=N*",
            "*--visionguard-seed=N*",
            "*--visionguard-confidence=LEVEL*",
            "*visionguard_device (string)*",
            "*visionguard_batch_size (string)*",
            "*visionguard_seed (string)*",
        ]
    )


def test_markers_registered_with_signatures(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    for line in (
        "@pytest.mark.accuracy_floor(at_least, by=None, ...)*",
        "@pytest.mark.metric_limit(name, *",
        "@pytest.mark.calibration(max_ece, *",
        "@pytest.mark.robustness(corruptions, *",
        "@pytest.mark.cost_budget(cost_matrix, at_most, *",
        "@pytest.mark.visionguard:*",
    ):
        result.stdout.fnmatch_lines([line])


def test_all_markers_under_strict_markers(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.5)
        @pytest.mark.metric_limit("recall", positive="dog", at_least=0.5)
        @pytest.mark.calibration(max_ece=0.5)
        @pytest.mark.robustness("brightness", severity=1, min_accuracy=0.0)
        @pytest.mark.cost_budget([[0, 1, 1], [1, 0, 1], [1, 1, 0]], at_most=0.5)
        def test_every_gate(visionguard):
            pass
        """
    )
    result = tiny.runpytest("--strict-markers")
    result.assert_outcomes(passed=1)


def test_tests_using_fixture_get_visionguard_marker(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_uses(visionguard):
            pass

        def test_plain():
            pass
        """
    )
    result = tiny.runpytest("-m", "visionguard", "--strict-markers")
    result.assert_outcomes(passed=1, deselected=1)
    result = tiny.runpytest("-m", "not visionguard")
    result.assert_outcomes(passed=1, deselected=1)


def test_marker_without_fixture_warns(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.99)
        def test_forgot_fixture():
            pass
        """
    )
    result = tiny.runpytest("-W", "default::pytest_visionguard.VisionGuardWarning")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines(
        ["*accuracy_floor has no effect on test_forgot_fixture*add visionguard*"]
    )


def test_deselect_robustness_marker(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.robustness("gaussian_noise", severity=3, max_drop=1.0)
        def test_slow(visionguard):
            pass

        @pytest.mark.accuracy_floor(at_least=0.5)
        def test_fast(visionguard):
            pass
        """
    )
    tiny.runpytest("-m", "not robustness").assert_outcomes(passed=1, deselected=1)


def test_summary_table_after_run(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.80, by="site")
        def test_floor(visionguard):
            pass

        @pytest.mark.calibration(max_ece=0.10)
        def test_calibrated(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*= visionguard gates =*",
            "gate * result * group * figure * value * 95% CI * n * threshold * test",
            "accuracy_floor * FAIL * site=south * accuracy * 0.750 * [[]0.598, 0.858] * 40 * >= 0.800 *::test_floor",
            "calibration * pass * all * ece * 0.060 *100 * <= 0.100 *::test_calibrated",
            "2 gates, 1 failed; -v lists every group",
        ]
    )
    verbose = tiny.runpytest("-v")
    verbose.stdout.fnmatch_lines(
        ["accuracy_floor * pass * site=north * accuracy * 0.900 *::test_floor"]
    )


def test_failed_gate_has_visionguard_section(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_floor(visionguard):
            visionguard.assert_accuracy(at_least=0.80, by="site")
        """
    )
    result = tiny.runpytest()
    result.stdout.fnmatch_lines(
        [
            "*- visionguard -*",
            "accuracy_floor: accuracy >= 0.800",
            "result * group * figure * value * 95% CI * n * threshold",
            "pass * site=north * accuracy * 0.900 * [[]0.799, 0.953] * 60 * >= 0.800",
            "FAIL * site=south * accuracy * 0.750 * [[]0.598, 0.858] * 40 * >= 0.800",
        ]
    )


def test_figures_in_junit_user_properties(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.80, by="site")
        def test_floor(visionguard):
            pass
        """
    )
    tiny.runpytest("--junitxml=report.xml", "-o", "junit_family=xunit1")
    xml = (tiny.path / "report.xml").read_text()
    assert '<property name="visionguard"' in xml
    assert "site=south" in xml
    assert "&quot;value&quot;:0.75" in xml


def test_one_inference_pass_per_input(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(at_least=0.5, by="site")
        def test_a(visionguard):
            visionguard.calibration()
            visionguard.cost([[0, 1, 1], [1, 0, 1], [1, 1, 0]])

        @pytest.mark.calibration(max_ece=0.5)
        def test_b(visionguard):
            visionguard.metric("recall", positive=1)

        def test_clean_seen_once(visionguard_model):
            assert visionguard_model.images_seen == 100

        @pytest.mark.robustness("gaussian_noise", severity=3, max_drop=1.0)
        @pytest.mark.robustness(["gaussian_noise", "brightness"], severity=3, max_drop=1.0)
        def test_c(visionguard):
            visionguard.robustness("gaussian_noise", severities=3)

        def test_each_corruption_seen_once(visionguard_model):
            assert visionguard_model.images_seen == 300
        """
    )
    tiny.runpytest("-p", "no:randomly").assert_outcomes(passed=5)


def test_batch_size_option(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_batches(visionguard):
            assert visionguard.evaluation.batch_size == 7
            assert visionguard.accuracy()["accuracy"].iloc[0] == 0.84
        """
    )
    tiny.runpytest("--visionguard-batch-size=7").assert_outcomes(passed=1)
    tiny.makeini("[pytest]\nvisionguard_batch_size = 7\n")
    tiny.runpytest().assert_outcomes(passed=1)


def test_command_line_wins_over_ini(tiny: pytest.Pytester) -> None:
    tiny.makeini("[pytest]\nvisionguard_seed = 5\nvisionguard_device = cpu\n")
    tiny.makepyfile(
        """
        def test_seed(visionguard):
            assert visionguard.evaluation.seed == 11
            assert visionguard.evaluation.device.type == "cpu"
        """
    )
    tiny.runpytest("--visionguard-seed=11").assert_outcomes(passed=1)


def test_auto_device_is_cpu_without_cuda(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import torch

        def test_device(visionguard):
            expected = "cuda" if torch.cuda.is_available() else "cpu"
            assert visionguard.evaluation.device.type == expected
        """
    )
    tiny.runpytest().assert_outcomes(passed=1)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (
            "--visionguard-device=tpu",
            "*invalid device 'tpu'; use auto, cpu, cuda or cuda:N*",
        ),
        (
            "--visionguard-batch-size=0",
            "*--visionguard-batch-size: expected an integer >= 1, got '0'*",
        ),
        (
            "--visionguard-seed=abc",
            "*--visionguard-seed: expected an integer >= 0, got 'abc'*",
        ),
        (
            "--visionguard-confidence=95",
            "*--visionguard-confidence: expected a level in (0, 1)*",
        ),
    ],
)
def test_invalid_option_is_usage_error(
    pytester: pytest.Pytester, option: str, message: str
) -> None:
    pytester.makepyfile("def test_nothing():\n    pass\n")
    result = pytester.runpytest(option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_cuda_requested_without_cuda(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest
        import torch

        def test_cuda(visionguard):
            visionguard.accuracy()
        """
    )
    result = tiny.runpytest("--visionguard-device=cuda")
    import torch

    if torch.cuda.is_available():
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines(
            [
                "*VisionGuardError: --visionguard-device=cuda but torch sees no CUDA device; use auto or cpu"
            ]
        )


def test_parametrised_model_fixture(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest
        from conftest import PixelReader

        class Scrambled(PixelReader):
            def forward(self, x):
                return super().forward(x).roll(1, dims=1)

        @pytest.fixture(scope="session", params=["reader", "scrambled"])
        def visionguard_model(request):
            return PixelReader() if request.param == "reader" else Scrambled()

        @pytest.mark.accuracy_floor(at_least=0.5)
        def test_floor(visionguard):
            pass
        """
    )
    result = tiny.runpytest("-v")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        ["*test_floor?reader? PASSED*", "*test_floor?scrambled? FAILED*"]
    )


def test_summary_marks_expected_failures(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest
        from pytest_visionguard import GateFailure

        @pytest.mark.xfail(strict=True, raises=GateFailure, reason="south is weak")
        @pytest.mark.accuracy_floor(at_least=0.80, by="site")
        def test_floor(visionguard):
            pass
        """
    )
    result = tiny.runpytest()
    result.assert_outcomes(xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "accuracy_floor * xfail * site=south * accuracy * 0.750*",
            "1 gate, 0 failed, 1 failed as expected (xfail); -v lists every group",
        ]
    )
