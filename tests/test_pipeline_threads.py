"""`scan` shares some array work among `Settings.scan_threads` threads: the findings are the same."""

from __future__ import annotations

import threading

from cementseg.phantom import generate
from cementseg.pipeline import scan


def _without_run_details(findings) -> dict:
    document = findings.to_dict()
    del document["timing_s"], document["settings"]["scan_threads"]
    return document


def test_findings_do_not_depend_on_the_thread_count():
    volume = generate("ivc_linear_leak", seed=0, spacing_mm=(1.5, 1.5, 1.5)).volume
    running = threading.active_count()
    threaded = scan(volume)
    assert threading.active_count() == running  # none left behind: the next load may fork (io/forked.py)
    assert _without_run_details(threaded) == _without_run_details(scan(volume, scan_threads=1))
    assert threaded.leaks
