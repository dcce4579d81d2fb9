"""`cementseg info`: the series table, the chosen series, skipped files, warnings, exit codes."""

from cementseg.cli import main
from click.testing import CliRunner
from dicom_factory import hu_phantom, write_junk, write_series


def test_info_lists_series_marks_the_choice_and_reports_skipped_files(tmp_path):
    thin = write_series(tmp_path / "thin", hu_phantom((5, 6, 6)), spacing_mm=(1.0, 0.7, 0.7))
    thick = write_series(tmp_path / "thick", hu_phantom((4, 6, 6)), spacing_mm=(5.0, 0.7, 0.7))
    scout = write_series(tmp_path / "scout", hu_phantom((1, 6, 6)), image_type=("ORIGINAL", "PRIMARY", "LOCALIZER"))
    junk = write_junk(tmp_path / "junk")
    result = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[1] if line.startswith("*") else line.split()[0]: line for line in result.output.splitlines()
            if line.strip()}
    assert rows[thin.series_uid].startswith("*")
    assert not rows[thick.series_uid].startswith("*") and not rows[scout.series_uid].startswith("*")
    assert "LOCALIZER" in rows[scout.series_uid]
    assert f"chosen: {thin.series_uid} (CT, ORIGINAL, axial, 5 slices every 1.00 mm; best of 3 series" in result.output
    assert f"{junk['text']}: not a DICOM file" in result.output
    assert "skipped 3 file(s)" in result.output


def test_info_prints_geometry_warnings_and_refusals_of_the_chosen_series(tmp_path):
    write_series(tmp_path / "tilt", hu_phantom((3, 6, 6)), shear_mm_per_slice=(0.0, 0.5))
    result = CliRunner().invoke(main, ["info", str(tmp_path / "tilt")])
    assert result.exit_code == 0
    assert "warning: series" in result.output and "gantry tilt" in result.output
    write_series(tmp_path / "gap", hu_phantom((4, 6, 6)), z_positions_mm=[0, 1, 2, 5])
    result = CliRunner().invoke(main, ["info", str(tmp_path / "gap")])
    assert "error (load would refuse)" in result.output and "gap of 3.00 mm" in result.output


def test_info_on_a_bad_path_exits_3_with_one_line(tmp_path):
    result = CliRunner().invoke(main, ["info", str(tmp_path / "absent")])
    assert result.exit_code == 3
    lines = result.output.strip().splitlines()
    assert lines == [f"cementseg: error: {tmp_path / 'absent'}: no such file or folder"]


def test_info_on_a_folder_without_images_exits_3(tmp_path):
    write_junk(tmp_path)
    result = CliRunner().invoke(main, ["info", str(tmp_path)])
    assert result.exit_code == 3
    assert "no image series found" in result.output
