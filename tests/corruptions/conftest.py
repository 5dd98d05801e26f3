"""Fixtures for the corruption tests: the reference outputs and statistics."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from corruption_references import DATA


@pytest.fixture(scope="session")
def reference() -> dict[str, np.ndarray]:
    """The `imagecorruptions` 1.1.2 outputs, keyed as in `data/README.md`."""
    with np.load(DATA / "imagecorruptions_reference.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="session")
def reference_stats() -> dict[tuple[str, int, int, str], dict[str, Any]]:
    """The reference's damage statistics by (corruption, severity, size, image)."""
    records = json.loads((DATA / "imagecorruptions_stats.json").read_text())
    return {(r["corruption"], r["severity"], r["size"], r["image"]): r for r in records}
