"""The disc profile along the spine: cement hiding a body's centre fakes no disc."""

from __future__ import annotations

import numpy as np
import pytest

from cementseg.anatomy.vertebrae import (
    _adjusted_mean,
    _confirmed_hidden_dips,
    _dips,
    _disk_mean,
    _disk_points,
    _disk_samples,
    _spaced,
)

SPACING_MM = (1.0, 1.0, 1.0)
RADIUS_MM = 10.0


def _spine(disc_z: tuple[int, ...] = (30,)) -> tuple[np.ndarray, np.ndarray]:
    """(weights z y x, disk sample coordinates): a straight column of bodies (weight 1 inside a
    12 mm radius, 0 beyond: the samples at 0.7 x RADIUS_MM lie inside it) with 4 mm discs
    (weight 0.1) centred at ``disc_z``; the body's rim (the outer 3 mm) weighs 0.6."""
    z, y, x = np.mgrid[0:60, 0:41, 0:41].astype(float)
    radial = np.hypot(y - 20, x - 20)
    weights = np.where(radial <= 12.0, np.where(radial > 6.0, 0.6, 1.0), 0.0)
    for at in disc_z:
        weights[(np.abs(z - at) < 2) & (radial <= 12.0)] = 0.1
    path = np.column_stack([np.arange(2.0, 58.0), np.full(56, 20.0), np.full(56, 20.0)])
    tangent = np.tile([1.0, 0.0, 0.0], (56, 1))
    return weights.astype(np.float32), _disk_points(SPACING_MM, path, tangent, RADIUS_MM)


def test_plain_mean_where_every_sample_is_known():
    weights, coords = _spine()
    np.testing.assert_allclose(_adjusted_mean(_disk_samples(weights, coords)), _disk_mean(weights, coords), atol=1e-6)


def test_the_adjusted_profile_does_not_dip_where_cement_hides_a_body_centre():
    """Cement hides the centre (r < 6 mm) of slices 8-18 of a body: their plain mean is the
    rim's 0.6 against 0.76 elsewhere in the body, a dip like a disc's; compared with what the
    same sample positions read at other levels it is flat. The disc at slice 30 still dips."""
    weights, coords = _spine()
    z, y, x = np.mgrid[0:60, 0:41, 0:41]
    hidden = (z >= 8) & (z <= 18) & (np.hypot(y - 20, x - 20) < 6.0)
    weights[hidden] = np.nan
    plain, adjusted = _disk_mean(weights, coords), _adjusted_mean(_disk_samples(weights, coords))
    at = np.arange(2, 58)  # path index -> slice
    body = (at > 22) & (at < 26)  # clean body slices below the disc
    cemented = (at >= 11) & (at <= 15)  # well inside the hidden stretch
    assert plain[cemented].mean() < plain[body].mean() - 0.1  # the fake dip
    assert adjusted[cemented].mean() == pytest.approx(adjusted[body].mean(), abs=0.02)
    assert adjusted[at == 30][0] < adjusted[body].mean() - 0.5  # the disc


def test_a_shallow_dip_nearby_does_not_hide_a_disc():
    """A disc (0.3 deep) 10 mm from a lower but shallow dip at the end of the view (0.16 above
    its floor, under MIN_DISC_DIP): spacing is applied among the deep enough dips only, so the
    disc stays (scipy's order, distance first, would drop both)."""
    z = np.arange(80.0)
    profile = np.interp(z, [0, 40, 50, 55, 60, 63, 79], [0.6, 0.6, 0.3, 0.62, 0.13, 0.29, 0.17])
    assert list(_spaced(_dips(profile), profile)) == [50]


def test_a_hidden_dip_needs_the_adjusted_profile_to_dip_too():
    hidden = np.zeros(100)
    hidden[20:40] = 0.8
    found = {30: 0.25, 70: 0.5, 36: 0.3}
    assert _confirmed_hidden_dips(found, hidden, {34: 0.4, 71: 0.6}) == {30: 0.25, 70: 0.5, 36: 0.3}
    assert _confirmed_hidden_dips(found, hidden, {71: 0.6}) == {70: 0.5}  # no dip in the fill


def test_a_hidden_dip_moves_to_a_dip_where_no_cement_hides_the_disk():
    """ivc_linear_leak 3 mm seed 0: T12's fill left the disks through its lowest slices two
    samples, which their 20 degree tilt put in the L1-T12 disc 7 mm below; their dip was the
    deepest and stood in for the disc. The adjusted profile dips at both: the disc is where the
    disk is whole. A hidden dip with no whole one near stays (a disc that cement fills)."""
    hidden = np.zeros(200)
    hidden[108:120] = 0.6
    found = {30: 0.65, 112: 0.56, 138: 0.75}
    adjusted = {29: 0.85, 105: 0.33, 112: 0.76, 138: 0.97}
    assert _confirmed_hidden_dips(found, hidden, adjusted) == {30: 0.65, 105: 0.56, 138: 0.75}
    hidden[100:108] = 0.6
    assert _confirmed_hidden_dips(found, hidden, adjusted) == found
