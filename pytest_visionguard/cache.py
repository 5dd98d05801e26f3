"""An on-disk cache of predictions, shared by pytest-xdist workers and re-runs.

By default only the workers of one pytest-xdist run share a cache, in a
directory of that run; re-runs share one only when `--visionguard-cache-dir`
names it.

Each entry is an .npz file with the probabilities and labels of one input
(the clean evaluation set, or one corruption at one severity). Its name is a
hash of everything that determines those arrays. That is the model's
identity (the weights fingerprint, the model's class, structure and source,
the preprocessing and the output kind), the data fingerprint, the
corruption and severity, the seed, the device, the batch size and the
package versions.

A lock file per entry lets the first process that needs an input run the
model while the others wait and then read the stored arrays, so the model
sees each input once per run, however many workers share the cache.

NOTE: the model's identity cannot see code outside the model's own class
(a helper its `forward` calls) or attributes outside its state dict, which
is why re-runs share a cache only when asked; after changing those, delete
the directory given to `--visionguard-cache-dir`.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import io
import json
import logging
import os
import re
import sys
import time
import weakref
import zipfile
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from pytest_visionguard.baselines import package_versions
from pytest_visionguard.baselines import write_atomically

if TYPE_CHECKING:
    from pytest_visionguard.data import EvalSet
    from pytest_visionguard.evaluation import Evaluation
    from pytest_visionguard.model import Classifier

logger = logging.getLogger(__name__)

CACHE_FORMAT = 1
DEFAULT_CACHE_NAME = ".visionguard-cache"

# repr() of functions and plain objects carries a memory address, which
# differs from process to process.
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")

# Both hashes read every weight or image, so each is computed once per object
# and kept while the object lives; neither may change during the session.
_DATA_FINGERPRINTS: weakref.WeakKeyDictionary[EvalSet, str] = (
    weakref.WeakKeyDictionary()
)
_MODEL_IDENTITIES: weakref.WeakKeyDictionary[Classifier, str] = (
    weakref.WeakKeyDictionary()
)


class PredictionCache:
    """Prediction arrays on disk, one .npz file per input, guarded by file locks.

    A file that cannot be read (truncated, from another format) is logged
    and ignored, and the model runs again; the cache never changes a figure.

    Args:
        directory: where the files go; created on first store.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def __repr__(self) -> str:
        return f"PredictionCache({str(self.directory)!r})"

    def path_for(self, parts: Mapping[str, Any]) -> Path:
        """Return the .npz path of the input that `parts` describe."""
        return self.directory / f"{cache_key(parts)}.npz"

    @contextlib.contextmanager
    def locked(self, parts: Mapping[str, Any]) -> Iterator[None]:
        """Hold the entry's lock, so that one process at a time computes it."""
        lock_path = self.path_for(parts).with_suffix(".lock")
        with _exclusive_lock(lock_path):
            yield

    def load(self, parts: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
        """Return (probabilities, labels) for `parts`, or None when not stored."""
        path = self.path_for(parts)
        if not path.exists():
            return None
        try:
            with np.load(path, allow_pickle=False) as stored:
                described = str(stored["parts"])
                probabilities = np.asarray(stored["probabilities"])
                labels = np.asarray(stored["labels"])
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            logger.warning(
                "ignoring unreadable prediction cache file %s: %s", path, error
            )
            return None
        if described != _describe_parts(parts) or not _valid_arrays(
            probabilities, labels
        ):
            logger.warning("ignoring prediction cache file %s: it does not match", path)
            return None
        logger.info("read predictions from %s", path)
        return probabilities, labels

    def store(
        self, parts: Mapping[str, Any], probabilities: np.ndarray, labels: np.ndarray
    ) -> None:
        """Write the arrays for `parts` atomically; a failure is logged, not raised."""
        path = self.path_for(parts)
        buffer = io.BytesIO()
        np.savez(
            buffer,
            parts=np.array(_describe_parts(parts)),
            probabilities=probabilities,
            labels=labels,
        )
        try:
            write_atomically(path, buffer.getvalue())
        except OSError as error:
            logger.warning("could not write prediction cache file %s: %s", path, error)


def cache_key(parts: Mapping[str, Any]) -> str:
    """Return the hex digest that names the cache file of `parts`."""
    return hashlib.sha256(_describe_parts(parts).encode()).hexdigest()[:40]


def prediction_key_parts(
    evaluation: Evaluation, corruption: str | None, severity: int | None
) -> dict[str, Any]:
    """Return everything that determines an evaluation's predictions on one input."""
    return {
        "format": CACHE_FORMAT,
        "model": model_identity(evaluation.classifier),
        "data": evaluation.data_fingerprint,
        "corruption": corruption,
        "severity": severity,
        "seed": evaluation.seed,
        "device": str(evaluation.device),
        "batch_size": evaluation.batch_size,
        "versions": package_versions(),
    }


def model_identity(classifier: Classifier) -> str:
    """Return a hash of what makes a classifier's outputs, computed once per classifier.

    Beside the weights fingerprint it covers the module's class, `repr` and
    source, and the preprocessing's, because modules whose state dicts are
    equal (or empty) can still compute different outputs.
    """
    from pytest_visionguard.model import model_fingerprint

    known = _MODEL_IDENTITIES.get(classifier)
    if known is not None:
        return known
    digest = hashlib.blake2b(digest_size=16)
    for part in (
        model_fingerprint(classifier),
        _describe_callable(classifier.model),
        _describe_callable(classifier.preprocess),
        classifier.outputs,
        str(classifier.input_dtype()),
    ):
        digest.update(part.encode())
        digest.update(b"\0")
    identity = digest.hexdigest()
    _MODEL_IDENTITIES[classifier] = identity
    return identity


def data_fingerprint(data: EvalSet) -> str:
    """Return `data.fingerprint()`, computed once per evaluation set."""
    fingerprint = _DATA_FINGERPRINTS.get(data)
    if fingerprint is None:
        fingerprint = data.fingerprint()
        _DATA_FINGERPRINTS[data] = fingerprint
    return fingerprint


def _describe_parts(parts: Mapping[str, Any]) -> str:
    return json.dumps(parts, sort_keys=True, separators=(",", ":"))


def _valid_arrays(probabilities: np.ndarray, labels: np.ndarray) -> bool:
    return (
        probabilities.dtype == np.float64
        and probabilities.ndim == 2
        and labels.ndim == 1
        and np.issubdtype(labels.dtype, np.integer)
        and labels.shape[0] == probabilities.shape[0]
    )


def _describe_callable(target: Any) -> str:
    if target is None:
        return "none"
    kind = type(target)
    parts = [
        f"{kind.__module__}.{kind.__qualname__}",
        f"{getattr(target, '__module__', '')}.{getattr(target, '__qualname__', '')}",
        _ADDRESS.sub("", repr(target)),
    ]
    source_of = (
        target if inspect.isfunction(target) or inspect.ismethod(target) else kind
    )
    with contextlib.suppress(OSError, TypeError):
        parts.append(inspect.getsource(source_of))
    return "\n".join(parts)


@contextlib.contextmanager
def _exclusive_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path`, waiting for other processes to release it.

    The lock file stays on disk: removing it while another process waits on
    it would let a third process lock a new file of the same name.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _lock(descriptor)
        try:
            yield
        finally:
            _unlock(descriptor)
    finally:
        os.close(descriptor)


if sys.platform == "win32":
    import msvcrt

    def _lock(descriptor: int) -> None:
        # NOTE: this branch has not run on Windows in this project's tests.
        while True:
            try:
                msvcrt.locking(descriptor, msvcrt.LK_NBLCK, 1)
                return
            except OSError:
                time.sleep(0.05)

    def _unlock(descriptor: int) -> None:
        os.lseek(descriptor, 0, os.SEEK_SET)
        msvcrt.locking(descriptor, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _lock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_EX)

    def _unlock(descriptor: int) -> None:
        fcntl.flock(descriptor, fcntl.LOCK_UN)
