"""Benchmark the metrics against torchmetrics, and time the bootstrap intervals.

Run from the repository root:

    .venv/bin/python -m benchmarks.metrics

On the same 100,000 × 10 float32 softmax outputs it times our ECE and
accuracy against torchmetrics' `multiclass_calibration_error` and
`multiclass_accuracy` (micro average, that is plain accuracy), alternating
the runs of the two, and prints the ratio of the medians. Then it times the
bootstrap intervals (ECE, expected cost, accuracy and a group gap) with 1,000
resamples, next to the generic per-resample bootstrap for accuracy. Every
timing is the median of `REPEATS` runs after one warm-up run.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torchmetrics
from torchmetrics.functional.classification import multiclass_accuracy
from torchmetrics.functional.classification import multiclass_calibration_error

from pytest_visionguard import metrics

NUM_SAMPLES = 100_000
NUM_CLASSES = 10
N_BINS = 15
N_RESAMPLES = 1000
REPEATS = 21


def median_seconds(function: Callable[[], Any], repeats: int = REPEATS) -> float:
    """Return the median wall time of `repeats` runs, after one warm-up run."""
    return statistics.median(run_times_interleaved([function], repeats)[0])


def run_times_interleaved(
    functions: list[Callable[[], Any]], repeats: int = REPEATS
) -> list[list[float]]:
    """Time the functions in turn, `repeats` rounds, so drift hits all alike."""
    for function in functions:
        function()
    times: list[list[float]] = [[] for _ in functions]
    for _ in range(repeats):
        for function, samples in zip(functions, times, strict=True):
            start = time.perf_counter()
            function()
            samples.append(time.perf_counter() - start)
    return times


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def make_predictions() -> tuple[torch.Tensor, torch.Tensor]:
    """Return softmax outputs of a noisy, roughly 70%-accurate model, and labels."""
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, NUM_CLASSES, (NUM_SAMPLES,), generator=generator)
    logits = 2.0 * torch.randn(NUM_SAMPLES, NUM_CLASSES, generator=generator)
    logits[torch.arange(NUM_SAMPLES), labels] += 4.25
    return torch.softmax(logits, dim=1), labels


def compare_with_torchmetrics(probs: torch.Tensor, labels: torch.Tensor) -> None:
    print(
        "| figure | ours, median (min) ms | torchmetrics, median (min) ms "
        "| ratio of medians ours/tm | values |"
    )
    print("|---|---|---|---|---|")
    cases = {
        "ECE, 15 bins, l1": (
            lambda: metrics.expected_calibration_error(probs, labels, n_bins=N_BINS),
            lambda: multiclass_calibration_error(
                probs, labels, num_classes=NUM_CLASSES, n_bins=N_BINS
            ).item(),
        ),
        "accuracy from probabilities": (
            lambda: metrics.accuracy(labels, probs.argmax(dim=1)),
            lambda: multiclass_accuracy(
                probs, labels, num_classes=NUM_CLASSES, average="micro"
            ).item(),
        ),
    }
    for name, (ours, theirs) in cases.items():
        ours_times, theirs_times = run_times_interleaved([ours, theirs])
        ours_time = statistics.median(ours_times)
        theirs_time = statistics.median(theirs_times)
        print(
            f"| {name} | {1000 * ours_time:.1f} ({1000 * min(ours_times):.1f}) | "
            f"{1000 * theirs_time:.1f} ({1000 * min(theirs_times):.1f}) | "
            f"{ours_time / theirs_time:.2f} | {ours():.6f} vs {theirs():.6f} |"
        )


def time_bootstraps(probs: torch.Tensor, labels: torch.Tensor) -> None:
    probs_array = probs.double().numpy()
    labels_array = labels.numpy()
    predicted = probs_array.argmax(axis=1)
    correct = (predicted == labels_array).astype(np.float64)
    cost_matrix = 1.0 - np.eye(NUM_CLASSES)
    cost_matrix[:, 0] = 5.0  # predicting class 0 for anything else costs 5
    cost_matrix[0, 0] = 0.0
    groups = labels_array % 4
    successes = np.bincount(groups, weights=correct).astype(np.int64)
    totals = np.bincount(groups)

    def cost_interval() -> tuple[float, float]:
        costs = metrics.per_sample_cost(
            labels_array,
            predicted,
            cost_matrix,
            confidence=probs_array.max(axis=1),
            review_below=0.3,
            review_cost=0.5,
        )
        return metrics.bootstrap_mean_interval(costs, n_resamples=N_RESAMPLES)

    def generic_accuracy_interval() -> tuple[float, float]:
        return metrics.bootstrap_interval(np.mean, correct, n_resamples=N_RESAMPLES)

    cases = {
        "ECE (bootstrap_ece_interval)": lambda: metrics.bootstrap_ece_interval(
            probs_array, labels_array, n_bins=N_BINS, n_resamples=N_RESAMPLES
        ),
        "expected cost with review (per_sample_cost + bootstrap_mean_interval)": (
            cost_interval
        ),
        "accuracy (bootstrap_mean_interval)": lambda: metrics.bootstrap_mean_interval(
            correct, n_resamples=N_RESAMPLES
        ),
        "accuracy gap over 4 groups (bootstrap_gap_interval)": (
            lambda: metrics.bootstrap_gap_interval(
                successes, totals, n_resamples=N_RESAMPLES
            )
        ),
        "accuracy, generic bootstrap_interval(np.mean, ...)": (
            generic_accuracy_interval
        ),
    }
    print()
    print(
        f"| bootstrap, {NUM_SAMPLES:,} predictions, {N_RESAMPLES:,} resamples "
        "| seconds | 95% interval |"
    )
    print("|---|---|---|")
    for name, function in cases.items():
        repeats = 3 if "generic" in name else REPEATS
        seconds = median_seconds(function, repeats)
        low, high = function()
        print(f"| {name} | {seconds:.4f} | [{low:.4f}, {high:.4f}] |")


def main() -> None:
    print(
        f"machine: {os.cpu_count()} cores, {cpu_model()}; "
        f"torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"torchmetrics {torchmetrics.__version__}, numpy {np.__version__}, "
        f"Python {platform.python_version()}"
    )
    print(f"inputs: {NUM_SAMPLES:,} x {NUM_CLASSES} float32 softmax outputs (CPU)")
    print(f"timings: median of {REPEATS} runs after a warm-up")
    print()
    probs, labels = make_predictions()
    compare_with_torchmetrics(probs, labels)
    time_bootstraps(probs, labels)


if __name__ == "__main__":
    main()
