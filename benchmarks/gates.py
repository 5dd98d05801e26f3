"""Time the example's gate suite against a bare inference loop over the same inputs.

The bare loop is what a hand-written notebook does: for the clean images and
each corruption the gates use, corrupt a batch, run the model, keep the
argmax. The suite is every gate of the example project, run in-process
through `VisionGuard` on a fresh evaluation each repeat, so it pays for
inference, checks, intervals and tables. The ratio suite / bare is the
plugin's overhead; the target is at most 1.10.

Run from the repository root, after `pip install -e ".[dev,example]"`:

    python -m benchmarks.gates --repeats 5
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "example_project"))

from digit_reader.data import evaluation_set  # noqa: E402
from digit_reader.model import load_model  # noqa: E402
from digit_reader.model import normalize  # noqa: E402

import pytest_visionguard as vg  # noqa: E402
from pytest_visionguard.corruptions import corrupt  # noqa: E402
from pytest_visionguard.evaluation import Evaluation  # noqa: E402
from pytest_visionguard.guard import VisionGuard  # noqa: E402

# The inputs the example's gates read: clean, plus these at these severities.
CORRUPTED_INPUTS = (("gaussian_noise", 3), ("low_light", 2))
MISREAD_COSTS = 10.0 * (1.0 - np.eye(10))
BATCH_SIZE = 256


def bare_loop(model: torch.nn.Module, images: torch.Tensor) -> None:
    """Run inference on every input the gates read, keeping only the argmax."""
    inputs: list[tuple[str | None, int | None]] = [(None, None), *CORRUPTED_INPUTS]
    with torch.inference_mode():
        for name, severity in inputs:
            for start in range(0, len(images), BATCH_SIZE):
                batch = images[start : start + BATCH_SIZE]
                if name is not None:
                    assert severity is not None
                    indices = torch.arange(start, start + len(batch))
                    batch = corrupt(batch, name, severity, seed=0, indices=indices)
                logits = model(normalize(batch.float() / 255.0))
                logits.argmax(dim=1).numpy()


def gate_suite(model: torch.nn.Module, data: vg.EvalSet) -> None:
    """Run every gate of the example project on a fresh evaluation."""
    classifier = vg.Classifier(model, preprocess=normalize, batch_size=BATCH_SIZE)
    evaluation = Evaluation(classifier, data, device=torch.device("cpu"))
    guard = VisionGuard(evaluation)
    guard.assert_accuracy(at_least=0.95)
    guard.assert_accuracy(at_least=0.92, by="site")
    guard.accuracy(by="site")
    guard.assert_metric("false_negative_rate", positive=0, at_most=0.05, by="site")
    guard.assert_calibration(max_ece=0.03)
    guard.assert_accuracy(at_least=0.93, by="stroke")
    guard.assert_accuracy(at_least=0.93, by="ink")
    guard.assert_robustness("gaussian_noise", severity=3, max_drop=0.06)
    try:
        guard.assert_robustness(
            "gaussian_noise", severity=3, min_accuracy=0.9, by="site"
        )
    except vg.GateFailure:
        pass
    guard.assert_robustness("low_light", severity=2, max_drop=0.06)
    guard.assert_cost(
        MISREAD_COSTS,
        at_most=0.25,
        review_below=0.8,
        review_cost=1.0,
        max_review_rate=0.12,
    )


def best_of(repeats: int, run: Callable[[], None]) -> list[float]:
    """Return the wall time of each of `repeats` runs, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=5, metavar="N", help="runs of each (default: 5)"
    )
    arguments = parser.parse_args()

    torch.set_num_threads(os.cpu_count() or 1)
    model = load_model().eval()
    images, labels, metadata = evaluation_set()
    data = vg.EvalSet(
        images, labels, metadata=metadata, class_names=[str(d) for d in range(10)]
    )
    bare_loop(model, images)  # warm-up: first calls allocate and load kernels

    # Interleave the two so that drift in machine load hits both alike.
    bare_times: list[float] = []
    suite_times: list[float] = []
    for _ in range(arguments.repeats):
        bare_times += best_of(1, lambda: bare_loop(model, images))
        suite_times += best_of(1, lambda: gate_suite(model, data))

    bare = statistics.median(bare_times)
    suite = statistics.median(suite_times)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"
    )
    print(
        f"images: {len(images)}, inputs: clean + {len(CORRUPTED_INPUTS)} corruptions, repeats: {arguments.repeats}"
    )
    print(
        f"bare inference loop: median {bare:.3f} s (min {min(bare_times):.3f}, max {max(bare_times):.3f})"
    )
    print(
        f"gate suite:          median {suite:.3f} s (min {min(suite_times):.3f}, max {max(suite_times):.3f})"
    )
    print(f"ratio suite / bare:  {suite / bare:.3f} (target <= 1.10)")


if __name__ == "__main__":
    main()
