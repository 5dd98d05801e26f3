"""Bad input reaches the user as a short VisionGuardError naming the value and the fix."""

from __future__ import annotations

import pytest


def _run_with_data(
    tiny: pytest.Pytester, data_code: str, test_code: str
) -> pytest.RunResult:
    tiny.makepyfile(
        "import numpy as np\n"
        "import pandas as pd\n"
        "import pytest\n"
        "import torch\n"
        "import pytest_visionguard as vg\n"
        "from conftest import PixelReader, make_images, make_sites\n\n"
        "@pytest.fixture(scope='session')\n"
        "def visionguard_data():\n"
        f"    {data_code}\n\n"
        "def test_gate(visionguard):\n"
        f"    {test_code}\n"
    )
    return tiny.runpytest()


def _assert_usage_error(result: pytest.RunResult, message: str) -> None:
    outcomes = result.parseoutcomes()
    assert (
        outcomes.get("failed", 0) + outcomes.get("errors", outcomes.get("error", 0))
        == 1
    )
    # Square brackets are literal here, so escape them for fnmatch.
    result.stdout.fnmatch_lines(["*VisionGuardError: " + message.replace("[", "[[]")])
    # The user sees where their code raised, not the plugin's internals.
    result.stdout.no_fnmatch_line("*pytest_visionguard/data.py*")
    result.stdout.no_fnmatch_line("*pytest_visionguard/guard.py*")


@pytest.mark.parametrize(
    ("data_code", "message"),
    [
        (
            "return vg.EvalSet(torch.zeros(4, 8, 8), [0, 1, 2, 0])",
            "images must be 4-D N×C×H×W, got shape (4, 8, 8); add a channel axis*",
        ),
        (
            "return vg.EvalSet(torch.zeros(4, 8, 8, 3), [0, 1, 2, 0])",
            "images must have 1 or 3 channels on axis 1, got shape (4, 8, 8, 3); "
            "it looks like N×H×W×C, so use images.permute(0, 3, 1, 2)",
        ),
        (
            "return vg.EvalSet(torch.zeros(4, 1, 8, 8, dtype=torch.int32), [0, 1, 2, 0])",
            "images have dtype torch.int32; use uint8 (0–255) or a floating dtype with values in [0, 1]",
        ),
        (
            "return vg.EvalSet(torch.full((4, 1, 8, 8), 200.0), [0, 1, 2, 0])",
            "float images must lie in [0, 1], found values in [200.000, 200.000]; "
            "for 0–255 pixels pass a uint8 tensor or divide by 255",
        ),
        (
            "return vg.EvalSet(np.zeros((4, 8, 8, 3), dtype=np.float32), [0, 1, 2, 0])",
            "numpy images must be uint8 N×H×W×C, got dtype float32*",
        ),
        (
            "return vg.EvalSet(torch.zeros(4, 1, 8, 8), [0, 1, 2])",
            "got 3 labels for 4 images; pass one label per image",
        ),
        (
            "return vg.EvalSet(torch.zeros(4, 1, 8, 8), [0.0, 1.0, 2.0, 0.0])",
            "labels must be integer class indices, got dtype float64; map class names to indices first",
        ),
        (
            "return vg.EvalSet(torch.zeros(3, 1, 8, 8), [0, 1, 7], class_names=['a', 'b', 'c'])",
            "label 7 at index 2 is outside [0, 3); there are 3 classes",
        ),
        (
            "return vg.EvalSet(torch.zeros(3, 1, 8, 8), [0, 1, 2], metadata=pd.DataFrame({'site': ['a', 'b']}))",
            "metadata has 2 rows but there are 3 images; pass one row per image, in image order",
        ),
    ],
    ids=[
        "rank",
        "channels",
        "dtype",
        "range",
        "numpy-dtype",
        "label-count",
        "label-dtype",
        "label-range",
        "metadata-length",
    ],
)
def test_bad_evalset(tiny: pytest.Pytester, data_code: str, message: str) -> None:
    result = _run_with_data(tiny, data_code, "visionguard.accuracy()")
    _assert_usage_error(result, message)


def test_label_beyond_model_classes(tiny: pytest.Pytester) -> None:
    result = _run_with_data(
        tiny,
        "return vg.EvalSet(make_images([0, 1], [0.9, 0.9]), [0, 5])",
        "visionguard.accuracy()",
    )
    _assert_usage_error(
        result, "label 5 at index 1 is outside [0, 3); there are 3 classes"
    )


def test_unknown_by_column_lists_columns(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_gate(visionguard):
            visionguard.assert_accuracy(at_least=0.5, by="hospital")
        """
    )
    _assert_usage_error(
        tiny.runpytest(),
        "by='hospital' is not a metadata column; the columns are: site",
    )


def test_unknown_class_name(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_gate(visionguard):
            visionguard.assert_metric("recall", positive="wolf", at_least=0.5)
        """
    )
    _assert_usage_error(
        tiny.runpytest(),
        "positive='wolf' is not a class name; the classes are ['cat', 'dog', 'fox']",
    )


@pytest.mark.parametrize(
    ("matrix", "message"),
    [
        (
            "[[0, 1], [1, 0]]",
            "cost_matrix has shape (2, 2), expected (3, 3) for 3 classes: one row per true class*",
        ),
        (
            "[[0, 1, 1], [1, 0, -2], [1, 1, 0]]",
            "cost_matrix[1, 2] is -2.0, but costs must be finite and non-negative*",
        ),
    ],
    ids=["shape", "negative"],
)
def test_bad_cost_matrix(tiny: pytest.Pytester, matrix: str, message: str) -> None:
    tiny.makepyfile(
        f"""
        def test_gate(visionguard):
            visionguard.assert_cost({matrix}, at_most=0.5)
        """
    )
    _assert_usage_error(tiny.runpytest(), message)


@pytest.mark.parametrize("bad_value", ["float('nan')", "float('inf')"])
def test_non_finite_model_output(tiny: pytest.Pytester, bad_value: str) -> None:
    tiny.makepyfile(
        f"""
        import pytest
        import torch
        from conftest import PixelReader

        class Broken(PixelReader):
            def forward(self, x):
                out = super().forward(x)
                out[3, 1] = {bad_value}
                return out

        @pytest.fixture(scope="session")
        def visionguard_model():
            return Broken()

        def test_gate(visionguard):
            visionguard.assert_accuracy(at_least=0.5)
        """
    )
    _assert_usage_error(
        tiny.runpytest(),
        "the model returned NaN or infinite logits for image 3 *instead of counting these as mistakes",
    )


def test_probabilities_not_summing_to_one(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest
        import torch
        import pytest_visionguard as vg
        from conftest import PixelReader

        class Halves(PixelReader):
            def forward(self, x):
                return torch.exp(super().forward(x)) / 2

        @pytest.fixture(scope="session")
        def visionguard_model():
            return vg.Classifier(Halves(), outputs="probabilities")

        def test_gate(visionguard):
            visionguard.assert_accuracy(at_least=0.5)
        """
    )
    _assert_usage_error(
        tiny.runpytest(),
        "outputs='probabilities' but the row for image 0 sums to 0.5000 *; return a softmax, or use outputs='logits'",
    )


def test_probabilities_output_accepted(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest
        import torch
        import pytest_visionguard as vg
        from conftest import PixelReader

        class Softmaxed(PixelReader):
            def forward(self, x):
                return torch.exp(super().forward(x))

        @pytest.fixture(scope="session")
        def visionguard_model():
            return vg.Classifier(Softmaxed(), outputs="probabilities")

        def test_gate(visionguard):
            assert visionguard.accuracy()["accuracy"].iloc[0] == 0.84
        """
    )
    tiny.runpytest().assert_outcomes(passed=1)


def test_unknown_corruption_suggests_name(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_gate(visionguard):
            visionguard.assert_robustness("gausian_noise", max_drop=0.1)
        """
    )
    _assert_usage_error(tiny.runpytest(), "*'gausian_noise'*'gaussian_noise'*")


@pytest.mark.parametrize("severity", ["0", "6", "True", "2.5"])
def test_severity_out_of_range(tiny: pytest.Pytester, severity: str) -> None:
    tiny.makepyfile(
        f"""
        def test_gate(visionguard):
            visionguard.assert_robustness("gaussian_noise", severity={severity}, max_drop=0.1)
        """
    )
    _assert_usage_error(
        tiny.runpytest(), f"severity must be an integer from 1 to 5, got {severity}"
    )


@pytest.mark.parametrize("fixture", ["visionguard_model", "visionguard_data"])
def test_missing_user_fixture_names_it(pytester: pytest.Pytester, fixture: str) -> None:
    other = (
        "visionguard_data" if fixture == "visionguard_model" else "visionguard_model"
    )
    pytester.makeconftest(
        f"""
        import pytest

        @pytest.fixture(scope="session")
        def {other}():
            return object()
        """
    )
    pytester.makepyfile(
        """
        def test_gate(visionguard):
            visionguard.assert_accuracy(at_least=0.5)
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [f"*VisionGuardError: no {fixture} fixture is defined; add one to conftest.py*"]
    )


def test_data_fixture_of_wrong_type(tiny: pytest.Pytester) -> None:
    result = _run_with_data(tiny, "return [1, 2, 3]", "visionguard.accuracy()")
    _assert_usage_error(
        result,
        "the visionguard_data fixture returned a list; return a pytest_visionguard.EvalSet*",
    )


def test_marker_with_wrong_arguments(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        import pytest

        @pytest.mark.accuracy_floor(0.9)
        def test_gate(visionguard):
            pass
        """
    )
    _assert_usage_error(
        tiny.runpytest(), "invalid arguments to @pytest.mark.accuracy_floor: *"
    )


def test_threshold_missing(tiny: pytest.Pytester) -> None:
    tiny.makepyfile(
        """
        def test_gate(visionguard):
            visionguard.assert_metric("recall", positive=1)
        """
    )
    _assert_usage_error(
        tiny.runpytest(),
        "metric_limit needs a threshold: pass at_least=, at_most= or both",
    )
