"""Run a function over chunks of a long list in forked processes, where forking is safe, while
this process does something else.

A forked process starts as a copy of this one, modules already imported, so it begins work at
once (a spawned one would first spend 0.3 s importing). Forking is only done where it is safe
and useful: on a platform with the fork start method (not macOS, whose system libraries may run
threads of their own), while no other Python thread runs (a fork copies the locks they hold,
never released in the child), and not in a process that multiprocessing started (the workers of
a pool, a batch or Dask: their siblings already use the CPUs, and daemonic ones may not have
children). Anywhere else the work is done here, serially, with the same result.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import sys
import threading
from collections.abc import Callable, Sequence
from typing import Any


def fork_count(requested: int, n_items: int, min_items_per_process: int, busy_here: bool = False) -> int:
    """How many processes to fork to share ``n_items``: at most ``requested``, one per
    ``min_items_per_process`` items and one per CPU this process may use, less the one it takes
    itself when it is ``busy_here`` meanwhile; 0 where forking is unsafe or gains nothing (a single
    process to fork while this one would only wait)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    wanted = min(requested, n_items // max(min_items_per_process, 1), cpus - busy_here)
    if wanted < (1 if busy_here else 2) or not _fork_is_safe():
        return 0
    return wanted


def _fork_is_safe() -> bool:
    """Whether this process may fork workers (see the module docstring)."""
    return (
        "fork" in multiprocessing.get_all_start_methods()
        and sys.platform != "darwin"
        and threading.active_count() == 1
        and multiprocessing.parent_process() is None
        and not multiprocessing.current_process().daemon
    )


def map_chunks(
    function: Callable[[Sequence], list],
    items: Sequence,
    processes: int,
    meanwhile: Callable[[], object] | None = None,
) -> list:
    """``function(chunk)`` of ``processes`` consecutive chunks of ``items``, concatenated in order,
    each chunk done in a forked process (call `fork_count` first: this forks whenever
    ``processes`` > 0), while this process runs ``meanwhile`` (first, when nothing is forked).

    A chunk whose process fails (an error in ``function``, a process killed or not started) is
    done here afterwards, so that its result, or the error it raises, is the one a serial
    ``function(items)`` gives for a function mapping item by item.
    """
    if processes <= 0:
        if meanwhile is not None:
            meanwhile()
        return function(items)
    bounds = [len(items) * i // processes for i in range(processes + 1)]
    chunks = [items[start:end] for start, end in zip(bounds[:-1], bounds[1:], strict=True)]
    # no garbage collection while the children share this process's memory: a full one writes to
    # every object, copying every shared page (0.05-0.07 s more of a scan's imports)
    collecting = gc.isenabled()
    gc.disable()
    children = [_start(function, chunk) for chunk in chunks]
    try:
        if meanwhile is not None:
            meanwhile()
        results = []
        for child, chunk in zip(children, chunks, strict=True):
            result = _result(child)
            results.extend(function(chunk) if result is None else result)
    finally:
        for child in children:
            _stop(child)
        if collecting:
            gc.enable()
    return results


def _start(function: Callable[[Sequence], list], chunk: Sequence) -> tuple[Any, Any] | None:
    """A forked daemonic process running ``function(chunk)`` with a pipe for its result, or None."""
    context = multiprocessing.get_context("fork")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_send_result, args=(function, chunk, sender), daemon=True)
    try:
        process.start()
    except OSError:  # no more processes allowed, out of memory, ...
        receiver.close()
        return None
    finally:
        sender.close()  # the child holds its own copy: end of file here once it is done
    return process, receiver


def _send_result(function: Callable[[Sequence], list], chunk: Sequence, sender) -> None:
    try:
        sender.send(function(chunk))
    except (Exception, KeyboardInterrupt):  # Ctrl-C reaches the parent as well
        return  # no result sent: the parent does this chunk itself and meets the error there


def _result(child) -> Any:
    """What a child sent, or None when it sent nothing (failed, killed or never started)."""
    if child is None:
        return None
    process, receiver = child
    try:
        return receiver.recv()
    except (EOFError, OSError):
        return None
    finally:
        process.join()  # it has sent its result or closed the pipe: it is ending


def _stop(child) -> None:
    """Close a child's pipe, ending the child first if it still runs (here an error stopped the wait)."""
    if child is None:
        return
    process, receiver = child
    receiver.close()
    if process.is_alive():
        process.terminate()
    process.join()
