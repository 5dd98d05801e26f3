"""Evaluation sets: images, labels and subgroup metadata, checked on the way in."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from pytest_visionguard.errors import VisionGuardError

_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


@dataclass(frozen=True)
class Batch:
    """One batch of an evaluation set.

    Attributes:
        indices: the position of each image in the evaluation set, int64.
        images: an N×C×H×W tensor, uint8 in 0–255 or floating in [0, 1].
        labels: the true class of each image, int64.
    """

    indices: np.ndarray
    images: torch.Tensor
    labels: np.ndarray


class EvalSet:
    """Images, labels and per-image metadata that the gates evaluate.

    Args:
        images: an N×C×H×W tensor (uint8 in 0–255, or floating in [0, 1]) with
            C of 1 or 3, or an N×H×W×C uint8 numpy array.
        labels: N integer class indices.
        metadata: a pandas DataFrame with one row per image, whose columns are
            the subgroup attributes (site, device, skin tone, ...). Rows match
            images by position; the DataFrame's own index is ignored.
        class_names: one name per class, in class-index order.
        name: a label for reports.

    Raises:
        VisionGuardError: when the images, labels, metadata or class names are
            malformed; the message names the value and what to change.

    Example:
        >>> import torch
        >>> data = EvalSet(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), [0, 1, 1, 0])
        >>> len(data)
        4
    """

    def __init__(
        self,
        images: torch.Tensor | np.ndarray,
        labels: Sequence[int] | np.ndarray | torch.Tensor,
        *,
        metadata: pd.DataFrame | Mapping[str, Sequence[Any]] | None = None,
        class_names: Sequence[str] | None = None,
        name: str | None = None,
    ) -> None:
        tensor = _check_image_tensor(images)
        checked_labels = _check_labels(labels, expected_length=tensor.shape[0])
        self._images: torch.Tensor | None = tensor
        self._dataset: Any = None
        self._labels: np.ndarray | None = checked_labels
        self._length = int(tensor.shape[0])
        self.name = name or "evalset"
        self.class_names = _check_class_names(class_names, checked_labels)
        self.metadata = _check_metadata(metadata, self._length)

    @classmethod
    def from_dataset(
        cls,
        dataset: Any,
        *,
        metadata: pd.DataFrame | Mapping[str, Sequence[Any]] | None = None,
        class_names: Sequence[str] | None = None,
        name: str | None = None,
    ) -> EvalSet:
        """Wrap a map-style dataset of `(image, label)` pairs, read lazily.

        Only one batch of images is in memory at a time, so an evaluation set
        larger than memory works. Each image may be a C×H×W or H×W tensor
        (uint8, or floating in [0, 1]), a PIL image, or an H×W×C or H×W uint8
        numpy array; all images must share one size.

        Args:
            dataset: an object with `__len__` and `__getitem__(i)` returning
                `(image, label)`, such as a `torch.utils.data.Dataset`.
            metadata: one row per item, matched by position.
            class_names: one name per class; defaults to `dataset.classes`
                when the dataset has that attribute.
            name: a label for reports.

        Raises:
            VisionGuardError: when the dataset has no length or the metadata
                length differs from it.
        """
        if not hasattr(dataset, "__len__") or not hasattr(dataset, "__getitem__"):
            raise VisionGuardError(
                f"EvalSet.from_dataset needs a map-style dataset with __len__ and "
                f"__getitem__, got {type(dataset).__name__}; wrap an iterable "
                "dataset in a list or a torch.utils.data.Dataset first"
            )
        self = cls.__new__(cls)
        self._images = None
        self._dataset = dataset
        self._labels = None
        self._length = len(dataset)
        self.name = name or type(dataset).__name__
        if class_names is None and hasattr(dataset, "classes"):
            class_names = list(dataset.classes)
        self.class_names = _check_class_names(class_names, None)
        self.metadata = _check_metadata(metadata, self._length)
        return self

    @classmethod
    def from_folder(
        cls,
        root: str | Path,
        *,
        metadata: str | Path | pd.DataFrame | None = None,
        name: str | None = None,
    ) -> EvalSet:
        """Read images in the torchvision ImageFolder layout, lazily.

        `root/<class name>/<image file>`, classes sorted by folder name. Images
        are decoded as RGB with Pillow in batches; all must share one size.

        Args:
            root: the folder with one sub-folder per class.
            metadata: a CSV path or a DataFrame with a `path` column holding
                each image's path relative to `root` (forward slashes), plus
                the subgroup columns. Every image needs exactly one row.
            name: a label for reports.

        Raises:
            VisionGuardError: when the folder is missing or empty, or the
                metadata does not match the images one to one.
        """
        folder = _ImageFolder(Path(root))
        frame = _join_folder_metadata(folder, metadata)
        return cls.from_dataset(
            folder, metadata=frame, class_names=folder.classes, name=name
        )

    def __len__(self) -> int:
        return self._length

    def __repr__(self) -> str:
        columns = ", ".join(map(str, self.metadata.columns)) or "none"
        return f"EvalSet({self.name!r}, n={self._length}, metadata columns: {columns})"

    @property
    def labels(self) -> np.ndarray | None:
        """The labels, or None for a lazy dataset not yet read."""
        return self._labels

    def batches(self, batch_size: int) -> Iterator[Batch]:
        """Yield the images in order, `batch_size` at a time."""
        for start in range(0, self._length, batch_size):
            stop = min(start + batch_size, self._length)
            indices = np.arange(start, stop, dtype=np.int64)
            if self._images is not None:
                assert self._labels is not None
                yield Batch(indices, self._images[start:stop], self._labels[start:stop])
            else:
                yield self._read_dataset_batch(indices)

    def fingerprint(self) -> str:
        """Return a hash of the images, labels and metadata.

        For a lazy dataset this reads every item once, a batch at a time.
        """
        digest = hashlib.blake2b(digest_size=16)
        for batch in self.batches(256):
            digest.update(batch.images.contiguous().cpu().numpy().tobytes())
            digest.update(batch.labels.tobytes())
        digest.update(pd.util.hash_pandas_object(self.metadata, index=False).values)
        return digest.hexdigest()

    def _read_dataset_batch(self, indices: np.ndarray) -> Batch:
        images = []
        labels = []
        for index in indices.tolist():
            item = self._dataset[index]
            if not isinstance(item, tuple | list) or len(item) < 2:
                raise VisionGuardError(
                    f"dataset item {index} is a {type(item).__name__}, expected an "
                    "(image, label) pair"
                )
            images.append(_item_to_tensor(item[0], index))
            labels.append(_item_label(item[1], index))
        _check_same_size(images, indices)
        stacked = torch.stack(images)
        _check_image_tensor(stacked, where=f"dataset items {indices[0]}–{indices[-1]}")
        label_array = np.asarray(labels, dtype=np.int64)
        if self.class_names is not None:
            _check_label_range(label_array, len(self.class_names), indices)
        return Batch(indices, stacked, label_array)


def check_labels_in_range(labels: np.ndarray, num_classes: int) -> None:
    """Raise VisionGuardError when a label is outside [0, num_classes)."""
    _check_label_range(labels, num_classes, np.arange(len(labels)))


def _check_image_tensor(images: Any, *, where: str = "images") -> torch.Tensor:
    if isinstance(images, np.ndarray):
        images = _numpy_to_tensor(images)
    if not isinstance(images, torch.Tensor):
        raise VisionGuardError(
            f"{where} must be a torch.Tensor (N×C×H×W) or a numpy array (N×H×W×C), "
            f"got {type(images).__name__}"
        )
    if images.ndim != 4:
        raise VisionGuardError(
            f"{where} must be 4-D N×C×H×W, got shape {tuple(images.shape)}; "
            "add a channel axis with images.unsqueeze(1) for grayscale"
        )
    channels = images.shape[1]
    if channels not in (1, 3):
        hint = ""
        if images.shape[-1] in (1, 3):
            hint = "; it looks like N×H×W×C, so use images.permute(0, 3, 1, 2)"
        raise VisionGuardError(
            f"{where} must have 1 or 3 channels on axis 1, got shape "
            f"{tuple(images.shape)}{hint}"
        )
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise VisionGuardError(
            f"{where} have dtype {images.dtype}; use uint8 (0–255) or a floating "
            "dtype with values in [0, 1]"
        )
    _check_float_range(images, where)
    return images


def _check_float_range(images: torch.Tensor, where: str) -> None:
    if images.numel() == 0:
        return
    if not bool(torch.isfinite(images).all()):
        raise VisionGuardError(f"{where} contain NaN or infinite values")
    low = float(images.min())
    high = float(images.max())
    if low < 0.0 or high > 1.0:
        hint = ""
        if high > 1.0 and high <= 255.0 and low >= 0.0:
            hint = "; for 0–255 pixels pass a uint8 tensor or divide by 255"
        elif low < 0.0:
            hint = "; pass raw pixels and put the normalisation in Classifier(preprocess=...)"
        raise VisionGuardError(
            f"float {where} must lie in [0, 1], found values in "
            f"[{low:.3f}, {high:.3f}]{hint}"
        )


def _numpy_to_tensor(array: np.ndarray) -> torch.Tensor:
    if array.ndim != 4:
        raise VisionGuardError(
            f"numpy images must be 4-D N×H×W×C, got shape {array.shape}"
        )
    if array.dtype != np.uint8:
        raise VisionGuardError(
            f"numpy images must be uint8 N×H×W×C, got dtype {array.dtype}; for "
            "float images pass torch.from_numpy(array) as an N×C×H×W tensor"
        )
    if array.shape[-1] not in (1, 3):
        raise VisionGuardError(
            f"numpy images must be N×H×W×C with C of 1 or 3, got shape {array.shape}"
        )
    return torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2)


def _check_labels(labels: Any, *, expected_length: int) -> np.ndarray:
    if isinstance(labels, torch.Tensor):
        labels = labels.detach().cpu().numpy()
    if expected_length == 0:
        raise VisionGuardError("the evaluation set is empty; pass at least one image")
    array = np.asarray(labels)
    if array.ndim != 1:
        raise VisionGuardError(
            f"labels must be 1-D with one class index per image, got shape "
            f"{array.shape}"
        )
    if len(array) != expected_length:
        raise VisionGuardError(
            f"got {len(array)} labels for {expected_length} images; pass one label "
            "per image"
        )
    if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
        raise VisionGuardError(
            f"labels must be integer class indices, got dtype {array.dtype}; "
            "map class names to indices first"
        )
    array = array.astype(np.int64)
    negative = np.flatnonzero(array < 0)
    if negative.size:
        first = int(negative[0])
        raise VisionGuardError(
            f"label {int(array[first])} at index {first} is negative; labels are "
            "class indices in [0, K)"
        )
    return array


def _check_label_range(
    labels: np.ndarray, num_classes: int, indices: np.ndarray
) -> None:
    bad = np.flatnonzero((labels < 0) | (labels >= num_classes))
    if bad.size:
        position = int(bad[0])
        raise VisionGuardError(
            f"label {int(labels[position])} at index {int(indices[position])} is "
            f"outside [0, {num_classes}); there are {num_classes} classes"
        )


def _check_class_names(
    class_names: Sequence[str] | None, labels: np.ndarray | None
) -> list[str] | None:
    if class_names is None:
        return None
    if isinstance(class_names, str):
        raise VisionGuardError(
            f"class_names must be a sequence of names, got the string {class_names!r}"
        )
    names = [str(name) for name in class_names]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise VisionGuardError(f"class_names has duplicates: {duplicates}")
    if labels is not None and labels.size:
        _check_label_range(labels, len(names), np.arange(len(labels)))
    return names


def _check_metadata(metadata: Any, length: int) -> pd.DataFrame:
    if metadata is None:
        return pd.DataFrame(index=pd.RangeIndex(length))
    if isinstance(metadata, Mapping):
        metadata = pd.DataFrame(dict(metadata))
    if not isinstance(metadata, pd.DataFrame):
        raise VisionGuardError(
            f"metadata must be a pandas DataFrame with one row per image, got "
            f"{type(metadata).__name__}"
        )
    if len(metadata) != length:
        raise VisionGuardError(
            f"metadata has {len(metadata)} rows but there are {length} images; "
            "pass one row per image, in image order"
        )
    return metadata.reset_index(drop=True)


def _item_to_tensor(image: Any, index: int) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        tensor = image
    elif isinstance(image, np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(image))
        if tensor.ndim == 3:
            tensor = tensor.permute(2, 0, 1)
    elif hasattr(image, "convert") and hasattr(image, "size"):
        from torchvision.transforms.functional import pil_to_tensor

        mode = "L" if getattr(image, "mode", "RGB") in ("L", "1", "I;16") else "RGB"
        tensor = pil_to_tensor(image.convert(mode))
    else:
        raise VisionGuardError(
            f"dataset item {index} contains an image of type {type(image).__name__}; "
            "return a tensor, a numpy array or a PIL image"
        )
    if tensor.ndim == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.ndim != 3:
        raise VisionGuardError(
            f"dataset item {index} contains an image of shape {tuple(tensor.shape)}; "
            "expected C×H×W or H×W"
        )
    return tensor


def _item_label(label: Any, index: int) -> int:
    if isinstance(label, torch.Tensor) and label.numel() == 1:
        label = label.item()
    if isinstance(label, np.generic):
        label = label.item()
    if isinstance(label, bool) or not isinstance(label, int):
        raise VisionGuardError(
            f"dataset item {index} has label {label!r}; expected an integer class index"
        )
    if label < 0:
        raise VisionGuardError(
            f"dataset item {index} has label {label}; labels are class indices "
            "in [0, K)"
        )
    return label


def _check_same_size(images: list[torch.Tensor], indices: np.ndarray) -> None:
    first = tuple(images[0].shape)
    for position, image in enumerate(images):
        if image.shape[0] != images[0].shape[0]:
            raise VisionGuardError(
                f"dataset item {int(indices[position])} has {image.shape[0]} "
                f"channels but item {int(indices[0])} has {images[0].shape[0]}; "
                "give every image the same mode in the dataset, for example "
                "image.convert('RGB')"
            )
        if tuple(image.shape) != first or image.dtype != images[0].dtype:
            raise VisionGuardError(
                f"dataset item {int(indices[position])} has shape "
                f"{tuple(image.shape)} and dtype {image.dtype}, but item "
                f"{int(indices[0])} has {first} and {images[0].dtype}; resize "
                "every image to one size in the dataset's transform"
            )


class _ImageFolder:
    """The ImageFolder layout read with Pillow, one image per item."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise VisionGuardError(f"image folder {str(root)!r} does not exist")
        self.root = root
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        if not self.classes:
            raise VisionGuardError(
                f"image folder {str(root)!r} has no class sub-folders; expected "
                "root/<class name>/<image file>"
            )
        self.samples: list[tuple[str, int]] = []
        for label, class_name in enumerate(self.classes):
            for path in sorted((root / class_name).rglob("*")):
                if path.suffix.lower() in _IMAGE_EXTENSIONS and path.is_file():
                    self.samples.append((path.relative_to(root).as_posix(), label))
        if not self.samples:
            raise VisionGuardError(
                f"image folder {str(root)!r} has no images with the suffixes "
                f"{', '.join(_IMAGE_EXTENSIONS)}"
            )

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        from PIL import Image

        relative, label = self.samples[index]
        with Image.open(self.root / relative) as image:
            return image.convert("RGB"), label


def _join_folder_metadata(
    folder: _ImageFolder, metadata: str | Path | pd.DataFrame | None
) -> pd.DataFrame | None:
    if metadata is None:
        return None
    frame = pd.read_csv(metadata) if isinstance(metadata, str | Path) else metadata
    if not isinstance(frame, pd.DataFrame) or "path" not in frame.columns:
        raise VisionGuardError(
            "folder metadata needs a 'path' column with each image's path relative "
            f"to {str(folder.root)!r}"
        )
    paths = frame["path"].astype(str).str.replace("\\", "/", regex=False)
    duplicated = paths[paths.duplicated()].tolist()
    if duplicated:
        raise VisionGuardError(f"folder metadata lists paths twice: {duplicated[:5]}")
    by_path = frame.assign(path=paths).set_index("path")
    wanted = [relative for relative, _ in folder.samples]
    missing = [path for path in wanted if path not in by_path.index]
    if missing:
        raise VisionGuardError(
            f"folder metadata has no row for {len(missing)} images, such as "
            f"{missing[:3]}; add a row per image"
        )
    return by_path.loc[wanted].reset_index()
