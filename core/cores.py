"""How many processes to run side by side: the cores this process may use, less those others keep busy."""

from __future__ import annotations

import os


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity where the platform says)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def idle_cores() -> int:
    """Worker processes for a pool: :func:`available_cores` less the cores other processes keep busy.

    Busy cores are the 1-minute load average (a core counts from 0.75 busy), so on an idle
    machine every core gets a worker, and on one that others load a pool does not add
    processes that would only wait (each worker also pays its imports).
    """
    cores = available_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # not available on this platform
        busy = 0.0
    return max(1, min(cores, cores - int(busy + 0.25)))
