"""Model families: one table from a family's name to its model class and its trainer.

A family is two files, found by its name: ``core/models/<family>.py`` holds the
:class:`~core.models.base.EmbeddingModel` subclass (and its ``<Family>ModelConfig``),
``core/training/<family>.py`` its :class:`~core.training.runner.Trainer` (``load_data``
and ``build_run``, or ``fit`` for a family not trained by gradient steps). The
built-in families are listed in :data:`FAMILIES`; code outside Tagspace adds its
own with :func:`register_family`. Entries are ``"module:attribute"`` strings,
imported on first use, so naming a family loads nothing.

Everything else (checkpoints, the ``train`` command, the demo build, evaluation,
the engine and the pages) reaches a family only through this table and the
model interface. See ``docs/architecture.md``, "Add a family".
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import ParameterError
from .lazy import load


@dataclass(frozen=True)
class Family:
    """Where a family's code is: ``"module:attribute"`` of its model class and of its trainer."""

    model: str
    trainer: str


FAMILIES: dict[str, Family] = {
    "won": Family("core.models.won:WonModel", "core.training.won:TRAINER"),
    "lee": Family("core.models.lee:LeeModel", "core.training.lee:TRAINER"),
    "mfcc_vq": Family("core.models.mfcc_vq:MfccVqModel", "core.training.mfcc_vq:TRAINER"),
    "muslse": Family("core.models.muslse:MuslseModel", "core.training.muslse:TRAINER"),
    "mwe": Family("core.models.mwe:MweModel", "core.training.mwe:TRAINER"),
}


def register_family(name: str, model: str, trainer: str) -> None:
    """Add (or replace) a family: ``model`` and ``trainer`` are ``"module:attribute"`` targets."""
    if not name or not name.replace("_", "").isalnum():
        raise ParameterError(f"invalid family name {name!r}: use letters, digits and underscores")
    FAMILIES[name] = Family(model, trainer)


def family_names() -> list[str]:
    """The known families, sorted."""
    return sorted(FAMILIES)


def _family(name: str) -> Family:
    if name not in FAMILIES:
        raise ParameterError(f"unknown model family {name!r}; known: {family_names()}")
    return FAMILIES[name]


def model_class(family: str):
    """The :class:`~core.models.base.EmbeddingModel` subclass of a family."""
    return load(_family(family).model)


def family_trainer(family: str):
    """The :class:`~core.training.runner.Trainer` of a family."""
    return load(_family(family).trainer)


__all__ = ["FAMILIES", "Family", "family_names", "family_trainer", "model_class", "register_family"]
