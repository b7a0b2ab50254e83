"""The step runner shared by ``build-demo`` and ``prepare``.

A step is a function ``step(ws, config, progress)`` that is idempotent (it checks what is
in the workspace and does only the missing work), optionally with a cheap
``pending(ws, config) -> list[str]`` saying what it would do; an empty list means nothing
to do and the step is skipped. Steps are named by dotted path, so a step's (heavy)
module is imported only when the step runs.

:func:`run_steps` takes the workspace's run lock (one run per workspace), keeps the live
status file (:mod:`core.pipeline.status`), feeds the progress of each step's loops into it,
and records each step's wall time in ``build_report.json`` (section ``timings``).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..errors import DataError
from ..fileio import read_json, write_json
from ..lazy import load
from ..progress import Progress, tqdm_progress
from ..workspace import Workspace
from .status import StatusWriter, read_status

REPORT = "build_report.json"
LOCK_FILE = ".pipeline.lock"


@dataclass(frozen=True)
class Step:
    """One step of a pipeline.

    Attributes
    ----------
    name : str
        Shared by both pipelines where the work is the same (pages wait for step names).
    target : str
        ``"module:function"``, called ``function(ws, config, progress)``.
    pending : str, optional
        ``"module:function"``, called ``function(ws, config) -> list[str]``: the work still to
        do, named for a person (empty: the step is skipped). Without it the step always runs.
    """

    name: str
    target: str
    pending: str | None = None


@contextlib.contextmanager
def workspace_lock(root: str | os.PathLike):
    """Hold the workspace's run lock, or raise :class:`DataError` when another run holds it."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / LOCK_FILE, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            status = read_status(root) or {}
            raise DataError(f"another run ({status.get('command', 'build')}, process {status.get('pid', '?')}) "
                            f"is working on {root}; wait for it to finish") from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def is_locked(root: str | os.PathLike) -> bool:
    """True while a run holds the workspace's lock."""
    path = Path(root) / LOCK_FILE
    if not path.exists():
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
    return False


def read_report(root: str | os.PathLike) -> dict:
    path = Path(root) / REPORT
    try:
        report = read_json(path) if path.exists() else {}
    except DataError:
        report = {}
    return report if isinstance(report, dict) else {}


def last_timings(root: str | os.PathLike, command: str) -> dict[str, float]:
    """Seconds per step of the last run of ``command`` on this workspace (``build_report.json``)."""
    entry = read_report(root).get("timings", {}).get(command, {})
    return {k: float(v) for k, v in entry.get("steps", {}).items() if isinstance(v, (int, float))}


def _record_timings(root: Path, command: str, entry: dict) -> None:
    report = read_report(root)  # re-read: steps (e.g. corpus) write their own sections meanwhile
    report.setdefault("timings", {})[command] = entry
    write_json(root / REPORT, report, indent=1, sort_keys=True)


def status_progress(writer: StatusWriter, inner: Progress) -> Progress:
    """A progress wrapper that also feeds the status file: the step's own loop and the loop inside it."""
    depth = [0]

    def progress(iterable, total=None, desc=""):
        if total is None and hasattr(iterable, "__len__"):
            total = len(iterable)
        level = depth[0]

        def counted():
            depth[0] += 1
            try:
                writer.count(level, 0, total, desc)
                n = 0
                for item in inner(iterable, total=total, desc=desc):
                    yield item
                    n += 1
                    writer.count(level, n, total, desc)
            finally:
                depth[0] -= 1

        return counted()

    return progress


def run_steps(ws: Workspace, steps: list[Step], config, *, command: str, resume: str,
              expected: Callable[[str], float | None] = lambda name: None,
              progress: Progress = tqdm_progress, log: Callable[[str], None] = print,
              context: dict | None = None) -> dict:
    """Run ``steps`` in order on ``ws``, skipping those with nothing to do.

    Parameters
    ----------
    ws : Workspace
    steps : list of Step
    config : object
        Passed to every step and ``pending`` function (e.g. ``DemoConfig``, ``PrepareConfig``).
    command : str
        ``build-demo`` or ``prepare``: names the run in the status file and ``build_report.json``.
    resume : str
        The command line that resumes this run (shown when it fails or stops).
    expected : callable
        ``expected(step name) -> seconds or None``, a typical duration, for the time left
        while no earlier run of ``command`` was timed here.
    progress, log : callables
    context : dict, optional
        Extra facts recorded with the timings (size, workers, ...).

    Returns
    -------
    dict
        ``steps``: name -> ``{"state": "done" | "skipped", "seconds", "pending": [...]}``.

    Raises
    ------
    DataError
        If another run holds the workspace (nothing is done).
    """
    root = ws.root
    with workspace_lock(root):
        before = last_timings(root, command)
        writer = StatusWriter(root, command, resume, [(s.name, before.get(s.name) or expected(s.name)) for s in steps])
        wrapped = status_progress(writer, progress)
        outcome: dict[str, dict] = {}
        started = time.perf_counter()
        with writer:
            for step in steps:
                pending = load(step.pending)(ws, config) if step.pending else None
                if pending is not None and not pending:
                    writer.end_step(step.name, "skipped", 0.0)
                    outcome[step.name] = {"state": "skipped", "seconds": 0.0, "pending": []}
                    log(f"[{command}] {step.name}: up to date")
                    continue
                if pending:
                    shown = ", ".join(pending[:3]) + (f" and {len(pending) - 3} more" if len(pending) > 3 else "")
                    log(f"[{command}] {step.name}: {shown}")
                writer.start_step(step.name)
                step_started = time.perf_counter()
                try:
                    load(step.target)(ws, config, wrapped)
                except BaseException as err:
                    writer.end_step(step.name, "failed")
                    writer.finish("failed", f"{type(err).__name__}: {err}" if not str(err) else str(err))
                    raise
                seconds = time.perf_counter() - step_started
                writer.end_step(step.name, "done", seconds)
                outcome[step.name] = {"state": "done", "seconds": round(seconds, 1), "pending": pending or []}
                log(f"[{command}] {step.name}: {seconds:.1f} s")
            writer.finish("done")
        ran = {name: o["seconds"] for name, o in outcome.items() if o["state"] == "done"}
        if ran:
            _record_timings(root, command, {
                "steps": {**before, **ran}, "last_run": {name: o["seconds"] for name, o in outcome.items()},
                "total_seconds": round(time.perf_counter() - started, 1),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **(context or {})})
        return {"steps": outcome}
