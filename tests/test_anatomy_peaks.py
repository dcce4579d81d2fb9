"""`cementseg.anatomy.peaks` gives what scipy.signal.find_peaks gives (the disc finder's criteria:
prominence, and distance by `peak_spacing`), on random, flat-topped and real disc profiles."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.signal import find_peaks as scipy_find_peaks

from cementseg.anatomy.peaks import find_peaks, peak_spacing


def _profiles():
    rng = np.random.default_rng(7)
    for _ in range(200):
        yield rng.normal(size=int(rng.integers(3, 300)))
    for _ in range(100):  # quantised: flat tops and ties in height
        yield np.round(rng.normal(size=int(rng.integers(3, 120))) * 2) / 2
    z = np.arange(0, 200.0)
    yield 0.6 - 0.5 * np.exp(-(((z[:, None] - np.array([20, 52, 87, 121, 160])) / 3.0) ** 2)).sum(1)
    yield np.zeros(10)
    yield np.array([1.0])


@pytest.mark.parametrize("prominence", [0.0, 0.2, 0.03, 0.5])
def test_same_peaks_and_prominences_as_scipy(prominence):
    for x in _profiles():
        mine, props = find_peaks(x, prominence=prominence)
        theirs, their_props = scipy_find_peaks(x, prominence=prominence)
        np.testing.assert_array_equal(mine, theirs)
        np.testing.assert_allclose(props["prominences"], their_props["prominences"])


@pytest.mark.parametrize("distance", [1.0, 3.5, 14.0])
def test_same_spacing_as_scipys_distance(distance):
    for x in _profiles():
        peaks, _ = find_peaks(x)
        mine = peaks[peak_spacing(peaks, x[peaks], math.ceil(distance))] if len(peaks) > 1 else peaks
        np.testing.assert_array_equal(mine, scipy_find_peaks(x, distance=distance)[0])
