"""Embedding-only models: vectors imported from files, with no network behind them.

``python -m core embeddings import`` (:mod:`core.importers.embeddings`) writes
``models/<name>/config.json`` with ``source: "embeddings"`` and no ``model.pt``,
and the vectors straight into ``embeddings/<name>/`` (the engine's layout). Such
a model has one vector per catalog track (and per tag or artist when term vectors
were imported): it cannot embed new audio, excerpts or words outside its terms.

Everything that would load a network checks :func:`is_embedding_only` on the
config first and uses :class:`EmbeddingOnlyModel` instead: the facts of
:class:`~core.models.base.EmbeddingModel` that ranking and evaluation need
(``normalized``, ``dim``, ``subspaces()``, ``has_text``, ``vocab``,
``encode_terms``, ``capabilities``), read from the config and the stored vectors.
:data:`UNAVAILABLE` says, for each capability such a model lacks, why a page
disables it.
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError, VocabularyError
from .base import CAPABILITIES

#: ``config.json`` ``source`` (and ``family``) of an embedding-only model.
SOURCE = "embeddings"
FAMILY = "embeddings"

#: Why an embedding-only model lacks a capability, said after "model '<name>'" (pages, CLI, reports).
UNAVAILABLE = {
    "audio": "is an embedding-only model (vectors imported from files, no network): it has one vector per catalog "
             "track and cannot embed an uploaded clip or an excerpt",
    "zero_shot": "is an embedding-only model: it has vectors only for the terms imported with it, so words outside "
                 "them cannot be placed",
    "text": "is an embedding-only model imported without term vectors (--terms): it cannot relate words and tracks",
    "subspaces": "was imported without --subspaces: its vectors form one space",
}


def is_embedding_only(config: dict) -> bool:
    """True if a model's ``config.json`` describes imported vectors (no network, no ``model.pt``)."""
    return isinstance(config, dict) and config.get("source") == SOURCE


def config_capabilities(config: dict) -> frozenset[str]:
    """Capabilities recorded in a model's ``config.json`` (embedding-only models always record them).

    Raises
    ------
    ParameterError
        If the config has no valid ``capabilities`` list.
    """
    caps = config.get("capabilities") if isinstance(config, dict) else None
    if not isinstance(caps, list) or not set(caps) <= set(CAPABILITIES):
        raise ParameterError(f"config.json capabilities must be a list drawn from {CAPABILITIES}, got {caps!r}")
    return frozenset(caps)


def unavailable_reason(capability: str, model_name: str) -> str:
    """Sentence saying why embedding-only model ``model_name`` cannot do ``capability``."""
    return f"model {model_name!r} " + UNAVAILABLE.get(capability, f"lacks the {capability!r} capability")


class EmbeddingOnlyModel:
    """The model facts of imported vectors, for ranking, evaluation and the pages.

    Parameters
    ----------
    name : str
        Model name.
    config : dict
        Its ``config.json`` (``source: "embeddings"``).
    terms : list of dict, optional
        The stored terms (``term``, ``kind``, ``category``, ``seen``).
    term_vectors : np.ndarray, optional
        Their vectors, rows following ``terms``.
    """

    family = FAMILY
    #: no audio input window: the pages play whole clips
    input_frames = None
    input_seconds = None
    encodes_audio = False
    maps_word_vectors = False

    def __init__(self, name: str, config: dict, terms: list[dict] | None = None,
                 term_vectors: np.ndarray | None = None):
        if not is_embedding_only(config):
            raise ParameterError(f"model {name!r} is not an embedding-only model (config source "
                                 f"{config.get('source')!r})")
        self.name = name
        self.config = dict(config.get("model") or {})
        self._config = config
        self.capabilities = config_capabilities(config)
        self.dim = int(self.config["dim"])
        self.normalized = self.config.get("metric", "cosine") == "cosine"
        self._subspaces = {k: slice(int(a), int(b)) for k, (a, b) in (self.config.get("subspaces") or {}).items()}
        self._terms = list(terms or [])
        self._term_vectors = (np.zeros((0, self.dim), np.float32) if term_vectors is None
                              else np.asarray(term_vectors, np.float32))
        self._row = {t["term"]: i for i, t in enumerate(self._terms)}
        self.has_text = "text" in self.capabilities
        self.vocab = {"tags": [t["term"] for t in self._terms if t["kind"] == "tag"],
                      "artists": [t["term"] for t in self._terms if t["kind"] == "artist"]}

    @property
    def variant(self) -> str:
        return str(self.config.get("variant", "imported"))

    def subspaces(self) -> dict[str, slice]:
        """The named subspaces given at import (``--subspaces``), else one ``"all"`` space."""
        return dict(self._subspaces) if self._subspaces else {"all": slice(0, self.dim)}

    def encode_terms(self, terms: list[str], words=None) -> np.ndarray:
        """Stored vectors of ``terms`` ``(n, dim)``; :class:`VocabularyError` naming those not imported."""
        missing = [t for t in terms if t not in self._row]
        if missing:
            raise VocabularyError(f"no imported vector for {missing[:5]} in model {self.name!r}")
        return self._term_vectors[[self._row[t] for t in terms]]


def reads_audio(config: dict) -> bool:
    """Whether a model (its ``config.json``) embeds audio: False only when its recorded ``capabilities``
    lack ``audio`` (an imported cultural or hybrid Won model, an embedding-only model); a config
    written before capabilities were recorded is taken to read audio, as every trainer's model did."""
    capabilities = config.get("capabilities")
    return capabilities is None or "audio" in capabilities
