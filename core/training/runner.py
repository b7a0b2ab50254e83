"""Training any family: one generic ``train_model`` / ``fit_data`` over the family table.

A family's training module (``core/training/<family>.py``) exports a
:class:`Trainer`: its config class, ``load_data(ws, config, progress)`` and either
``build_run(data, config, model_dir, name) -> loop.Run`` (gradient-trained: the
shared loop does the rest) or ``fit(data, config, model_dir, name, progress) -> dict``
(fitted in one step, e.g. MFCC-VQ's codebook). :data:`core.families.FAMILIES` names
it; nothing here knows a family.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from ..errors import ParameterError
from ..families import family_trainer
from ..progress import Progress, silent
from .config import RunConfig
from .distributed import world_size
from .loop import STATE_FILE, Run, train


@dataclass(frozen=True)
class Trainer:
    """What the runner needs from a family's training module.

    Attributes
    ----------
    config : type
        The family's ``<Family>TrainConfig`` (a :class:`~core.training.config.RunConfig`).
    load_data : callable
        ``load_data(ws, config, progress) -> data``: everything training reads, in memory.
    build_run : callable, optional
        ``build_run(data, config, model_dir, name) -> Run`` for the shared loop.
    fit : callable, optional
        ``fit(data, config, model_dir, name, progress) -> dict`` for a family fitted in one
        step (no gradient loop); returns what :func:`core.training.loop.train` returns.
    """

    config: type[RunConfig]
    load_data: Callable[[Any, RunConfig, Progress], Any]
    build_run: Callable[[Any, RunConfig, Path, str], Run] | None = None
    fit: Callable[[Any, RunConfig, Path, str, Progress], dict] | None = None

    def __post_init__(self) -> None:
        if (self.build_run is None) == (self.fit is None):
            raise ParameterError("a Trainer needs exactly one of build_run (gradient loop) and fit (one step)")


def fit_data(data, config: RunConfig, model_dir, name: str, progress: Progress = silent,
             resume: bool = False) -> dict:
    """Train a model on in-memory ``data`` (tests, CF experiments) and save it in ``model_dir``.

    The family comes from ``config`` (its class's ``family``). Gradient-trained families
    run :func:`core.training.loop.train` (``resume`` continues an interrupted run);
    one-step families have nothing to resume.
    """
    trainer = family_trainer(config.family)
    if not isinstance(config, trainer.config):
        raise ParameterError(f"the {config.family} trainer takes a {trainer.config.__name__}, "
                             f"not a {type(config).__name__}")
    if trainer.build_run is not None:
        return train(trainer.build_run(data, config, Path(model_dir), name), progress=progress, resume=resume)
    if world_size() > 1:
        raise ParameterError(f"the {config.family} family is fitted in one step, not by the gradient loop; "
                             "train it with one process (python -m core train), not torchrun")
    return trainer.fit(data, config, Path(model_dir), name, progress)


def is_trained(ws, name: str) -> bool:
    """True if ``models/<name>/`` holds a finished run (a config and no pending train state)."""
    model_dir = ws.models_dir / name
    return (model_dir / "config.json").exists() and not (model_dir / STATE_FILE).exists()


def train_model(ws, name: str, family: str, overrides: dict | None = None, progress: Progress = silent,
                resume: bool = False) -> dict:
    """Train ``models/<name>/`` with the family's config defaults updated by ``overrides``."""
    if not name or "/" in name or name.startswith("."):
        raise ParameterError(f"invalid model name {name!r}: use letters, digits and dashes")
    trainer = family_trainer(family)
    config = trainer.config.from_dict(overrides)
    data = trainer.load_data(ws, config, progress)
    return fit_data(data, config, ws.models_dir / name, name, progress, resume)


__all__ = ["Trainer", "fit_data", "is_trained", "train_model"]
