"""The example project, end to end: real digits, the committed model, every gate."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"


def test_example_gates_run_green() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rx"],
        cwd=EXAMPLE,
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    assert "12 passed, 1 xfailed" in output
    assert "= visionguard gates =" in output
    # The caught weakness: south under sensor noise, kept as a strict xfail.
    assert (
        "XFAIL tests/test_release_gates.py::test_noisy_south_sensors_meet_floor"
        in output
    )
    assert "robustness      xfail   gaussian_noise@3, site=south" in output
    assert "12 gates, 0 failed, 1 failed as expected (xfail)" in output
    assert "accuracy_floor  pass    site=south" in output
    assert "max_gap         pass    site=north vs site=south" in output
