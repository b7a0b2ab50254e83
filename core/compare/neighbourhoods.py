"""k-nearest neighbourhoods of every catalog track in two models, and how much they differ.

The neighbours of each track are found with the model's own index
(:class:`core.engine.index.TrackIndex`: exact, or its approximate index where one
is in use), re-scored exactly in float64 and ordered by score, then row: the
ranking :meth:`core.engine.engine.Engine.rank` gives one query, for all tracks at
once. The track itself is never its own neighbour. Two models are compared on the
tracks both have vectors for; when a model covers more tracks than that, its
neighbours are searched among the shared tracks only (an exact index over them).

Disagreement of a track is ``1 - Jaccard@k`` of its two neighbour sets:
``|A & B| / |A | B|``. The result is cached on disk under
``cache/compare/`` keyed by both embeddings' source keys (checkpoint, catalog,
config, word embedding), ``k`` and the index kinds, so a retrained model or a
changed catalog recomputes it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.index import TrackIndex
from ..errors import DataError, ParameterError
from ..fileio import write_atomic

CACHE_VERSION = 1
#: Queries searched per faiss call (bounds the float64 re-scoring buffer).
QUERY_BATCH = 1024


@dataclass(frozen=True)
class NeighbourhoodComparison:
    """Neighbourhoods of the same tracks in models A and B.

    Attributes
    ----------
    track_ids : list of str
        The tracks both models have vectors for (rows of the arrays), in A's order.
    k : int
    neighbours_a, neighbours_b : np.ndarray, (n, k) int64
        Rows (into ``track_ids``) of each track's k nearest neighbours, best first.
    scores_a, scores_b : np.ndarray, (n, k) float64
        Their similarity to the track in each model.
    jaccard : np.ndarray, (n,) float64
        ``|A & B| / |A | B|`` of the two neighbour sets.
    """

    track_ids: list[str]
    k: int
    neighbours_a: np.ndarray
    neighbours_b: np.ndarray
    scores_a: np.ndarray
    scores_b: np.ndarray
    jaccard: np.ndarray

    @property
    def disagreement(self) -> np.ndarray:
        """``1 - jaccard`` per track (0: same neighbours, 1: none shared)."""
        return 1.0 - self.jaccard

    def ids(self, rows: np.ndarray) -> list[str]:
        return [self.track_ids[int(r)] for r in rows]


def shared_rows(ids_a: list[str], ids_b: list[str]) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Tracks in both lists (in A's order) and their rows in A and in B."""
    row_b = {t: i for i, t in enumerate(ids_b)}
    rows_a = [i for i, t in enumerate(ids_a) if t in row_b]
    ids = [ids_a[i] for i in rows_a]
    return ids, np.array(rows_a, dtype=np.int64), np.array([row_b[t] for t in ids], dtype=np.int64)


def nearest_neighbours(vectors: np.ndarray, k: int, index: TrackIndex | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rows and scores of each row's ``k`` nearest other rows, best first (score, then row).

    Parameters
    ----------
    vectors : np.ndarray, (n, dim)
        Ready-to-rank vectors (inner product is the similarity).
    k : int
        1 <= k < n.
    index : TrackIndex, optional
        Index over exactly these rows (default: an exact one).
    """
    n = len(vectors)
    if not 1 <= k < n:
        raise ParameterError(f"k must be between 1 and {n - 1} (tracks - 1), got {k}")
    index = index if index is not None else TrackIndex(vectors)
    fetch = min(n, 2 * (k + 1) + 10)
    exact = np.asarray(vectors, dtype=np.float64)
    rows_out = np.zeros((n, k), dtype=np.int64)
    scores_out = np.zeros((n, k), dtype=np.float64)
    for start in range(0, n, QUERY_BATCH):
        own = np.arange(start, min(n, start + QUERY_BATCH))
        _, cand = index.search(np.asarray(vectors[own], dtype=np.float32), fetch)
        cand = np.asarray(cand, dtype=np.int64)
        valid = (cand >= 0) & (cand != own[:, None])
        scores = np.einsum("md,mfd->mf", exact[own], exact[np.where(valid, cand, 0)])
        scores[~valid] = -np.inf
        order = np.lexsort((np.where(valid, cand, n), -scores), axis=-1)[:, :k]
        picked = np.take_along_axis(cand, order, axis=1)
        picked_scores = np.take_along_axis(scores, order, axis=1)
        if not np.all(np.isfinite(picked_scores)):
            raise DataError(f"the index returned fewer than {k} neighbours for some tracks; lower k")
        rows_out[own], scores_out[own] = picked, picked_scores
    return rows_out, scores_out


def jaccard_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``|a_i & b_i| / |a_i | b_i|`` for each row pair of two ``(n, k)`` neighbour arrays (no repeats in a row)."""
    if a.shape != b.shape:
        raise ParameterError(f"neighbour arrays differ in shape: {a.shape} vs {b.shape}")
    n, k = a.shape
    inter = np.zeros(n, dtype=np.int64)
    step = max(1, 4_000_000 // max(1, k * k))
    for start in range(0, n, step):
        part = slice(start, start + step)
        inter[part] = (a[part, :, None] == b[part, None, :]).any(axis=2).sum(axis=1)
    return inter / (2 * k - inter) if k else np.ones(n)


def _index_for(engine, rows: np.ndarray) -> TrackIndex:
    if len(rows) == len(engine.track_ids) and np.array_equal(rows, np.arange(len(rows))):
        return engine.index
    return TrackIndex(np.ascontiguousarray(engine.emb.tracks[rows]))


def compare_neighbourhoods(engine_a, engine_b, k: int = 10) -> NeighbourhoodComparison:
    """Neighbourhoods of every shared track in both models (see the module docstring).

    Raises
    ------
    DataError
        If the models share fewer than ``k + 1`` tracks.
    """
    ids, rows_a, rows_b = shared_rows(engine_a.track_ids, engine_b.track_ids)
    if len(ids) <= k:
        raise DataError(f"models {engine_a.name!r} and {engine_b.name!r} share vectors for {len(ids)} tracks; "
                        f"k = {k} needs at least {k + 1}")
    na, sa = nearest_neighbours(engine_a.emb.tracks[rows_a], k, _index_for(engine_a, rows_a))
    nb, sb = nearest_neighbours(engine_b.emb.tracks[rows_b], k, _index_for(engine_b, rows_b))
    return NeighbourhoodComparison(ids, k, na, nb, sa, sb, jaccard_rows(na, nb))


# -------------------------------------------------------------------- cache
def cache_key(engine_a, engine_b, k: int) -> dict:
    """What a cached comparison depends on: both models' embedding source keys, index kinds and ``k``."""
    return {"version": CACHE_VERSION, "k": int(k),
            "a": {"model": engine_a.name, "source": engine_a.emb.meta.get("source"), "index": engine_a.index.kind},
            "b": {"model": engine_b.name, "source": engine_b.emb.meta.get("source"), "index": engine_b.index.kind}}


def cache_path(cache_dir: str | Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    return Path(cache_dir) / f"neighbourhoods-{digest}.npz"


def _read_cached(path: Path, key: dict) -> NeighbourhoodComparison | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            if json.loads(str(data["key"])) != key:
                return None
            return NeighbourhoodComparison([str(t) for t in data["track_ids"]], int(key["k"]),
                                           data["neighbours_a"], data["neighbours_b"], data["scores_a"],
                                           data["scores_b"], data["jaccard"])
    except (OSError, ValueError, KeyError):
        return None  # unreadable or from another version: recompute


def cached_comparison(engine_a, engine_b, k: int, cache_dir: str | Path) -> NeighbourhoodComparison:
    """:func:`compare_neighbourhoods`, read from ``cache_dir`` when its key matches, else computed and stored."""
    key = cache_key(engine_a, engine_b, k)
    path = cache_path(cache_dir, key)
    found = _read_cached(path, key)
    if found is not None:
        return found
    result = compare_neighbourhoods(engine_a, engine_b, k)
    path.parent.mkdir(parents=True, exist_ok=True)

    def save(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez(f, key=np.array(json.dumps(key, sort_keys=True)), track_ids=np.array(result.track_ids, dtype=str),
                     neighbours_a=result.neighbours_a, neighbours_b=result.neighbours_b,
                     scores_a=result.scores_a, scores_b=result.scores_b, jaccard=result.jaccard)

    write_atomic(path, save)
    return result
