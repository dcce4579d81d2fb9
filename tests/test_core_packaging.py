"""The built package: console script, and the cli/ folder shipped as cementseg.cli only."""

import subprocess
import sys
import zipfile
from pathlib import Path

import cementseg

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_cli_under_the_package_and_no_top_level_cli(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(REPO_ROOT)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("cementseg-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "cementseg/cli/__init__.py" in names
    assert not [name for name in names if name.split("/")[0] == "cli"]
    entry_points = next(name for name in names if name.endswith("entry_points.txt"))
    assert "cementseg = cementseg.cli:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


def test_console_script_prints_version():
    script = Path(sys.executable).with_name("cementseg")
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True)
    assert cementseg.__version__ in result.stdout
