"""Every transfer syntax the loader must read: exact HU and exact affine, or a clear error."""

import numpy as np
import pydicom
import pytest
import SimpleITK as sitk
from dicom_factory import LOSSLESS_ENCODED, NATIVE_SYNTAXES, hu_phantom, write_enhanced, write_series
from pydicom.data import get_testdata_file
from pydicom.encaps import encapsulate
from pydicom.uid import JPEG2000, UID, JPEG2000Lossless, JPEGBaseline8Bit, JPEGLSNearLossless, RLELossless

from cementseg.errors import CorruptFileError, UnsupportedTransferSyntaxError
from cementseg.io import load
from cementseg.io import pixels as pixels_module


@pytest.mark.parametrize("syntax", NATIVE_SYNTAXES + LOSSLESS_ENCODED, ids=lambda uid: UID(uid).name)
def test_lossless_syntaxes_give_exact_hu_and_affine(tmp_path, syntax):
    hu = hu_phantom((4, 40, 48), seed=3)
    written = write_series(tmp_path, hu, syntax=syntax)
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    assert volume.hu.dtype == np.int16
    assert volume.warnings == []


def _sitk_array(folder):
    reader = sitk.ImageSeriesReader()
    reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
    return sitk.GetArrayFromImage(reader.Execute())


@pytest.mark.parametrize("syntax", [JPEG2000, JPEGLSNearLossless], ids=lambda uid: UID(uid).name)
def test_lossy_syntaxes_match_simpleitk_decoder_voxel_for_voxel(tmp_path, syntax):
    hu = hu_phantom((3, 40, 48), seed=4)
    written = write_series(tmp_path, hu, syntax=syntax)
    volume = load(tmp_path)
    error = np.abs(volume.hu.astype(int) - hu).max()
    assert error > 0  # really lossy
    assert syntax != JPEGLSNearLossless or error <= 3  # the near-lossless bound the file was written with
    np.testing.assert_array_equal(volume.hu, _sitk_array(tmp_path))
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)


def test_jpeg_baseline_8bit_blocks_survive_exactly(tmp_path):
    # constant 8x8 blocks at quality 100 are reproduced exactly by any baseline decoder
    blocks = hu_phantom((3, 5, 6), seed=5, low=-1024, high=-769)
    hu = np.kron(blocks, np.ones((1, 8, 8), dtype=int))
    written = write_series(tmp_path, hu, syntax=JPEGBaseline8Bit)
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)


def test_compressed_enhanced_ct_decodes_every_frame(tmp_path):
    hu = hu_phantom((5, 32, 40), seed=6)
    written = write_enhanced(tmp_path / "enhanced.dcm", hu, syntax=RLELossless, frame_order=[3, 0, 4, 1, 2])
    volume = load(tmp_path)
    np.testing.assert_array_equal(volume.hu, hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)


class _MissingDecoder:
    is_available = False


def test_missing_decoder_names_the_syntax_and_the_package(tmp_path, monkeypatch):
    write_series(tmp_path, hu_phantom((2, 40, 48)), syntax=JPEG2000Lossless)
    monkeypatch.setattr(pixels_module, "get_decoder", lambda uid: _MissingDecoder())
    with pytest.raises(UnsupportedTransferSyntaxError, match="JPEG 2000 Image Compression .Lossless Only.*pylibjpeg-openjpeg"):
        load(tmp_path)


def test_syntax_without_any_decoder_is_refused_by_name(tmp_path):
    written = write_series(tmp_path, hu_phantom((2, 8, 8)))
    for path in written.files:  # relabel as MPEG-2 video: no pydicom decoder exists
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.100"
        ds.PixelData = encapsulate([b"\x00" * 16])
        ds["PixelData"].VR = "OB"
        ds.save_as(path, enforce_file_format=True)
    with pytest.raises(UnsupportedTransferSyntaxError, match="MPEG2"):
        load(tmp_path)


def test_jpeg_extended_12bit_slices_decode(tmp_path):
    # pydicom cannot encode JPEG extended: reuse the 12-bit codestream pydicom ships as test data
    source = pydicom.dcmread(get_testdata_file("JPGExtended.dcm"))
    written = write_series(tmp_path, np.zeros((2, source.Rows, source.Columns), dtype=int), shuffle=False)
    for path in written.files:
        ds = pydicom.dcmread(path)
        ds.file_meta.TransferSyntaxUID = source.file_meta.TransferSyntaxUID
        ds.PixelData = source.PixelData
        ds["PixelData"].VR = "OB"
        ds.BitsStored, ds.HighBit = 12, 11
        ds.save_as(path)
    volume = load(tmp_path)
    stored = source.pixel_array.astype(int)
    assert stored.max() > 255  # really 12-bit content
    np.testing.assert_array_equal(volume.hu, np.stack([stored - 1024] * 2))
    # an independent decoder (GDCM) differs by at most its IDCT rounding
    assert np.abs(_sitk_array(tmp_path).astype(int) - volume.hu).max() <= 1
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)


def test_truncated_compressed_slice_is_a_corrupt_file_error_naming_it(tmp_path):
    written = write_series(tmp_path, hu_phantom((3, 40, 48)), syntax=JPEG2000Lossless, shuffle=False)
    data = written.files[1].read_bytes()
    written.files[1].write_bytes(data[:-300])
    with pytest.warns(UserWarning, match="End of file"), \
            pytest.raises(CorruptFileError, match=r"slice0001.dcm: pixel data cannot be decoded \(JPEG 2000"):
        load(tmp_path)
