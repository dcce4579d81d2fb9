"""The batch on a real dask.distributed cluster (a scheduler and two workers on loopback) gives
exactly the results of the local process-pool run."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import distributed
import pytest
from batch_scene import make_scene, shared_local_batch, without_timing

from cementseg.batch import run_batch

DASK = Path(sys.executable).with_name("dask")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """A `dask scheduler` and two single-thread `dask worker` processes on 127.0.0.1."""
    scratch = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    processes = [subprocess.Popen([str(DASK), "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                                   "--no-dashboard", "--no-show"], stdout=subprocess.DEVNULL,
                                  stderr=open(scratch / "scheduler.log", "wb"))]
    try:
        for n in range(2):
            processes.append(subprocess.Popen(
                [str(DASK), "worker", address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1",
                 "--no-dashboard", "--local-directory", str(scratch / f"worker{n}"), "--memory-limit", "3GiB"],
                stdout=subprocess.DEVNULL, stderr=open(scratch / f"worker{n}.log", "wb")))
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=90)
            assert len(client.scheduler_info()["workers"]) == 2
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
        deadline = time.monotonic() + 20
        for process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _findings(result) -> dict[str, dict]:
    return {row.series_uid: without_timing(json.loads((result.out / row.result_dir / "findings.json").read_text()))
            for row in result.rows if row.status == "ok"}


def _rows(result) -> dict:
    return {row.series_uid: replace(row, runtime_s=0.0) for row in result.rows}


def test_dask_batch_equals_local_batch(dask_cluster, tmp_path, tmp_path_factory):
    scene, local = shared_local_batch(tmp_path_factory)  # 2 local worker processes
    on_dask = run_batch(scene.root, tmp_path / "dask", scheduler=dask_cluster)

    assert _rows(on_dask) == _rows(local)
    assert {uid: row.status for uid, row in _rows(local).items()} == {
        **dict.fromkeys(scene.ct_series, "ok"), scene.nifti_key: "ok", scene.broken_uid: "failed",
        scene.mr_uid: "not_scanned"}
    assert _findings(on_dask) == _findings(local)
    assert len(_findings(local)) == 3
    local_csv = (local.out / "summary.csv").read_text().splitlines()
    dask_csv = (tmp_path / "dask" / "summary.csv").read_text().splitlines()
    assert local_csv[0] == dask_csv[0] and len(local_csv) == len(dask_csv) == 6


def test_dask_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    from cementseg.batch import runner
    from cementseg.errors import InputError

    monkeypatch.setattr(runner, "DASK_CONNECT_TIMEOUT_S", 2)
    scene = make_scene(tmp_path / "incoming", with_failures=False)
    with pytest.raises(InputError, match="cannot reach the Dask scheduler"):
        run_batch(scene.root, tmp_path / "out", scheduler=f"tcp://127.0.0.1:{_free_port()}")
