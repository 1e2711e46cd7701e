"""Independent fits of a stage in worker processes: the same results whatever the number of workers.

``map_fits(function, items)`` returns ``[function(item) for item in items]``, computed by ``workers`` processes that
live for the whole stage (spawned on the first map, reused by later maps of the same process, gone at its exit).
A result never depends on where or beside what it ran:

- every call runs on one intra-op torch thread, in a worker and in this process alike, so a fit's float reductions
  run in the same order wherever it runs (``dynamics.single_cpu_thread`` says why one thread is also the fast choice
  for the experiments' small tensors);
- before every call the global random state (torch, numpy, random) is seeded from the call's index alone, so code
  that draws from it (a layer's default initialisation, a shuffling loader) draws the same numbers in any schedule;
  in this process the caller's random state is restored afterwards. Items should still carry their own seeds
  (``seeds.generator_for``); the index seeding only makes stray global draws repeatable;
- workers run with W&B disabled: a fit returns what the stage logs, and the stage logs it in item order.

The number of workers is ``workers`` if given, else the stage's devices (``trainer.devices`` > 1: one worker per
device, :func:`use_devices`), else the environment variable ``HEBBDAM_WORKERS``, else the cores this process may
use; never more than there are items. Several devices are used by spreading a stage's fits over them, never by
splitting one fit: worker i runs its fits on device i alone (``cuda:i``; a CPU "device" is a process), so each fit
computes exactly what it computes on one device and the record is byte-identical to a one-device run. With one
worker (or one item) everything runs here, with no process started. Workers are spawned, not forked (a forked child
of a process that has used OpenMP can hang), so ``function`` must be a module-level function and items and results
must pickle.

A worker that raises stops the whole map: the others are terminated and the error is raised here, naming the
item's index. Ctrl-C reaches only this process (workers ignore SIGINT); it terminates the workers and propagates.
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import random
import signal
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch

from hebbdam.errors import HebbdamError
from hebbdam.logs import quiet_libraries

Item = TypeVar("Item")
Result = TypeVar("Result")

WORKERS_VARIABLE = "HEBBDAM_WORKERS"
INDEX_SEED = 0x5EED  # the global random state before call i is seeded with INDEX_SEED + i
STAGE_DEVICES = {"count": 1, "accelerator": "cpu"}  # set once per stage by use_devices (trainer.devices)


def use_devices(count: int, accelerator: str = "cpu") -> None:
    """This stage runs on ``count`` devices: its maps get one stage-long worker per device (``count`` 1: as before)."""
    STAGE_DEVICES.update(count=max(1, int(count)), accelerator=accelerator)


def worker_count(workers: int | None, items: int) -> int:
    """The number of processes for ``items`` calls: ``workers``, else $HEBBDAM_WORKERS, else the usable cores."""
    if workers is None and STAGE_DEVICES["count"] > 1:
        workers = STAGE_DEVICES["count"]
    if workers is None:
        text = os.environ.get(WORKERS_VARIABLE)
        if text is None:
            workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        elif text.isdigit() and int(text) >= 1:
            workers = int(text)
        else:
            raise HebbdamError(f"{WORKERS_VARIABLE}={text!r}: expected a positive integer (the number of processes)")
    if workers < 1:
        raise HebbdamError(f"map_fits: workers={workers}: expected a positive integer")
    return max(1, min(workers, items))


def map_fits(function: Callable[[Item], Result], items: Sequence[Item], workers: int | None = None) -> list[Result]:
    """``[function(item) for item in items]`` in item order, on ``worker_count(workers, len(items))`` processes."""
    count = worker_count(workers, len(items))
    if count == 1:
        with caller_state_kept():
            return [call(function, index, item) for index, item in enumerate(items)]
    pool = worker_pool(count)
    try:
        futures = [pool.submit(call, function, index, item) for index, item in enumerate(items)]
        results = []
        for index, future in enumerate(futures):
            try:
                results.append(future.result())
            except HebbdamError as error:
                raise HebbdamError(f"fit {index} of {len(items)}: {error}") from error
        return results
    except BaseException:
        terminate(POOLS.pop(count))
        raise


POOLS: dict[int, ProcessPoolExecutor] = {}  # worker count → its pool, alive until the stage's process exits


def worker_pool(count: int) -> ProcessPoolExecutor:
    """The stage's pool of ``count`` workers, spawned on first use and reused by every later map of the stage (a
    spawned worker costs seconds of CPU to import torch; each call reseeds and re-pins it, so reuse changes no
    result)."""
    if count not in POOLS:
        if not POOLS:
            atexit.register(close_pools)
        context = multiprocessing.get_context("spawn")
        POOLS[count] = ProcessPoolExecutor(
            max_workers=count,
            mp_context=context,
            initializer=start_worker,
            initargs=(dict(STAGE_DEVICES), count),
        )
    return POOLS[count]


def close_pools() -> None:
    """Shut every pool down (at exit): idle workers leave at once."""
    while POOLS:
        POOLS.popitem()[1].shutdown(wait=True, cancel_futures=True)


def call(function: Callable[[Item], Result], index: int, item: Item) -> Result:
    """One fit: the global random state seeded from ``index``, one intra-op thread."""
    seed = INDEX_SEED + index
    torch.manual_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    torch.set_num_threads(1)
    return function(item)


def start_worker(devices: dict | None = None, count: int = 1) -> None:
    """A worker: no SIGINT (the parent handles Ctrl-C and terminates it), no W&B, no library banners, one thread;
    with several GPUs, pinned to its own (worker i of the pool → ``cuda:i``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if devices is not None:
        STAGE_DEVICES.update(devices)
        if devices["accelerator"] in ("gpu", "cuda", "auto") and torch.cuda.is_available():
            identity = multiprocessing.current_process()._identity  # (n,): the n-th process this pool started
            torch.cuda.set_device(((identity[0] - 1) if identity else 0) % min(count, torch.cuda.device_count()))
    os.environ["WANDB_MODE"] = "disabled"
    quiet_libraries()  # a spawned worker starts with Lightning's banners on, as a fresh interpreter does
    torch.set_num_threads(1)


@contextmanager
def caller_state_kept() -> Iterator[None]:
    """Run calls in this process and give the caller back its thread count and global random state."""
    threads = torch.get_num_threads()
    states = torch.get_rng_state(), np.random.get_state(), random.getstate()
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def terminate(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now (``shutdown`` alone waits for running fits; Python 3.14 has ``terminate_workers``)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
