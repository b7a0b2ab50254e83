"""How many processes to run side by side: the cores this process may use, less those others keep busy."""

from __future__ import annotations

import os
import time

#: Seconds over which busy cores are sampled (``/proc/stat``).
SAMPLE_SECONDS = 0.5
_PROC_STAT = "/proc/stat"


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_times(path: str = _PROC_STAT) -> tuple[int, int] | None:
    """(busy, total) jiffies of all cores since boot, or None where ``/proc/stat`` is not readable."""
    try:
        with open(path) as f:
            fields = f.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(x) for x in fields[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    total = sum(ticks[:8])  # guest time is already counted in user time
    return total - idle, total


def busy_cores(sample_seconds: float = SAMPLE_SECONDS, path: str = _PROC_STAT) -> float:
    """Cores the machine keeps busy now: sampled over ``sample_seconds``, else the 1-minute load.

    The sample is taken while this process waits, so it counts the others' work only. The 1-minute
    load average (the fallback) would also count what this process did in the last minute: a
    build's previous step would make its next step run serially.
    """
    before = _cpu_times(path)
    if before is not None:
        time.sleep(sample_seconds)
        after = _cpu_times(path)
        if after is not None and after[1] > before[1]:
            return (after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1)
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        return 0.0


def idle_cores() -> int:
    """Worker processes for a pool: :func:`available_cores` less the cores others keep busy.

    A core counts as busy from 0.75 (:func:`busy_cores`), so on an idle machine every core gets a
    worker, and on one that others load a pool does not add processes that would only wait (each
    worker also pays its imports).
    """
    cores = available_cores()
    return max(1, min(cores, cores - int(busy_cores() + 0.25)))


def pool_workers(asked: int, jobs: int) -> int:
    """Processes for ``jobs`` independent jobs: ``asked`` (0: the :func:`idle_cores`), never more than the jobs."""
    return max(1, min(jobs, asked or idle_cores()))


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS")


def hold_threads(threads: int) -> None:
    """Worker start: hold BLAS, OpenMP (torch) and numba to ``threads`` threads.

    The variables hold the libraries that load later. A spawned worker first imports the parent's
    main module, which may have loaded torch or BLAS already (a script that imports ``core.evaluation``
    at its top): those are held at run time. Left at every core, two workers of two threads each on
    two cores took 80 s where 41 s sufficed (the default demo's evaluation).
    """
    import sys

    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(threads)
    if "torch" in sys.modules:
        sys.modules["torch"].set_num_threads(threads)
    if "numpy" in sys.modules:  # BLAS pools already loaded (threadpoolctl comes with scikit-learn)
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads)


def run_in_processes(fn, jobs: list[tuple], workers: int, progress=None, desc: str = "", threads: int = 1) -> list:
    """``[fn(*job) for job in jobs]``, with ``workers`` spawned processes side by side (1: here, in order).

    Each worker holds its numeric libraries to ``threads`` threads, so ``workers`` one-thread processes
    keep as many cores busy as one process of ``workers`` threads, without the intra-op threads of
    small workloads waiting on each other. ``fn`` must be importable (a module-level function) and its
    jobs and results picklable. The first exception is raised once the jobs under way have finished;
    jobs not started are cancelled.

    Returns
    -------
    list
        The results, in the order of ``jobs``.
    """
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from multiprocessing import get_context

    from .progress import silent

    progress = progress or silent
    done = iter(progress(range(len(jobs)), total=len(jobs), desc=desc))
    next(done, None)  # a progress wrapper counts an item once the next one is asked for
    if workers <= 1 or len(jobs) <= 1:
        results = []
        for job in jobs:
            results.append(fn(*job))
            next(done, None)
        return results
    results = [None] * len(jobs)
    with ProcessPoolExecutor(min(workers, len(jobs)), mp_context=get_context("spawn"), initializer=hold_threads,
                             initargs=(threads,)) as pool:
        futures = {pool.submit(fn, *job): i for i, job in enumerate(jobs)}
        remaining = set(futures)
        try:
            while remaining:
                # each job is counted as it finishes (a build's progress moves with it), its failure raised then
                finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
                for future in finished:
                    results[futures[future]] = future.result()
                    next(done, None)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results
