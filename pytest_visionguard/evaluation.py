"""Bind a classifier to an evaluation set and run inference once per input.

An input is the clean evaluation set or one corruption at one severity. The
first request for an input streams the set through the model in batches; every
later request reads the cached predictions.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch

from pytest_visionguard.data import EvalSet
from pytest_visionguard.data import check_labels_in_range
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.gates import is_integer
from pytest_visionguard.model import Classifier
from pytest_visionguard.model import model_fingerprint

if TYPE_CHECKING:
    from pytest_visionguard.cache import PredictionCache

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 128
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda|cuda:\d+)$")


@dataclass(frozen=True)
class Predictions:
    """The model's outputs on one input, with the labels and metadata.

    Attributes:
        probabilities: N×K float64 class probabilities.
        labels: N int64 true classes.
        metadata: the evaluation set's metadata, one row per image.
        class_names: one name per class.
        corruption: the corruption name, or None for clean images.
        severity: the corruption severity, or None for clean images.
    """

    probabilities: np.ndarray
    labels: np.ndarray
    metadata: pd.DataFrame
    class_names: list[str]
    corruption: str | None = None
    severity: int | None = None
    predicted: np.ndarray = field(init=False)
    confidence: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "predicted", self.probabilities.argmax(axis=1))
        object.__setattr__(self, "confidence", self.probabilities.max(axis=1))

    @property
    def correct(self) -> np.ndarray:
        """Whether each top-1 prediction equals the label."""
        return np.asarray(self.predicted == self.labels)

    @property
    def num_classes(self) -> int:
        """The number of classes K."""
        return int(self.probabilities.shape[1])

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def validate_device_option(value: str) -> str:
    """Return `value` when it names a device form, else raise VisionGuardError."""
    if not _DEVICE_PATTERN.match(value):
        raise VisionGuardError(
            f"invalid visionguard device {value!r}; use auto, cpu, cuda or cuda:N"
        )
    return value


def resolve_device(value: str) -> torch.device:
    """Return the torch device for `auto`, `cpu`, `cuda` or `cuda:N`.

    `auto` picks the first CUDA device when one is available.

    Raises:
        VisionGuardError: for an unknown name, or CUDA requested on a machine
            without it.
    """
    validate_device_option(value)
    if value == "auto":
        # NOTE: the CUDA branch of auto has only run where torch reports CUDA.
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(value)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise VisionGuardError(
                f"--visionguard-device={value} but torch sees no CUDA device; use "
                "auto or cpu"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise VisionGuardError(
                f"--visionguard-device={value} but only {count} CUDA devices exist"
            )
    return device


class Evaluation:
    """Inference of one classifier on one evaluation set, cached per input.

    Args:
        classifier: the model under test.
        data: the evaluation set.
        device: where images and the model go.
        batch_size: images per forward pass; None uses the classifier's, or
            `DEFAULT_BATCH_SIZE`.
        seed: the seed of every corruption.
        cache: an on-disk cache that re-runs and pytest-xdist workers share,
            or None to keep predictions in memory only.
    """

    def __init__(
        self,
        classifier: Classifier,
        data: EvalSet,
        *,
        device: torch.device,
        batch_size: int | None = None,
        seed: int = 0,
        cache: PredictionCache | None = None,
    ) -> None:
        self.classifier = classifier
        self.data = data
        self.device = device
        self.batch_size = batch_size or classifier.batch_size or DEFAULT_BATCH_SIZE
        self.seed = seed
        self.images_seen = 0
        self._cache: dict[tuple[str | None, int | None], Predictions] = {}
        self.prediction_cache = cache

    def predictions(
        self, corruption: str | None = None, severity: int | None = None
    ) -> Predictions:
        """Return the predictions on clean images, or on one corruption.

        Raises:
            VisionGuardError: for an unknown corruption, a severity outside
                1–5, or a model output that fails its checks.
        """
        key = _input_key(corruption, severity)
        if key not in self._cache:
            self._cache[key] = self._load_or_run(*key)
        return self._cache[key]

    @functools.cached_property
    def data_fingerprint(self) -> str:
        """The evaluation set's fingerprint (`EvalSet.fingerprint()`), computed once."""
        from pytest_visionguard.cache import data_fingerprint

        return data_fingerprint(self.data)

    @functools.cached_property
    def model_fingerprint(self) -> str:
        """The weights fingerprint (`model.model_fingerprint`), computed once."""
        return model_fingerprint(self.classifier)

    def _load_or_run(self, corruption: str | None, severity: int | None) -> Predictions:
        """Read the predictions from the on-disk cache, or run the model and store them.

        The entry's lock is held while the model runs, so another process
        that needs the same input waits and then reads it.
        """
        cache = self.prediction_cache
        if cache is None:
            return self._run(corruption, severity)
        from pytest_visionguard.cache import prediction_key_parts

        parts = prediction_key_parts(self, corruption, severity)
        with cache.locked(parts):
            stored = cache.load(parts)
            if stored is not None:
                return self._predictions(*stored, corruption, severity)
            predictions = self._run(corruption, severity)
            cache.store(parts, predictions.probabilities, predictions.labels)
        return predictions

    def _run(self, corruption: str | None, severity: int | None) -> Predictions:
        label = (
            "clean images"
            if corruption is None
            else f"{corruption} at severity {severity}"
        )
        logger.info("running %r on %s of %r", self.classifier, label, self.data)
        classifier = self.classifier.to(self.device)
        module = (
            classifier.model if isinstance(classifier.model, torch.nn.Module) else None
        )
        was_training = module.training if module is not None else False
        if module is not None:
            module.eval()
        try:
            probabilities, labels = self._infer(classifier, corruption, severity)
        finally:
            if module is not None and was_training:
                module.train()
        return self._predictions(probabilities, labels, corruption, severity)

    def _predictions(
        self,
        probabilities: np.ndarray,
        labels: np.ndarray,
        corruption: str | None,
        severity: int | None,
    ) -> Predictions:
        return Predictions(
            probabilities=probabilities,
            labels=labels,
            metadata=self.data.metadata,
            class_names=_class_names(self.data.class_names, probabilities.shape[1]),
            corruption=corruption,
            severity=severity,
        )

    def _infer(
        self, classifier: Classifier, corruption: str | None, severity: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        dtype = classifier.input_dtype()
        chunks: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        with torch.inference_mode():
            for batch in self.data.batches(self.batch_size):
                images = batch.images.to(self.device)
                if corruption is not None:
                    assert severity is not None
                    images = _corrupt(
                        images, corruption, severity, self.seed, batch.indices
                    )
                images = _to_float(images, dtype)
                first = int(batch.indices[0])
                probabilities = classifier.predict_probabilities(
                    images, first_index=first
                )
                self.images_seen += len(batch.indices)
                chunks.append(probabilities.cpu().numpy())
                labels.append(batch.labels)
        if not chunks:
            raise VisionGuardError(f"the evaluation set {self.data.name!r} is empty")
        stacked = np.concatenate(chunks)
        all_labels = np.concatenate(labels)
        check_labels_in_range(all_labels, stacked.shape[1])
        return stacked, all_labels


def _input_key(
    corruption: str | None, severity: int | None
) -> tuple[str | None, int | None]:
    if corruption is None:
        if severity is not None:
            raise VisionGuardError("a severity was given without a corruption name")
        return None, None
    from pytest_visionguard.corruptions import get_spec

    spec = get_spec(corruption)
    if not is_integer(severity) or not 1 <= severity <= 5:  # type: ignore[operator]
        raise VisionGuardError(
            f"severity must be an integer from 1 to 5, got {severity!r}"
        )
    severity = int(severity)  # type: ignore[arg-type]
    return spec.name, severity


def _corrupt(
    images: torch.Tensor, name: str, severity: int, seed: int, indices: np.ndarray
) -> torch.Tensor:
    from pytest_visionguard.corruptions import corrupt

    return corrupt(images, name, severity, seed=seed, indices=torch.from_numpy(indices))


def _to_float(images: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    if images.dtype == torch.uint8:
        return images.to(dtype) / 255.0
    return images.to(dtype)


def _class_names(names: list[str] | None, num_classes: int) -> list[str]:
    if names is None:
        return [str(index) for index in range(num_classes)]
    if len(names) != num_classes:
        raise VisionGuardError(
            f"the evaluation set names {len(names)} classes but the model outputs "
            f"{num_classes} scores per image; make class_names match the model"
        )
    return names
