"""Headers read in forked processes: the same records, skipped files and errors as read serially,
and no fork where it is unsafe (daemonic process, other threads, small folders)."""

import gc
import multiprocessing
import os
import sys
import threading
import zipfile
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from dicom_factory import hu_phantom, write_enhanced, write_junk, write_series

from cementseg.errors import CorruptFileError
from cementseg.io import discovery, find_series, forked, load
from cementseg.settings import Settings


def _scan_as_plain(scan) -> tuple:
    """A find_series result as plain values (numpy arrays as lists) that compare with ==."""

    def plain(value):
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, list | tuple):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if hasattr(value, "__dataclass_fields__"):
            return {k: plain(v) for k, v in vars(value).items()}
        return value

    return plain(scan.series), plain(scan.skipped), scan.source


@pytest.fixture
def study(tmp_path):
    """A folder and a zip: three series (one zipped), an enhanced CT, junk and a damaged file."""
    study = tmp_path / "study"
    first = write_series(study / "a", hu_phantom((7, 8, 8), seed=1))
    write_series(study / "b", hu_phantom((5, 8, 8), seed=2), spacing_mm=(3.0, 0.7, 0.7))
    pet = write_series(tmp_path / "c", hu_phantom((6, 8, 8), seed=3), modality="PT")
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as archive:
        for file in pet.files:
            archive.write(file, f"c/{file.name}")
    write_enhanced(study / "d" / "enhanced.dcm", hu_phantom((4, 8, 8), seed=4))
    write_junk(study / "junk", truncate_from=first.files[0])
    return [study, tmp_path / "c.zip"]


@pytest.fixture
def fork_always(monkeypatch):
    """Fork for every few files, whatever the threads of the test runner."""
    monkeypatch.setattr(discovery, "MIN_FILES_PER_PROCESS", 2)
    monkeypatch.setattr(forked, "_fork_is_safe", lambda: True)
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda pid: set(range(8)), raising=False)


@pytest.mark.parametrize(("processes", "busy"), [(2, False), (3, False), (5, False), (1, True), (2, True)])
def test_forked_header_reading_gives_the_serial_records(study, fork_always, monkeypatch, processes, busy):
    serial = find_series(study, processes=0)
    assert len(serial.series) == 4 and len(serial.skipped) == 5
    read_here = []  # chunks read in this process: none when every forked process sent its records
    read = discovery._read_headers
    monkeypatch.setattr(discovery, "_read_headers", lambda refs: read_here.append(refs) or read(refs))
    work = []  # what this process did meanwhile
    found = find_series(study, processes=processes, meanwhile=(lambda: work.append(1)) if busy else None)
    assert _scan_as_plain(found) == _scan_as_plain(serial)
    assert read_here == [] and work == ([1] if busy else [])


def test_forked_load_gives_the_serial_volume_and_errors(study, fork_always):
    uid = find_series(study[0] / "b").series[0].series_uid
    volume = load(study, series=uid, settings=Settings(header_processes=3))
    reference = load(study, series=uid, settings=Settings(header_processes=0))
    np.testing.assert_array_equal(volume.hu, reference.hu)
    assert volume.meta == reference.meta and volume.warnings == reference.warnings
    damaged = find_series(study[0] / "a").series[0].series_uid  # junk/ holds a truncated copy of a file
    for processes in (0, 4):
        with pytest.raises(CorruptFileError, match="1 damaged file.*truncated.dcm: truncated: pixel data"):
            load(study, series=damaged, settings=Settings(header_processes=processes))


def _pids(items) -> list:
    return [(item, os.getpid()) for item in items]


def test_chunks_are_read_in_forked_processes_in_order_while_this_one_does_its_own_work():
    calls = []
    results = forked.map_chunks(_pids, list(range(10)), 3, meanwhile=lambda: calls.append(os.getpid()))
    assert [item for item, _ in results] == list(range(10))
    pids = [pid for _, pid in results]
    assert len(set(pids)) == 3 and os.getpid() not in pids
    assert calls == [os.getpid()]
    here = forked.map_chunks(_pids, [1, 2], 0, meanwhile=lambda: calls.append(0))
    assert here == [(1, os.getpid()), (2, os.getpid())] and calls == [os.getpid(), 0]


def test_the_collector_pauses_only_while_children_share_this_process():
    states = []
    assert gc.isenabled()
    forked.map_chunks(_pids, list(range(4)), 2, meanwhile=lambda: states.append(gc.isenabled()))
    assert states == [False] and gc.isenabled()
    gc.disable()
    try:
        forked.map_chunks(_pids, list(range(4)), 2)
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()


def test_a_failing_or_killed_child_leaves_its_chunk_to_this_process():
    parent = os.getpid()

    def dies_in_child(items):
        if os.getpid() != parent:
            os._exit(3)
        return list(items)

    assert forked.map_chunks(dies_in_child, list(range(9)), 3) == list(range(9))

    def fails_on_seven(items):
        if 7 in items:
            raise ValueError("item 7 is unreadable")
        return list(items)

    with pytest.raises(ValueError, match="item 7 is unreadable"):
        forked.map_chunks(fails_on_seven, list(range(9)), 3)


def test_one_fork_per_cpu_and_per_share_of_items_less_this_process_when_it_is_busy(monkeypatch):
    monkeypatch.setattr(forked, "_fork_is_safe", lambda: True)
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert forked.fork_count(4, 10_000, 100) == 2
    assert forked.fork_count(4, 10_000, 100, busy_here=True) == 1
    assert forked.fork_count(4, 150, 100, busy_here=True) == 1  # a small folder read while this one works
    assert forked.fork_count(4, 199, 100) == 0  # one process to fork while this one waits: no gain
    assert forked.fork_count(4, 99, 100, busy_here=True) == 0
    assert forked.fork_count(0, 10_000, 100, busy_here=True) == 0
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert forked.fork_count(4, 10_000, 100, busy_here=True) == 0


def test_no_fork_while_another_thread_runs():
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert forked.fork_count(4, 10_000, 1, busy_here=True) == 0
    finally:
        stop.set()
        thread.join()


@pytest.mark.skipif(sys.platform != "linux", reason="forking is used on Linux only")
def test_a_plain_process_on_linux_forks(monkeypatch):
    # as a plain `cementseg scan` process: no other thread, not started by multiprocessing (the
    # test runner's own workers and threads are not what is tested here)
    monkeypatch.setattr(forked.threading, "active_count", lambda: 1)
    monkeypatch.setattr(forked.multiprocessing, "parent_process", lambda: None)
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert forked.fork_count(4, 10_000, 1, busy_here=True) == 1
    assert forked.fork_count(4, 10_000, 1, busy_here=False) == 2


def test_no_fork_in_a_worker_process_daemonic_or_not():
    context = multiprocessing.get_context("fork")
    with context.Pool(1) as pool:  # pool workers are daemonic
        assert pool.apply(forked.fork_count, (4, 10_000, 1, True)) == 0
    with ProcessPoolExecutor(1, mp_context=context) as pool:  # as the batch workers
        assert pool.submit(forked.fork_count, 4, 10_000, 1, True).result() == 0
