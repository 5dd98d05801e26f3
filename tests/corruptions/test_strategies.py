"""Hypothesis strategies over corruption names and severities."""

from __future__ import annotations

import pytest
from hypothesis import find
from hypothesis import given

from pytest_visionguard.corruptions import BENCHMARK_CORRUPTIONS
from pytest_visionguard.corruptions import CORRUPTIONS
from pytest_visionguard.corruptions import FAMILIES
from pytest_visionguard.errors import VisionGuardError
from pytest_visionguard.strategies import corruption_cases
from pytest_visionguard.strategies import corruption_names
from pytest_visionguard.strategies import severities


@given(corruption_names())
def test_names_are_registered(name):
    assert name in CORRUPTIONS


@given(corruption_names(family="blur"))
def test_family_filter(name):
    assert name in FAMILIES["blur"]


@given(corruption_names(include="all", exclude=["fog", "noise"]))
def test_include_and_exclude(name):
    assert name in BENCHMARK_CORRUPTIONS
    assert name != "fog"
    assert name not in FAMILIES["noise"]


@given(severities(2, 4))
def test_severity_bounds(severity):
    assert 2 <= severity <= 4


@given(corruption_cases(family="digital", max_severity=3))
def test_cases_are_pairs(case):
    name, severity = case
    assert name in FAMILIES["digital"]
    assert 1 <= severity <= 3


def test_names_shrink_to_first():
    assert find(corruption_names(), lambda name: True) == "gaussian_noise"
    assert find(corruption_names(family="weather"), lambda name: True) == "snow"


def test_severities_shrink_to_minimum():
    assert find(severities(), lambda severity: True) == 1
    assert find(severities(3, 5), lambda severity: True) == 3


def test_cases_shrink_to_mildest():
    assert find(corruption_cases(), lambda case: True) == ("gaussian_noise", 1)
    shrunk = find(corruption_cases(), lambda case: case[1] >= 4)
    assert shrunk == ("gaussian_noise", 4)


def test_shrinks_within_condition():
    shrunk = find(corruption_names(), lambda name: "blur" in name)
    assert shrunk in FAMILIES["blur"]


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"family": "sensor"}, "unknown corruption family 'sensor'"),
        ({"include": ["fogg"]}, "did you mean 'fog'"),
        ({"family": "noise", "exclude": "noise"}, "no corruption is left"),
    ],
)
def test_bad_name_filters_rejected(arguments, message):
    with pytest.raises(VisionGuardError, match=message):
        corruption_names(**arguments)


@pytest.mark.parametrize(("low", "high"), [(0, 5), (1, 6), (4, 2), (True, 5), (1.0, 2)])
def test_bad_severity_bounds_rejected(low, high):
    with pytest.raises(VisionGuardError):
        severities(low, high)
