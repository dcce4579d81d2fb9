"""find_series and the series choice: folders, zips, DICOMDIR, junk, localizers, non-CT."""

import zipfile

import numpy as np
import pytest
import SimpleITK as sitk
from dicom_factory import hu_phantom, write_enhanced, write_junk, write_series
from pydicom.fileset import FileSet

from cementseg.errors import CorruptFileError, InputError, NoSeriesError, NotCTError, SeriesSelectionError
from cementseg.io import choose_series, find_series, load
from cementseg.volume import CTVolume


@pytest.fixture
def mixed_folder(tmp_path):
    """A study folder: thin axial CT, thick axial CT, a derived reformat, a localizer, a PET, junk."""
    study = "1.2.3.4"
    series = {
        "thin": write_series(tmp_path / "a", hu_phantom((6, 8, 8), seed=1), spacing_mm=(1.0, 0.7, 0.7),
                             study_uid=study),
        "thick": write_series(tmp_path / "b", hu_phantom((8, 8, 8), seed=2), spacing_mm=(3.0, 0.7, 0.7),
                              study_uid=study),
        "derived": write_series(tmp_path / "c", hu_phantom((9, 8, 8), seed=3), spacing_mm=(0.5, 0.7, 0.7),
                                image_type=("DERIVED", "SECONDARY", "AXIAL"), study_uid=study),
        "localizer": write_series(tmp_path / "d", hu_phantom((1, 8, 8), seed=4), orientation=(1, 0, 0, 0, 0, -1),
                                  image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"), study_uid=study),
        "pet": write_series(tmp_path / "e", hu_phantom((12, 8, 8), seed=5, low=0, high=3000), modality="PT",
                            spacing_mm=(0.4, 0.7, 0.7), study_uid=study),
    }
    junk = write_junk(tmp_path / "junk", truncate_from=series["thick"].files[0])
    return tmp_path, series, junk


def test_every_series_is_found_with_its_header_fields(mixed_folder):
    folder, series, _ = mixed_folder
    scan = find_series(folder)
    assert {r.series_uid for r in scan} == {s.series_uid for s in series.values()}
    thin = scan.by_uid(series["thin"].series_uid)
    assert (thin.modality, thin.n_instances, thin.rows, thin.columns) == ("CT", 6, 8, 8)
    assert thin.image_type == ("ORIGINAL", "PRIMARY", "AXIAL")
    assert thin.pixel_spacing_mm == (0.7, 0.7) and thin.slice_thickness_mm == 1.0
    assert (thin.kernel, thin.acquisition_date, thin.study_uid) == ("B30f", "20240102", "1.2.3.4")
    assert sorted(thin.files) == sorted(str(f) for f in series["thin"].files)


def test_junk_and_truncated_files_are_skipped_with_reasons(mixed_folder):
    folder, series, junk = mixed_folder
    skipped = dict(find_series(folder).skipped)
    assert skipped[str(junk["text"])] == "not a DICOM file"
    assert skipped[str(junk["empty"])] == "not a DICOM file"
    assert skipped[str(junk["no_pixels"])].startswith("not an image")
    assert skipped[str(junk["truncated"])].startswith("truncated: pixel data has")
    assert skipped[str(junk["truncated_header"])].startswith("truncated or incomplete header")


def test_series_with_a_truncated_file_is_refused_naming_it(mixed_folder):
    folder, series, junk = mixed_folder
    with pytest.raises(CorruptFileError, match="truncated.dcm: truncated"):
        load(folder, series=series["thick"].series_uid)


def test_best_series_is_thin_original_axial_ct(mixed_folder):
    folder, series, _ = mixed_folder
    record, because = choose_series(find_series(folder))
    assert record.series_uid == series["thin"].series_uid
    assert "6 slices every 1.00 mm" in because
    volume = load(folder)
    np.testing.assert_array_equal(volume.hu, series["thin"].hu)
    assert volume.meta["chosen_because"] == because
    assert volume.meta["series_uid"] == series["thin"].series_uid


def test_named_series_is_loaded_and_unknown_name_refused(mixed_folder):
    folder, series, _ = mixed_folder
    volume = load(folder, series=series["derived"].series_uid)
    np.testing.assert_array_equal(volume.hu, series["derived"].hu)
    assert "chosen_because" not in volume.meta
    with pytest.raises(SeriesSelectionError, match="series 9.9.9 not found"):
        load(folder, series="9.9.9")


def test_non_ct_is_refused_unless_forced(mixed_folder):
    folder, series, _ = mixed_folder
    with pytest.raises(NotCTError, match="modality PT, not CT"):
        load(folder, series=series["pet"].series_uid)
    volume = load(folder, series=series["pet"].series_uid, force=True)
    np.testing.assert_array_equal(volume.hu, series["pet"].hu)
    only_pet = find_series(series["pet"].files)
    with pytest.raises(NotCTError, match="no CT series"):
        choose_series(only_pet)


def test_metadata_is_deidentified(mixed_folder):
    folder, series, _ = mixed_folder
    meta = load(folder).meta
    text = repr(meta)
    assert "Test^Patient" not in text and "ID12345" not in text
    assert {"series_uid", "study_uid", "modality", "kernel", "manufacturer", "model", "slice_thickness_mm",
            "contrast_agent", "acquisition_date", "source", "chosen_because"} <= set(meta)


def test_zip_archive_loads_like_the_folder(tmp_path):
    written = write_series(tmp_path / "series", hu_phantom((4, 6, 6), seed=12))
    archive = tmp_path / "study.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        for path in written.files:
            handle.write(path, f"DICOM/{path.name}")
        handle.writestr("notes.txt", "hello")
    volume = load(archive)
    np.testing.assert_array_equal(volume.hu, written.hu)
    np.testing.assert_allclose(volume.affine, written.expected_affine, atol=1e-6)
    assert [reason for _, reason in find_series(archive).skipped] == ["not a DICOM file"]


def test_dicomdir_is_followed(tmp_path):
    written = write_series(tmp_path / "in", hu_phantom((3, 6, 6), seed=13))
    fileset = FileSet()
    for path in written.files:
        fileset.add(path)
    fileset.write(tmp_path / "media")
    volume = load(tmp_path / "media" / "DICOMDIR")
    np.testing.assert_array_equal(volume.hu, written.hu)
    assert len(find_series(tmp_path / "media")[0].files) == 3  # walking the folder finds the same files


def test_list_of_files_and_single_enhanced_file(tmp_path):
    written = write_series(tmp_path / "classic", hu_phantom((5, 6, 6), seed=14), shuffle=False)
    volume = load(written.files[1:4])
    np.testing.assert_array_equal(volume.hu, written.hu[1:4])
    enhanced = write_enhanced(tmp_path / "mf" / "enhanced.dcm", hu_phantom((4, 6, 6), seed=15))
    assert find_series(enhanced.files[0])[0].source == "enhanced_dicom"


def test_nothing_loadable_and_missing_paths_are_input_errors(tmp_path):
    write_junk(tmp_path)
    with pytest.raises(NoSeriesError, match="no image series found; 3 file"):
        load(tmp_path)
    with pytest.raises(InputError, match="no such file or folder"):
        load(tmp_path / "absent")


def test_dicom_ct_is_preferred_to_an_image_file_with_no_modality(tmp_path):
    written = write_series(tmp_path / "dicom", hu_phantom((4, 6, 6), seed=16), spacing_mm=(3.0, 0.7, 0.7))
    label_map = CTVolume(hu=np.zeros((10, 6, 6), np.int16), spacing_mm=(1.0, 0.7, 0.7), origin_lps_mm=(0, 0, 0))
    sitk.WriteImage(label_map.to_sitk(), str(tmp_path / "segmentation.nii.gz"))
    record, because = choose_series(find_series(tmp_path))
    assert record.series_uid == written.series_uid
    assert "best of 2 series" in because
    only_files = choose_series(find_series(tmp_path / "segmentation.nii.gz"))[0]
    assert only_files.source == "image_file"
