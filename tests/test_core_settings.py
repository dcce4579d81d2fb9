"""Settings validate their values and hash stably."""

import pytest

from cementseg.errors import SettingsError
from cementseg.settings import Settings


def test_replace_changes_one_value_and_the_digest():
    base = Settings()
    changed = base.replace(min_candidate_mm3=base.min_candidate_mm3 + 1)
    assert changed.min_candidate_mm3 == base.min_candidate_mm3 + 1
    assert changed.digest() != base.digest()
    assert Settings().digest() == base.digest()


def test_unknown_setting_is_refused_by_name():
    with pytest.raises(SettingsError, match="no_such_knob"):
        Settings().replace(no_such_knob=1)


def test_grow_threshold_above_seed_is_refused():
    with pytest.raises(SettingsError, match="grow_hu"):
        Settings(seed_hu=500.0, grow_hu=900.0)


def test_bad_severity_is_refused():
    with pytest.raises(SettingsError, match="spinal_canal"):
        Settings(severity={"spinal_canal": "catastrophic"})


def test_the_digest_leaves_out_how_the_work_is_shared():
    """Processes and threads never change a result: a batch resumes whatever they are."""
    base = Settings()
    assert base.replace(header_processes=0, scan_threads=1).digest() == base.digest()
