"""The live status of a pipeline run (``build_status.json`` in the workspace) and what pages wait for.

The running pipeline writes the file (atomically, at most twice a second, and every few
seconds as a heartbeat); the app only reads it. Layout::

    {"format": 1, "command": "build-demo" | "prepare", "resume": "python -m core ...",
     "pid": 1234, "host": "...", "state": "starting" | "running" | "done" | "failed",
     "started": epoch s, "updated": epoch s, "finished": epoch s or null, "error": str or null,
     "steps": [{"name", "state": "pending" | "running" | "done" | "skipped" | "failed",
                "seconds", "expected_seconds"}],
     "current": {"step", "count", "total", "desc", "detail", "step_started"} or null}

A step whose state is ``done`` or ``skipped`` (nothing to do) is finished. Each page needs
the steps of :data:`PAGE_STEPS`; while a run is under way, a page whose steps are not all
finished shows the progress and "waiting for step X" instead of its content.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ..fileio import write_json

STATUS_FILE = "build_status.json"
FORMAT = 1
FINISHED = ("done", "skipped")
#: Seconds without a heartbeat after which a run on another host counts as gone.
STALE_SECONDS = 60.0
HEARTBEAT_SECONDS = 5.0

#: Page (file stem under ``pages/``) -> the steps it needs (names shared by ``build-demo`` and
#: ``prepare``; a step a run does not have is not waited for). A page not listed waits for the whole run.
PAGE_STEPS: dict[str, tuple[str, ...]] = {
    "home": ("corpus",),
    "map": ("corpus", "features", "models", "embed", "maps"),
    "similar": ("corpus", "features", "models", "embed", "indexes"),
    "search": ("corpus", "features", "models", "embed", "indexes"),
    "words": ("corpus", "words"),
    "results": ("corpus", "features", "models", "evaluate"),
    "listening_design": ("corpus", "features", "models", "embed"),
    "listening_rate": (),
}


def status_path(root: str | os.PathLike) -> Path:
    return Path(root) / STATUS_FILE


def read_status(root: str | os.PathLike) -> dict | None:
    """The status of the last run on this workspace, or None (never run, or unreadable)."""
    try:
        status = json.loads(status_path(root).read_text())
    except (OSError, ValueError):
        return None
    return status if isinstance(status, dict) and status.get("format") == FORMAT else None


def _pid_alive(pid) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, TypeError, ValueError, OverflowError):
        return True  # exists but not ours / unknown: trust the heartbeat
    return True


def is_active(status: dict | None, now: float | None = None) -> bool:
    """True while the run that wrote ``status`` is starting or running and its process is alive."""
    if not status or status.get("state") not in ("starting", "running"):
        return False
    now = time.time() if now is None else now
    if status.get("host") == socket.gethostname():
        return _pid_alive(status.get("pid"))
    return now - float(status.get("updated") or 0) < STALE_SECONDS


def step_states(status: dict) -> dict[str, str]:
    return {s["name"]: s["state"] for s in status.get("steps", [])}


def steps_finished(status: dict, names) -> bool:
    """True if every step of ``names`` that the run has is finished."""
    states = step_states(status)
    return all(states.get(n, "done") in FINISHED for n in names)


@dataclass(frozen=True)
class Progress:
    """What Home and a waiting page show about a run."""

    command: str
    state: str  # running | done | failed | stopped (the process is gone before the end)
    step: str | None  # the step running (or where it stopped)
    step_index: int  # 1-based
    n_steps: int
    count: int | None
    total: int | None
    desc: str
    detail: str
    elapsed_seconds: float
    left_seconds: float | None  # None: no estimate yet
    error: str | None
    resume: str
    steps: list[dict]

    @property
    def fraction(self) -> float:
        """Share of the run done (steps finished, plus the running step's share)."""
        done = sum(s["state"] in FINISHED for s in self.steps)
        part = (self.count / self.total) if self.count is not None and self.total else 0.0
        return min(1.0, (done + (part if self.state == "running" else 0.0)) / max(1, self.n_steps))

    def headline(self) -> str:
        if self.state == "done":
            return f"{self.command} finished in {format_seconds(self.elapsed_seconds)}"
        if self.state == "failed":
            return f"{self.command} failed at step {self.step}: {self.error}"
        if self.state == "stopped":
            return f"{self.command} stopped at step {self.step} (its process is gone)"
        count = f", {self.count}/{self.total} {self.desc}".rstrip() if self.total else ""
        left = f", about {format_seconds(self.left_seconds)} left" if self.left_seconds is not None else ""
        return (f"{self.command}: step {self.step_index} of {self.n_steps}, {self.step}{count} — "
                f"{format_seconds(self.elapsed_seconds)} so far{left}")


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60} min {seconds % 60:02d} s" if seconds >= 60 else f"{seconds} s"


def progress_of(status: dict, now: float | None = None) -> Progress:
    """Read a status into what to show, with the time left estimated now.

    The running step's time left comes from its rate (count/total) when it reports one, else
    from its expected seconds (the last run's time, or a typical time); the steps still to
    run add their expected seconds. No estimate while a step to come has none.
    """
    now = time.time() if now is None else now
    steps = status.get("steps", [])
    current = status.get("current") or {}
    state = status.get("state", "running")
    if state in ("starting", "running") and not is_active(status, now):
        state = "stopped"
    elif state == "starting":
        state = "running"
    names = [s["name"] for s in steps]
    step = current.get("step") or next((s["name"] for s in steps if s["state"] not in FINISHED), None)
    index = names.index(step) + 1 if step in names else len(names)
    end = status.get("finished") or now
    elapsed = end - float(status.get("started") or now)
    left = None
    if state == "running":
        left = 0.0
        for s in steps:
            if s["state"] in FINISHED:
                continue
            expected = s.get("expected_seconds")
            if s["name"] == step:
                ran = now - float(current.get("step_started") or now)
                count, total = current.get("count"), current.get("total")
                if count and total:
                    left += ran * (total - count) / count
                elif expected is not None:
                    left += max(expected - ran, 0.0)
                else:
                    left = None
                    break
            elif expected is None:
                left = None
                break
            else:
                left += expected
    return Progress(command=status.get("command", "build"), state=state, step=step, step_index=index,
                    n_steps=len(steps), count=current.get("count"), total=current.get("total"),
                    desc=current.get("desc") or "", detail=current.get("detail") or "", elapsed_seconds=elapsed,
                    left_seconds=left, error=status.get("error"), resume=status.get("resume", ""), steps=steps)


@dataclass(frozen=True)
class Gate:
    """Why a page cannot show its content yet (None from :func:`page_gate` when it can)."""

    waiting_for: str  # the first unfinished step the page needs
    progress: Progress

    def message(self) -> str:
        p = self.progress
        if p.state == "failed":
            return (f"This page needs step **{self.waiting_for}**, but {p.command} failed at step {p.step}: "
                    f"{p.error}. Fix it and resume with `{p.resume}`.")
        if p.state == "stopped":
            return (f"This page needs step **{self.waiting_for}**, but {p.command} stopped before it. "
                    f"Resume with `{p.resume}`.")
        return f"Waiting for step **{self.waiting_for}**: this page lights up when it finishes."


def page_gate(root: str | os.PathLike, page: str, now: float | None = None) -> Gate | None:
    """None if ``page`` (a file stem under ``pages/``) can show its content, else what it waits for.

    A page waits only while the last run did not finish the steps it needs (a run that is
    going, failed or was stopped); a workspace never built by a pipeline run never waits.
    """
    status = read_status(root)
    if status is None or status.get("state") == "done":
        return None
    needs = PAGE_STEPS.get(page, tuple(s["name"] for s in status.get("steps", [])))
    states = step_states(status)
    for name in [s["name"] for s in status.get("steps", [])]:
        if name in needs and states.get(name) not in FINISHED:
            return Gate(name, progress_of(status, now))
    return None


class StatusWriter:
    """Writes ``build_status.json`` for one run (used by :func:`core.pipeline.runner.run_steps`)."""

    def __init__(self, root: str | os.PathLike, command: str, resume: str, steps: list[tuple[str, float | None]],
                 pid: int | None = None, state: str = "running"):
        self.path = status_path(root)
        now = time.time()
        self.status = {"format": FORMAT, "command": command, "resume": resume, "pid": pid or os.getpid(),
                       "host": socket.gethostname(), "state": state, "started": now, "updated": now,
                       "finished": None, "error": None, "current": None,
                       "steps": [{"name": n, "state": "pending", "seconds": None, "expected_seconds": e}
                                 for n, e in steps]}
        announced = read_status(root)  # ``build-demo --background`` announced this very process: keep its start
        if announced and announced.get("state") == "starting" and announced.get("pid") == self.status["pid"] \
                and announced.get("host") == self.status["host"]:
            self.status["started"] = announced.get("started", now)
        self._lock = threading.Lock()
        self._last_write = 0.0
        self._stop = threading.Event()
        self._heartbeat = None

    def __enter__(self) -> "StatusWriter":
        self.write(force=True)
        self._heartbeat = threading.Thread(target=self._beat, name="build-status-heartbeat", daemon=True)
        self._heartbeat.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._heartbeat is not None:
            self._heartbeat.join(timeout=2)

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            self.write(force=True)

    def write(self, force: bool = False) -> None:
        with self._lock:
            now = time.time()
            if not force and now - self._last_write < 0.5:
                return
            self.status["updated"] = now
            try:
                write_json(self.path, self.status)
            except OSError:
                return  # a status the app cannot read is not worth stopping the run for
            self._last_write = now

    def _step(self, name: str) -> dict:
        return next(s for s in self.status["steps"] if s["name"] == name)

    def start_step(self, name: str) -> None:
        with self._lock:
            self._step(name)["state"] = "running"
            self.status["current"] = {"step": name, "count": None, "total": None, "desc": "", "detail": "",
                                      "step_started": time.time()}
        self.write(force=True)

    def end_step(self, name: str, state: str, seconds: float | None = None) -> None:
        with self._lock:
            step = self._step(name)
            step["state"], step["seconds"] = state, None if seconds is None else round(seconds, 1)
            self.status["current"] = None
        self.write(force=True)

    def count(self, depth: int, count: int, total: int | None, desc: str) -> None:
        """Progress inside the running step: depth 0 is the step's own loop, 1 the loop inside it."""
        with self._lock:
            current = self.status.get("current")
            if current is None:
                return
            if depth == 0:
                current.update(count=count, total=total, desc=desc)
            elif depth == 1:
                current["detail"] = f"{desc} {count}/{total}" if total else f"{desc} {count}"
        self.write()

    def finish(self, state: str, error: str | None = None) -> None:
        with self._lock:
            self.status.update(state=state, error=error, finished=time.time(), current=None)
        self.write(force=True)
