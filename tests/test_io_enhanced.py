"""Enhanced (multi-frame) CT: frames placed by their per-frame functional groups."""

import numpy as np
from dicom_factory import hu_phantom, write_enhanced

from cementseg.io import find_series, load


def test_frames_are_ordered_by_position_with_per_frame_rescale(tmp_path):
    hu = hu_phantom((5, 6, 7), seed=21) // 2 * 2
    written = write_enhanced(
        tmp_path / "ct.dcm", hu, orientation=(0.8, 0.0, 0.6, 0.0, 1.0, 0.0),
        slopes=[1.0, 2.0, 1.0, 2.0, 1.0], intercepts=[-1024.0, -2048.0, -1000.0, -1600.0, -1024.0],
        frame_order=[4, 2, 0, 3, 1],
    )
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    record = find_series(tmp_path)[0]
    assert (record.n_instances, record.n_images, record.slice_thickness_mm) == (1, 5, 1.5)
    assert record.image_type[:3] == ("ORIGINAL", "PRIMARY", "VOLUME")
