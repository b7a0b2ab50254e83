"""``build-demo``: the pipeline that makes the demo workspace, step by step.

Each step is a function ``step(ws, demo, progress)`` that is idempotent: it checks what is
already in the workspace and does only the missing work, so an interrupted build resumes
where it stopped. The steps after ``models`` are ``prepare``'s (:mod:`core.pipeline.prepare`),
run by the same runner (:func:`core.pipeline.runner.run_steps`): live status in
``build_status.json``, per-step times in ``build_report.json``. Maps and search come before
the evaluation, so those pages light up while it runs.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..pipeline.runner import Step, is_locked, run_steps
from ..pipeline.status import StatusWriter, read_status
from ..progress import Progress, tqdm_progress
from ..workspace import Workspace

SIZES = ("tiny", "default")
_PREPARE = "core.pipeline.prepare"

#: The steps, in build order.
STEPS: list[Step] = [
    Step("corpus", "core.demo.corpus:build_corpus"),
    Step("features", "core.features:build_features", f"{_PREPARE}:features_pending"),
    Step("words", "core.words.demo_embeddings:build_demo_words"),
    Step("models", "core.training.demo:train_demo_models", "core.training.demo:demo_models_pending"),
    Step("embed", f"{_PREPARE}:embed_models", f"{_PREPARE}:embed_pending"),
    Step("indexes", f"{_PREPARE}:build_indexes", f"{_PREPARE}:indexes_pending"),
    Step("maps", f"{_PREPARE}:fit_maps", f"{_PREPARE}:maps_pending"),
    Step("evaluate", "core.evaluation.run:evaluate_demo", f"{_PREPARE}:evaluate_pending"),
]

#: Typical seconds per step on 2 idle cores (the time left shown before a build was timed here).
TYPICAL_SECONDS = {
    "tiny": {"corpus": 60, "features": 5, "words": 25, "models": 60, "embed": 10, "indexes": 1, "maps": 30,
             "evaluate": 15},
    "default": {"corpus": 140, "features": 20, "words": 65, "models": 410, "embed": 80, "indexes": 1, "maps": 40,
                "evaluate": 50},
}
LOG_FILE = "build.log"


@dataclass(frozen=True)
class DemoConfig:
    """What to build. Each step picks its own presets from ``size``; ``workers`` caps the processes (0: every core)."""

    size: str = "default"
    seed: int = 0
    workers: int = 0

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ParameterError(f"unknown demo size {self.size!r}; use one of {SIZES}")
        if self.workers < 0:
            raise ParameterError(f"workers must be >= 0 (0: every core), got {self.workers}")


def _command(root: Path, size: str, seed: int) -> list[str]:
    return ["python", "-m", "core", "build-demo", "--workspace", str(root), "--size", size, "--seed", str(seed)]


def build_demo(root: str | Path, size: str = "default", seed: int = 0, steps: list[str] | None = None,
               progress: Progress = tqdm_progress, log=print, workers: int = 0) -> Workspace:
    """Build (or finish building) the demo workspace at ``root``.

    Parameters
    ----------
    root : path
        Workspace directory; created if absent.
    size : {"tiny", "default"}
        ``tiny`` is about 40 clips of 8 s (tests, CI); ``default`` about 400 of 20 s.
    seed : int
        Seed for every random choice; the same seed gives the same workspace.
    steps : list of str, optional
        Run only these steps (names from :data:`STEPS`); default all.
    workers : int
        Processes for the features and the models (0: every core).
    """
    demo = DemoConfig(size=size, seed=seed, workers=workers)
    known = [s.name for s in STEPS]
    if steps is not None:
        unknown = set(steps) - set(known)
        if unknown:
            raise ParameterError(f"unknown build step(s) {sorted(unknown)}; steps are {known}")
    ws = Workspace.create(root, name=f"demo-{size}", audio_root="audio", demo={"size": size, "seed": seed})
    chosen = [s for s in STEPS if steps is None or s.name in steps]
    run_steps(ws, chosen, demo, command="build-demo", resume=shlex.join(_command(ws.root, size, seed)),
              expected=TYPICAL_SECONDS[size].get, progress=progress, log=log,
              context={"size": size, "seed": seed, "workers": workers, "cores": os.cpu_count()})
    return Workspace.open(root)


def is_built(root: str | Path) -> bool:
    """True if the last build of ``root`` finished, or it was built before builds kept a status."""
    status = read_status(root)
    if status is not None:
        return status.get("state") == "done" and status.get("command") == "build-demo"
    return (Path(root) / "workspace.json").exists() and (Path(root) / "evaluation.json").exists()


def start_background_build(root: str | Path, size: str = "default", seed: int = 0) -> str:
    """Start ``build-demo`` as a detached process (its output in ``<root>/build.log``), unless not needed.

    Returns what happened, for a person: already built, already building, or started.
    The app shows the build's progress from ``build_status.json`` meanwhile.
    """
    root = Path(root).expanduser()
    if is_built(root):
        return f"the demo workspace {root} is built"
    if is_locked(root):
        return f"a build of {root} is already running; the app shows its progress"
    root.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, *_command(root.resolve(), size, seed)[1:]]
    with open(root / LOG_FILE, "ab") as out:
        child = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True, cwd=Path(__file__).resolve().parents[2])
    # the app may ask before the child has started: say now that a build is coming
    StatusWriter(root, "build-demo", shlex.join(_command(root.resolve(), size, seed)),
                 [(s.name, TYPICAL_SECONDS[size].get(s.name)) for s in STEPS], pid=child.pid, state="starting").write()
    return f"building the demo workspace {root} in the background (log: {root / LOG_FILE})"
