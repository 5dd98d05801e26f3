"""EvalSet constructors, lazy datasets, image folders, groups and the evaluation cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import pytest_visionguard as vg
from pytest_visionguard.evaluation import Evaluation
from pytest_visionguard.groups import split_groups


class CountingDataset(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
    """Twelve 1×6×6 uint8 images whose pixels equal the label times 10."""

    def __init__(self) -> None:
        self.reads: list[int] = []

    def __len__(self) -> int:
        return 12

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        self.reads.append(index)
        label = index % 3
        return torch.full((1, 6, 6), label * 10, dtype=torch.uint8), label


class MeanReader(torch.nn.Module):
    """Predicts class round(mean pixel * 25.5), for images whose pixels are label * 10."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        predicted = (x.mean(dim=(1, 2, 3)) * 25.5).round().long().clamp(0, 2)
        return torch.nn.functional.one_hot(predicted, 3).double() * 5


def test_numpy_nhwc_images_become_nchw() -> None:
    images = np.zeros((2, 5, 6, 3), dtype=np.uint8)
    images[1, :, :, 2] = 255
    data = vg.EvalSet(images, [0, 1])
    batch = next(data.batches(8))
    assert tuple(batch.images.shape) == (2, 3, 5, 6)
    assert int(batch.images[1, 2].min()) == 255


def test_from_dataset_reads_lazily_in_batches() -> None:
    dataset = CountingDataset()
    data = vg.EvalSet.from_dataset(dataset, class_names=["a", "b", "c"])
    assert dataset.reads == []
    assert data.labels is None
    batches = data.batches(5)
    first = next(batches)
    assert dataset.reads == [0, 1, 2, 3, 4]
    assert first.labels.tolist() == [0, 1, 2, 0, 1]
    assert [len(batch.indices) for batch in batches] == [5, 2]


def test_from_dataset_evaluates_end_to_end() -> None:
    data = vg.EvalSet.from_dataset(
        CountingDataset(), metadata=pd.DataFrame({"half": [0] * 6 + [1] * 6})
    )
    evaluation = Evaluation(
        vg.Classifier(MeanReader()), data, device=torch.device("cpu"), batch_size=5
    )
    predictions = evaluation.predictions()
    assert predictions.labels.tolist() == [i % 3 for i in range(12)]
    assert predictions.correct.all()
    assert evaluation.images_seen == 12
    evaluation.predictions()
    assert evaluation.images_seen == 12


def test_from_dataset_rejects_mixed_sizes() -> None:
    items = [(torch.zeros(1, 4, 4), 0), (torch.zeros(1, 5, 5), 1)]
    data = vg.EvalSet.from_dataset(items)
    with pytest.raises(
        vg.VisionGuardError, match=r"dataset item 1 has shape \(1, 5, 5\)"
    ):
        next(data.batches(2))


def test_from_dataset_rejects_bad_label() -> None:
    data = vg.EvalSet.from_dataset([(torch.zeros(1, 4, 4), "cat")])
    with pytest.raises(vg.VisionGuardError, match="dataset item 0 has label 'cat'"):
        next(data.batches(1))


def test_from_folder_joins_metadata(tmp_path: Path) -> None:
    from PIL import Image

    for class_name, value in (("cat", 0), ("dog", 255)):
        (tmp_path / class_name).mkdir()
        for number in range(2):
            Image.new("RGB", (6, 4), (value, value, value)).save(
                tmp_path / class_name / f"{number}.png"
            )
    metadata = pd.DataFrame(
        {
            "path": ["dog/1.png", "dog/0.png", "cat/1.png", "cat/0.png"],
            "site": ["b", "b", "a", "a"],
        }
    )
    data = vg.EvalSet.from_folder(tmp_path, metadata=metadata)
    assert data.class_names == ["cat", "dog"]
    assert data.metadata["path"].tolist() == [
        "cat/0.png",
        "cat/1.png",
        "dog/0.png",
        "dog/1.png",
    ]
    assert data.metadata["site"].tolist() == ["a", "a", "b", "b"]
    batch = next(data.batches(4))
    assert tuple(batch.images.shape) == (4, 3, 4, 6)
    assert batch.labels.tolist() == [0, 0, 1, 1]


def test_from_folder_metadata_missing_row(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "cat").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "cat" / "a.png")
    Image.new("RGB", (4, 4)).save(tmp_path / "cat" / "b.png")
    metadata = pd.DataFrame({"path": ["cat/a.png"], "site": ["x"]})
    with pytest.raises(
        vg.VisionGuardError, match=r"no row for 1 images, such as \['cat/b.png'\]"
    ):
        vg.EvalSet.from_folder(tmp_path, metadata=metadata)


def test_from_folder_missing_root(tmp_path: Path) -> None:
    with pytest.raises(vg.VisionGuardError, match="does not exist"):
        vg.EvalSet.from_folder(tmp_path / "nowhere")


def test_groups_cover_every_combination() -> None:
    metadata = pd.DataFrame(
        {"site": ["a", "a", "b", None], "shift": ["day", "night", "day", "day"]}
    )
    groups = split_groups(metadata, ["site", "shift"])
    labels = [group.label for group in groups]
    assert labels == [
        "site=a, shift=day",
        "site=a, shift=night",
        "site=b, shift=day",
        "site=b, shift=night",
        "site=<missing>, shift=day",
        "site=<missing>, shift=night",
    ]
    sizes = [group.indices.tolist() for group in groups]
    assert sizes == [[0], [1], [2], [], [3], []]


def test_declared_groups_are_reported_when_absent() -> None:
    metadata = pd.DataFrame({"site": ["a", "a"]})
    groups = split_groups(metadata, "site", groups={"site": ["a", "c"]})
    assert [(group.label, group.indices.size) for group in groups] == [
        ("site=a", 2),
        ("site=c", 0),
    ]


def test_model_in_training_mode_is_restored() -> None:
    model = torch.nn.Sequential(
        torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(16, 3)
    )
    model.train()
    data = vg.EvalSet(torch.rand(8, 1, 4, 4), [0, 1, 2, 0, 1, 2, 0, 1])
    evaluation = Evaluation(vg.Classifier(model), data, device=torch.device("cpu"))
    first = evaluation.predictions().probabilities
    again = (
        Evaluation(vg.Classifier(model), data, device=torch.device("cpu"))
        .predictions()
        .probabilities
    )
    assert np.array_equal(first, again)
    assert model.training
