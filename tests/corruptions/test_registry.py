"""The corruption registry: names, families and name resolution."""

from __future__ import annotations

import dataclasses

import pytest

from pytest_visionguard.corruptions import BENCHMARK_CORRUPTIONS
from pytest_visionguard.corruptions import CORRUPTIONS
from pytest_visionguard.corruptions import FAMILIES
from pytest_visionguard.corruptions import CorruptionSpec
from pytest_visionguard.corruptions import get_spec
from pytest_visionguard.corruptions import resolve_corruptions
from pytest_visionguard.errors import VisionGuardError

IMAGENET_C_ORDER = (
    "gaussian_noise",
    "shot_noise",
    "impulse_noise",
    "defocus_blur",
    "glass_blur",
    "motion_blur",
    "zoom_blur",
    "snow",
    "frost",
    "fog",
    "brightness",
    "contrast",
    "elastic_transform",
    "pixelate",
    "jpeg_compression",
)


def test_benchmark_names_in_literature_order():
    assert BENCHMARK_CORRUPTIONS == IMAGENET_C_ORDER


def test_all_names_listed():
    extras = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
    assert CORRUPTIONS == IMAGENET_C_ORDER + extras + ("low_light", "occlusion")


def test_families_partition_names():
    assert set(FAMILIES) == {"noise", "blur", "weather", "digital", "extra"}
    listed = [name for names in FAMILIES.values() for name in names]
    assert sorted(listed) == sorted(CORRUPTIONS)
    assert FAMILIES["weather"] == ("snow", "frost", "fog", "brightness", "spatter")
    assert FAMILIES["extra"] == ("low_light", "occlusion")


@pytest.mark.parametrize("name", CORRUPTIONS)
def test_spec_fields(name):
    spec = get_spec(name)
    assert isinstance(spec, CorruptionSpec)
    assert spec.name == name
    assert name in FAMILIES[spec.family]
    assert len(spec.parameters) == 5
    assert spec.benchmark == (name in BENCHMARK_CORRUPTIONS)
    assert spec.description
    assert spec.source
    assert spec.parameter(1) == spec.parameters[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # type: ignore[misc]


def test_deterministic_flags():
    deterministic = {name for name in CORRUPTIONS if get_spec(name).deterministic}
    assert deterministic == {
        "defocus_blur",
        "zoom_blur",
        "brightness",
        "contrast",
        "pixelate",
        "jpeg_compression",
        "gaussian_blur",
        "saturate",
    }


def test_resolve_single_name():
    assert resolve_corruptions("fog") == ("fog",)


def test_resolve_family_and_names_deduplicated():
    resolved = resolve_corruptions(["snow", "weather", "snow", "contrast"])
    assert resolved == ("snow", "frost", "fog", "brightness", "spatter", "contrast")


def test_resolve_all_is_benchmark():
    assert resolve_corruptions("all") == BENCHMARK_CORRUPTIONS


def test_resolve_tuple_of_names():
    assert resolve_corruptions(("pixelate", "occlusion")) == ("pixelate", "occlusion")


def test_unknown_name_suggests_closest():
    with pytest.raises(VisionGuardError, match="'gausian_noise'.*'gaussian_noise'"):
        resolve_corruptions("gausian_noise")


def test_unknown_name_in_list():
    with pytest.raises(VisionGuardError, match="'frosty'.*did you mean 'frost'"):
        resolve_corruptions(["fog", "frosty"])


def test_unrelated_name_lists_choices():
    with pytest.raises(VisionGuardError, match="unknown corruption 'xyz'; choose"):
        get_spec("xyz")


def test_empty_list_rejected():
    with pytest.raises(VisionGuardError, match="no corruptions given"):
        resolve_corruptions([])


@pytest.mark.parametrize("bad", [3, None, [1], ["fog", 2.0]])
def test_non_string_names_rejected(bad):
    with pytest.raises(VisionGuardError):
        resolve_corruptions(bad)
