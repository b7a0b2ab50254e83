"""Model-vs-human accuracy: a model's triplet predictions on the exact excerpts raters heard, against their votes.

Not to be confused with the held-out *triplet accuracy* of ``core.evaluation``
(category triplets from the catalog's tags): here the label of a triplet is
what listeners chose. A model predicts song1 when
``sim(anchor, song1) > sim(anchor, song2)`` (cosine per space when the model is
normalised), on the log-mel of exactly the excerpt (offset, length) played to
the raters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError
from .stats import wilson_interval

#: Columns of :func:`model_vs_human_accuracy` rows (after ``model`` where a model is named).
ACCURACY_COLUMNS = ("space", "n", "correct", "accuracy", "ci_low", "ci_high")
#: What stood for each excerpt, by :attr:`ExcerptEmbedder.level` (the report's ``vectors`` column).
VECTOR_LEVELS = {"excerpt": "excerpts embedded",
                 "track": "track-level vectors (imported): one vector for every excerpt of a track"}


@dataclass
class ExcerptEmbedder:
    """One model's embeddings of exact excerpts, cached per ``(track, start, length)``.

    Attributes
    ----------
    embed : callable
        ``embed(track_id, start_s, length_s) -> (dim,) array``.
    level : str
        ``excerpt``, or ``track`` when the vector ignores the excerpt (imported
        track-level vectors: the report says so).
    spaces : dict
        ``{"full": slice(None), <subspace>: slice, ...}``.
    normalized : bool
        Cosine similarity (each space L2-normalised) when True, inner product otherwise.
    """

    embed: Callable[[str, float, float], np.ndarray]
    spaces: dict
    normalized: bool
    #: ``excerpt`` (each excerpt embedded) or ``track`` (an embedding-only model's one vector per track)
    level: str = "excerpt"

    def __post_init__(self):
        self._cache: dict = {}

    def vector(self, track_id: str, start: float, length: float) -> np.ndarray:
        key = (str(track_id), round(float(start), 3), round(float(length), 3))
        if key not in self._cache:
            self._cache[key] = np.asarray(self.embed(*key), dtype=np.float64)
        return self._cache[key]

    def similarity(self, a: np.ndarray, b: np.ndarray, space: str) -> float:
        x, y = a[self.spaces[space]], b[self.spaces[space]]
        if self.normalized:
            return float(x @ y / max(np.linalg.norm(x) * np.linalg.norm(y), 1e-12))
        return float(x @ y)

    @classmethod
    def from_model(cls, ws, model) -> "ExcerptEmbedder":
        """Embed excerpts with ``model.encode_track`` on the log-mel of exactly that audio."""
        from ..audio import load_audio, log_mel

        def embed(track_id: str, start: float, length: float) -> np.ndarray:
            return model.encode_track(log_mel(load_audio(ws.audio_path(track_id), offset=start, duration=length)))

        subspaces = model.subspaces()
        spaces = {"full": slice(None)}
        if len(subspaces) > 1:
            spaces.update(subspaces)
        return cls(embed, spaces, bool(model.normalized))

    @classmethod
    def from_track_vectors(cls, emb, spaces: dict[str, slice]) -> "ExcerptEmbedder":
        """Stored track vectors (an embedding-only model): every excerpt of a track gets the track's vector.

        ``emb`` is the model's :class:`core.engine.embed.EmbeddingSet`; a track it
        has no vector for raises :class:`~core.errors.DataError`.
        """
        def embed(track_id: str, start: float, length: float) -> np.ndarray:
            row = emb.track_row.get(track_id)
            if row is None:
                raise DataError(f"model {emb.model!r} has no imported vector for track {track_id!r}")
            return emb.tracks[row]

        full = {"full": slice(None)}
        if len(spaces) > 1:
            full.update(spaces)
        return cls(embed, full, emb.metric == "cosine", level="track")


def model_vs_human_accuracy(triplets: pd.DataFrame, embedder: ExcerptEmbedder) -> list[dict]:
    """Model-vs-human accuracy: how often a model's triplet prediction equals the human label, per space.

    Parameters
    ----------
    triplets : DataFrame
        ``anchor_id``, ``anchor_start``, ``song1_id``, ``song1_start``,
        ``song2_id``, ``song2_start``, ``clip_seconds`` and ``label``
        (``song1``/``song2``; rows without a label are skipped).

    Returns
    -------
    list of dict
        ``space``, ``n``, ``correct``, ``accuracy``, ``ci_low``, ``ci_high``
        (95% Wilson interval). The model predicts song1 when
        ``sim(anchor, song1) > sim(anchor, song2)``.
    """
    labelled = triplets[triplets["label"].isin(["song1", "song2"])]
    correct = {space: 0 for space in embedder.spaces}
    for r in labelled.itertuples():
        a = embedder.vector(r.anchor_id, r.anchor_start, r.clip_seconds)
        s1 = embedder.vector(r.song1_id, r.song1_start, r.clip_seconds)
        s2 = embedder.vector(r.song2_id, r.song2_start, r.clip_seconds)
        for space in embedder.spaces:
            pred = "song1" if embedder.similarity(a, s1, space) > embedder.similarity(a, s2, space) else "song2"
            correct[space] += pred == r.label
    n = len(labelled)
    out = []
    for space, k in correct.items():
        low, high = wilson_interval(int(k), n)
        out.append({"space": space, "n": n, "correct": int(k), "accuracy": k / n if n else float("nan"),
                    "ci_low": low, "ci_high": high})
    return out


def workspace_embedders(ws, names: list[str] | None = None) -> dict:
    """``{model: ExcerptEmbedder}`` for the named (default: all) models of the workspace.

    Embedding-only models (imported vectors) score with their track-level vectors
    (:meth:`ExcerptEmbedder.from_track_vectors`); no network is loaded for them.
    """
    from ..engine.embed import load_embeddings
    from ..models.checkpoint import load_model
    from ..models.embedding_only import is_embedding_only

    out = {}
    for name in ws.model_names() if names is None else names:
        if is_embedding_only(ws.model_config(name)):
            emb = load_embeddings(ws, name)
            out[name] = ExcerptEmbedder.from_track_vectors(emb, emb.subspaces)
        else:
            out[name] = ExcerptEmbedder.from_model(ws, load_model(ws, name))
    return out
