"""Model families by name. Imports are lazy so a family's module loads only when used."""

from __future__ import annotations


from ..errors import ParameterError
from ..lazy import load

FAMILIES = {
    "won": "core.models.won:WonModel",
    "lee": "core.models.lee:LeeModel",
    "mfcc_vq": "core.models.mfcc_vq:MfccVqModel",
    "muslse": "core.models.muslse:MuslseModel",
    "mwe": "core.models.mwe:MweModel",
}


def model_class(family: str):
    """The :class:`~core.models.base.EmbeddingModel` subclass of a family."""
    if family not in FAMILIES:
        raise ParameterError(f"unknown model family {family!r}; known: {sorted(FAMILIES)}")
    return load(FAMILIES[family])
