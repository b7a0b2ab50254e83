"""Family dispatch: ``train_model(ws, name, family, overrides)`` runs the family's trainer.

Each entry of :data:`FAMILY_TRAINERS` names a function
``fit(ws, name, overrides, progress, resume) -> dict``; modules are imported
only when their family trains.
"""

from __future__ import annotations


from ..errors import ParameterError
from ..lazy import load
from ..progress import Progress, silent
from .loop import STATE_FILE

FAMILY_TRAINERS = {
    "won": "core.training.won_trainer:fit",
    "lee": "core.training.lee_trainer:fit",
    "mfcc_vq": "core.training.mfcc_vq_trainer:fit",
    "muslse": "core.training.muslse_trainer:fit",
    "mwe": "core.training.mwe_trainer:fit",
}


def trainer(family: str):
    """The ``fit`` function of a family."""
    if family not in FAMILY_TRAINERS:
        raise ParameterError(f"no trainer for family {family!r}; known: {sorted(FAMILY_TRAINERS)}")
    return load(FAMILY_TRAINERS[family])


def is_trained(ws, name: str) -> bool:
    """True if ``models/<name>/`` holds a finished run (a config and no pending train state)."""
    model_dir = ws.models_dir / name
    return (model_dir / "config.json").exists() and not (model_dir / STATE_FILE).exists()


def train_model(ws, name: str, family: str, overrides: dict | None = None, progress: Progress = silent,
                resume: bool = False) -> dict:
    """Train ``models/<name>/`` with the family's config defaults updated by ``overrides``."""
    if not name or "/" in name or name.startswith("."):
        raise ParameterError(f"invalid model name {name!r}: use letters, digits and dashes")
    return trainer(family)(ws, name, dict(overrides or {}), progress=progress, resume=resume)
