"""Release gates of the digit reader on the mail-sorting line.

Each test states one deployment requirement. The figures that the thresholds
were set from, and the margin each leaves, are listed in this project's README.
Gates written as markers run after the test body, so those tests have no body.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings

from pytest_visionguard import GateFailure
from pytest_visionguard.strategies import corruption_names

# A misread digit sends a letter to the wrong depot: cost 10, whichever digits
# were confused. A correct read costs nothing. A clerk who keys in the digit
# by hand costs 1.
MISREAD_COSTS = 10.0 * (1.0 - np.eye(10))
REVIEW_COST = 1.0


@pytest.mark.accuracy_floor(at_least=0.95)
def test_reads_most_digits(visionguard):
    """The line reads at least 95% of all digits correctly."""


def test_every_site_meets_floor(visionguard):
    """Each scanner site reads at least 92% of its digits correctly.

    A single site below this floor sends more misrouted mail than its depot
    can return by hand, even when the overall figure looks fine.
    """
    visionguard.assert_accuracy(at_least=0.92, by="site")


@pytest.mark.max_gap("accuracy", at_most=0.06, by="site")
def test_site_gap_stays_small(visionguard):
    """South reads at most 6 percentage points fewer digits than north."""


def test_zero_is_rarely_missed(visionguard):
    """Each site misses at most 5% of the zeros.

    In the network this example imagines, postcodes ending in 0 are PO box
    ranges, held at the counter for collection. A 0 read as another digit puts
    box mail on a street delivery round, where it cannot be delivered, and
    the letter comes back days later. Misreading another digit as 0 is caught at
    the counter, so only the false negatives of digit 0 are gated here.
    """
    visionguard.assert_metric(
        "false_negative_rate", positive=0, at_most=0.05, by="site"
    )


@pytest.mark.no_regression("accuracy", by="site", tolerance=0.01, paired=True)
def test_no_site_worse_than_released(visionguard):
    """No site reads more than 1 point worse than the released model.

    The figures of the released model are in ``visionguard-baseline.json``,
    committed with the code; ``paired=True`` compares the two models on the
    same images with McNemar's test. After a deliberate change, record the
    new figures with ``pytest --visionguard-update-baseline`` and commit them.
    """


@pytest.mark.calibration(max_ece=0.03)
def test_confidence_is_calibrated(visionguard):
    """Top-label confidence is within 0.03 of accuracy on average (ECE, 15 bins).

    The cost budget below routes letters to review by confidence, so a
    confidence of 0.8 has to mean about 80% of such reads are correct.
    """


@pytest.mark.parametrize("column", ["stroke", "ink"])
def test_every_hand_meets_floor(visionguard, column):
    """Every stroke-width group and every ink-coverage group reads at least 93%."""
    visionguard.assert_accuracy(at_least=0.93, by=column)


@pytest.mark.robustness("gaussian_noise", severity=3, max_drop=0.06)
def test_survives_sensor_noise(visionguard):
    """Sensor noise (ImageNet-C severity 3) costs at most 6 points of accuracy."""


@pytest.mark.xfail(
    strict=True,
    raises=GateFailure,
    reason=(
        "known weakness: under severity-3 sensor noise the south site reads "
        "about 84% of digits (north about 96%), because the model saw only "
        "200 south images in training"
    ),
)
@pytest.mark.robustness("gaussian_noise", severity=3, min_accuracy=0.90, by="site")
def test_noisy_south_sensors_meet_floor(visionguard):
    """Under sensor noise of severity 3, each site still reads at least 90%.

    The south site is due to get older scanners with noisier sensors. Until
    the model is retrained with more south images, this gate fails for south.
    """


@pytest.mark.robustness("low_light", severity=3, max_drop=0.05)
def test_survives_night_shift(visionguard):
    """The night shift's dim lighting costs at most 5 points of accuracy.

    The night shift is simulated by the ``low_light`` corruption
    (underexposure with sensor noise) at severity 3. No scans from a real
    night shift exist.
    """


# The visionguard fixture is a view over the session's cached predictions and
# keeps no state between calls, so sharing it across examples is safe.
@settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(name=corruption_names(include=["noise", "blur", "digital"]))
def test_mildest_corruptions_barely_matter(visionguard, name):
    """At severity 1, no sensor, blur or digital corruption costs 4 points.

    Hypothesis draws the corruptions; if one breaks the property, it shrinks
    the failure to the first such name in registry order, which the message
    names. Weather (snow, frost, fog) and occlusion change the scene itself,
    so they are gated separately, not here.
    """
    table = visionguard.robustness(name, severities=1)
    drop = float(table["drop"].iloc[0])
    assert drop <= 0.04, f"{name} at severity 1 costs {drop:.3f} accuracy"


@pytest.mark.cost_budget(
    MISREAD_COSTS,
    at_most=0.25,
    review_below=0.8,
    review_cost=REVIEW_COST,
    max_review_rate=0.12,
)
def test_sorting_cost_within_budget(visionguard):
    """Sorting costs at most 0.25 per digit, with at most 12% sent to a clerk.

    Digits read with confidence below 0.8 go to a clerk at cost 1 instead of
    risking a misread at cost 10.
    """
