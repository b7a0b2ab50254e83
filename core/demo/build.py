"""``build-demo``: the pipeline that makes the demo workspace, step by step.

Each step is a function ``step(ws, demo, progress)`` that is idempotent: it
checks what is already in the workspace and does only the missing work, so an
interrupted build resumes where it stopped. Steps are listed by dotted path so
a step's (heavy) module is imported only when the step runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import ParameterError
from ..lazy import load
from ..progress import Progress, tqdm_progress
from ..workspace import Workspace

SIZES = ("tiny", "default")

#: (step name, "module:function"), in build order.
STEPS: list[tuple[str, str]] = [
    ("corpus", "core.demo.corpus:build_corpus"),
    ("features", "core.features:build_features"),
    ("words", "core.words.build:build_demo_words"),
    ("models", "core.training.demo:train_demo_models"),
    ("evaluate", "core.evaluation.run:evaluate_demo"),
    ("embed", "core.engine.build_caches:build_engine_caches"),
]


@dataclass(frozen=True)
class DemoConfig:
    """What to build. Each step picks its own presets from ``size``."""

    size: str = "default"
    seed: int = 0

    def __post_init__(self) -> None:
        if self.size not in SIZES:
            raise ParameterError(f"unknown demo size {self.size!r}; use one of {SIZES}")


def build_demo(root: str | Path, size: str = "default", seed: int = 0, steps: list[str] | None = None,
               progress: Progress = tqdm_progress, log=print) -> Workspace:
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
    """
    demo = DemoConfig(size=size, seed=seed)
    known = [name for name, _ in STEPS]
    if steps is not None:
        unknown = set(steps) - set(known)
        if unknown:
            raise ParameterError(f"unknown build step(s) {sorted(unknown)}; steps are {known}")
    ws = Workspace.create(root, name=f"demo-{size}", audio_root="audio", demo={"size": size, "seed": seed})
    for name, target in STEPS:
        if steps is not None and name not in steps:
            continue
        start = time.perf_counter()
        load(target)(ws, demo, progress)
        log(f"[build-demo] {name}: {time.perf_counter() - start:.1f} s")
    return Workspace.open(root)
