"""Key images, CSV and the viz entry points, on a phantom with findings from its truth."""

from __future__ import annotations

import csv
import io

import numpy as np
from matplotlib.colors import to_rgb
from matplotlib.image import imread
from report_cases import phantom, truth_findings

from cementseg.report.images import canonical_view, key_images, location_colour, reported_findings
from cementseg.report.tables import CSV_COLUMNS, findings_csv
from cementseg.volume import CTVolume


def _png_pixels(png: bytes) -> np.ndarray:
    return imread(io.BytesIO(png), format="png")[..., :3]


def test_canonical_view_puts_patient_axes_in_s_p_l_order_for_a_flipped_permuted_series():
    # array axes (z, y, x) run along (P, S, -L): a sagittal-like storage order
    direction = np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])  # columns: x->P, y->S, z->-L
    hu = np.zeros((4, 5, 6), np.int16)
    volume = CTVolume(hu=hu, spacing_mm=(1.0, 2.0, 3.0), origin_lps_mm=(0, 0, 0), direction=direction)
    labels = np.zeros(hu.shape, np.uint16)
    labels[1, 2, 3] = 7
    view = canonical_view(volume, labels)
    assert view.hu.shape == (5, 6, 4)  # (S from y, P from x, L from z)
    assert view.spacing_mm == (2.0, 3.0, 1.0)
    s, p, left = np.argwhere(view.labels == 7)[0]
    lps = volume.index_to_lps((1, 2, 3))
    # canonical index i along each axis must increase with the LPS coordinate
    assert (s, p) == (2, 3)
    assert left == 4 - 1 - 1 and lps[0] == -1.0  # z index 1 of 4, flipped: L grows with -z
    np.testing.assert_array_equal(view.index_of(np.array([[1, 2, 3]]))[0], [s, p, left])


def test_key_images_show_every_finding_outlined_in_its_location_colour():
    case = phantom()
    findings = truth_findings(case.volume, case.truth)
    images = key_images(case.volume, findings)
    cement = reported_findings(findings)
    assert set(images) == {f"finding_{c.id}" for c in cement} | {"mip", "spine_3d"}
    assert [c.location for c in cement][:2] == ["inferior_vena_cava", "paravertebral_venous"]  # leaks first
    for component in cement:
        pixels = _png_pixels(images[f"finding_{component.id}"])
        assert pixels.shape[0] > 300 and pixels.shape[1] > 500
        colour = np.array(to_rgb(location_colour(component.location)))
        close = np.abs(pixels - colour).max(axis=2) < 0.06
        assert close.sum() > 20, f"no {component.location} outline in finding {component.id}'s image"
    mip = _png_pixels(images["mip"])
    for location in {c.location for c in cement}:
        colour = np.array(to_rgb(location_colour(location)))
        assert (np.abs(mip - colour).max(axis=2) < 0.06).sum() > 5, f"{location} not marked on the MIP"


def test_csv_has_one_row_per_finding_with_truth_volumes():
    case = phantom()
    findings = truth_findings(case.volume, case.truth)
    rows = list(csv.DictReader(io.StringIO(findings_csv(findings))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(r["id"]) for r in rows] == [c.id for c in findings.components]
    voxel_ml = np.prod(case.volume.spacing_mm) / 1000
    for row, component in zip(rows, findings.components, strict=True):
        assert row["location"] == component.location
        truth_voxels = int(np.isin(np.flatnonzero(case.truth), component.flat_index).sum())
        assert float(row["volume_ml"]) == round(truth_voxels * voxel_ml, 4)


def test_viz_show_and_findings_plot_return_figures():
    case = phantom()
    findings = truth_findings(case.volume, case.truth)
    figures = findings.plot(case.volume, max_findings=2)
    assert len(figures) == 3  # MIP + two findings
    assert all(len(f.axes) >= 2 for f in figures)
    from cementseg.viz import browse, show

    only = show(case.volume, findings, finding_ids=[5], mip=False)
    assert len(only) == 1 and "inferior_vena_cava" in only[0]._suptitle.get_text()
    widget = browse(case.volume, findings)
    slider = widget.children[0]
    assert slider.max == case.volume.shape[0] - 1
