"""UMAP maps: tracks and tags of a model in one joint space, and each word embedding's tags.

Maps are computed at build time (``build-demo`` step ``embed``) or by
``python -m core project``, never on a page's request path: :func:`load_projection`
reads a cached map or raises :class:`ProjectionNotComputed`; it never fits.

Files under ``ws.projections_dir`` (``<key>`` hashes the inputs and parameters)::

    <key>.npz          coords (n, 2), preservation (n,), ids, kinds, categories
    <key>.vectors.npy  the (n, d) vectors the map was fitted on (for placing new points)
    <key>.json         what was projected, parameters, timings

No pickle: a new point (an uploaded clip, a searched word) is placed by
:meth:`Projection.place`, UMAP's own ``transform`` initialisation in numpy: the
mean of the 2-D positions of its nearest neighbours, weighted by UMAP's fuzzy
membership strengths (``transform`` then refines them for a few epochs; we skip
that, so no numba code runs on the request path at all).

UMAP runs on unit-length vectors with the Euclidean metric (ranking-equivalent
to cosine), so every map shows cosine neighbourhoods, also for inner-product
models. Numba compiles UMAP's kernels in the building process, cached under
``ws.cache_dir/numba`` (``NUMBA_CACHE_DIR``) so later builds start faster.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path

import faiss
import numpy as np
import pandas as pd

from ..errors import DataError, ParameterError
from ..fileio import read_json
from ..workspace import Workspace
from .embed import embeddings_path, load_embeddings, prepare, words_fingerprint

FORMAT_VERSION = 1
KINDS = ("model", "words")


class ProjectionNotComputed(DataError):
    """The map asked for is not in the cache (or is stale); the message names the command."""


@dataclass(frozen=True)
class UmapParams:
    """UMAP and preservation settings (part of the cache key).

    Attributes
    ----------
    n_neighbors : int
        UMAP neighbourhood size (clipped to ``n - 1`` for tiny sets).
    min_dist : float
    seed : int
        UMAP ``random_state`` (deterministic maps).
    preservation_k : int
        Neighbours compared for the per-point preservation score.
    """

    n_neighbors: int = 15
    min_dist: float = 0.1
    seed: int = 0
    preservation_k: int = 10

    def __post_init__(self) -> None:
        if self.n_neighbors < 2 or self.preservation_k < 1 or not 0 <= self.min_dist <= 1:
            raise ParameterError("need n_neighbors >= 2, preservation_k >= 1 and 0 <= min_dist <= 1")


# ------------------------------------------------------------------ helpers
def stratified_sample(labels, max_points: int, seed: int = 0) -> np.ndarray:
    """Indices of at most ``max_points`` items, every label represented in proportion.

    Each label gets ``max_points * share`` items (largest remainders first, at
    least one per label while the budget allows), drawn at random within the
    label; never "the first N".

    Returns
    -------
    np.ndarray of int
        Sorted indices into ``labels``; all of them if there are few enough.
    """
    labels = np.asarray(pd.Series(list(labels)).astype(str))
    n = len(labels)
    if max_points < 1:
        raise ParameterError(f"max_points must be >= 1, got {max_points}")
    if n <= max_points:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    values, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    quota = counts * max_points / n
    take = np.floor(quota).astype(int)
    if max_points >= len(values):
        take = np.maximum(take, 1)
    left = max_points - take.sum()
    if left > 0:
        order = np.argsort(-(quota - np.floor(quota)), kind="stable")
        for j in order:
            if left == 0:
                break
            if take[j] < counts[j]:
                take[j] += 1
                left -= 1
    elif left < 0:  # the minimum of one per label overshot: trim the largest strata
        for j in np.argsort(-take, kind="stable"):
            cut = min(-left, take[j] - 1)
            take[j] -= cut
            left += cut
            if left == 0:
                break
    chosen = [rng.choice(np.flatnonzero(inverse == j), size=take[j], replace=False) for j in range(len(values))]
    return np.sort(np.concatenate(chosen))


def _knn(points: np.ndarray, k: int) -> np.ndarray:
    """Each point's ``k`` nearest other points (exact, Euclidean)."""
    points = np.ascontiguousarray(points, dtype=np.float32)
    index = faiss.IndexFlatL2(points.shape[1])
    index.add(points)
    _, rows = index.search(points, k + 1)
    out = np.empty((len(points), k), dtype=np.int64)
    for i, row in enumerate(rows):
        others = row[row != i]
        out[i] = others[:k]
    return out


def neighbourhood_preservation(high: np.ndarray, low: np.ndarray, k: int = 10) -> np.ndarray:
    """Per point, the fraction of its ``k`` nearest neighbours in ``high`` also among its ``k`` nearest in ``low``.

    1 means the map keeps the point's neighbourhood; near ``k / n`` means it is
    no better than chance there.
    """
    if len(high) != len(low):
        raise ParameterError("high and low must have the same number of points")
    k = min(k, len(high) - 1)
    if k < 1:
        return np.ones(len(high), dtype=np.float32)
    a, b = _knn(high, k), _knn(low, k)
    return np.array([len(set(x) & set(y)) / k for x, y in zip(a, b)], dtype=np.float32)


def _use_numba_cache(ws: Workspace) -> None:
    # numba reads NUMBA_CACHE_DIR when umap's kernels are defined, i.e. on import
    if "umap" not in sys.modules:
        cache = ws.cache_dir / "numba"
        cache.mkdir(parents=True, exist_ok=True)
        os.environ.setdefault("NUMBA_CACHE_DIR", str(cache))


def fit_umap(vectors: np.ndarray, params: UmapParams) -> np.ndarray:
    """2-D UMAP coordinates of unit-length ``vectors`` (Euclidean metric), float32."""
    import umap

    n = len(vectors)
    if n < 4:
        raise DataError(f"a map needs at least 4 points, got {n}")
    reducer = umap.UMAP(n_neighbors=min(params.n_neighbors, n - 1), min_dist=params.min_dist,
                        metric="euclidean", random_state=params.seed, n_jobs=1, n_components=2,
                        init="spectral" if n > params.n_neighbors + 2 else "random")
    return reducer.fit_transform(np.asarray(vectors, dtype=np.float32)).astype(np.float32)


# --------------------------------------------------------------- projection
@dataclass
class Projection:
    """A cached map. Rows of every array follow ``ids``.

    Attributes
    ----------
    kind : {"model", "words"}
    name : str
        Model or word-embedding name.
    ids : list of str
        Track ids and tags (tags as themselves).
    kinds : list of str
        ``track`` or ``tag`` per point.
    categories : list of str or None
        Tag category per point (None for tracks and uncategorised tags).
    coords : np.ndarray, (n, 2) float32
    preservation : np.ndarray, (n,) float32
        :func:`neighbourhood_preservation` of each point.
    meta : dict
        Parameters, key, timings.
    path : Path
        The ``.npz`` file.
    """

    kind: str
    name: str
    ids: list[str]
    kinds: list[str]
    categories: list[str | None]
    coords: np.ndarray
    preservation: np.ndarray
    meta: dict
    path: Path

    def frame(self) -> pd.DataFrame:
        """Columns ``id``, ``kind``, ``category`` ("" for tracks: no nulls in plot data), ``x``, ``y``,
        ``preservation``."""
        return pd.DataFrame({"id": self.ids, "kind": self.kinds, "category": [c or "" for c in self.categories],
                             "x": self.coords[:, 0], "y": self.coords[:, 1], "preservation": self.preservation})

    @cached_property
    def vectors(self) -> np.ndarray:
        """The fitted vectors, memory-mapped read-only."""
        return np.load(self.path.with_suffix(".vectors.npy"), mmap_mode="r")

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """2-D positions of new points, as UMAP's ``transform`` initialises them.

        Parameters
        ----------
        vectors : np.ndarray, (m, d) or (d,)
            Vectors in the projected space (normalised here).

        Returns
        -------
        np.ndarray, (m, 2) float32
        """
        q = prepare(np.atleast_2d(vectors), "cosine")
        base = np.asarray(self.vectors, dtype=np.float32)
        if q.shape[1] != base.shape[1]:
            raise ParameterError(f"vectors must have {base.shape[1]} dims, got {q.shape[1]}")
        k = min(int(self.meta["params"]["n_neighbors"]), len(base))
        d2 = (q ** 2).sum(1)[:, None] - 2 * q @ base.T + (base ** 2).sum(1)[None, :]
        rows = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist = np.sqrt(np.maximum(np.take_along_axis(d2, rows, axis=1), 0.0)).astype(np.float64)
        weights = np.exp(-dist / _umap_sigmas(dist)[:, None])
        weights /= weights.sum(axis=1, keepdims=True)
        return np.einsum("mk,mkc->mc", weights, self.coords[rows]).astype(np.float32)


def _umap_sigmas(dist: np.ndarray, iterations: int = 64) -> np.ndarray:
    """UMAP's ``smooth_knn_dist`` for new points (local connectivity 0, so rho = 0)."""
    k = dist.shape[1]
    target = np.log2(k)
    lo, hi, mid = np.zeros(len(dist)), np.full(len(dist), np.inf), np.ones(len(dist))
    tail = dist[:, 1:] if k > 1 else dist  # UMAP's sum skips the first neighbour
    for _ in range(iterations):
        psum = np.exp(-tail / mid[:, None]).sum(axis=1)
        high = psum > target
        hi = np.where(high, mid, hi)
        lo = np.where(high, lo, mid)
        mid = np.where(np.isinf(hi), mid * 2, (lo + hi) / 2)
    return np.maximum(mid, 1e-3 * dist.mean(axis=1) + 1e-12)


def _inputs(ws: Workspace, kind: str, name: str) -> dict:
    """What a map depends on, cheaply (no vectors read): the basis of its key."""
    if kind == "model":
        meta_path = embeddings_path(ws, name) / "meta.json"
        if not meta_path.is_file():
            raise ProjectionNotComputed(f"no map for model {name!r}: its embeddings are not computed; run "
                                        f"`python -m core embed --workspace {ws.root} --model {name}` first")
        meta = read_json(meta_path)
        return {"embeddings": meta.get("source") if isinstance(meta, dict) else None}
    if kind == "words":
        return {"words": words_fingerprint(ws, name), "catalog": ws.catalog.fingerprint()}
    raise ParameterError(f"unknown projection kind {kind!r}; use one of {KINDS}")


def projection_key(ws: Workspace, kind: str, name: str, params: UmapParams = UmapParams()) -> str:
    """Cache key of a map: hash of its inputs, parameters and the UMAP version."""
    from importlib.metadata import version

    blob = {"format": FORMAT_VERSION, "kind": kind, "name": name, "inputs": _inputs(ws, kind, name),
            "params": asdict(params), "umap": version("umap-learn")}
    return f"{kind}-{name}-" + hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def load_projection(ws: Workspace, kind: str, name: str, params: UmapParams = UmapParams()) -> Projection:
    """Read a cached map; never computes one.

    Parameters
    ----------
    kind : {"model", "words"}
        A model's joint track/tag map, or a word embedding's tag map.
    name : str
        Model or word-embedding name.

    Raises
    ------
    ProjectionNotComputed
        If the map is missing or stale; the message gives the command to run.
    """
    key = projection_key(ws, kind, name, params)
    path = ws.projections_dir / f"{key}.npz"
    if not path.is_file() or not path.with_suffix(".json").is_file():
        raise ProjectionNotComputed(f"the {kind} map of {name!r} is not computed (or is out of date); run "
                                    f"`python -m core project --workspace {ws.root}`")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in ("ids", "kinds", "categories", "coords", "preservation")}
    except (ValueError, OSError, EOFError, KeyError) as err:  # object arrays, damaged or foreign files
        raise DataError(f"{path}: not a readable map ({err}); run `python -m core project --workspace {ws.root} "
                        "--force` to rebuild it") from err
    return Projection(kind, name, arrays["ids"].tolist(), arrays["kinds"].tolist(),
                      [c or None for c in arrays["categories"].tolist()], arrays["coords"], arrays["preservation"],
                      read_json(path.with_suffix(".json")), path)


def _points(ws: Workspace, kind: str, name: str) -> tuple[np.ndarray, list[str], list[str], list[str | None], dict]:
    if kind == "model":
        emb = load_embeddings(ws, name)
        tag_rows = [i for i, t in enumerate(emb.terms) if t["kind"] == "tag"]
        vectors = np.concatenate([emb.tracks, emb.term_vectors[tag_rows]])
        ids = emb.track_ids + [emb.terms[i]["term"] for i in tag_rows]
        kinds = ["track"] * len(emb.track_ids) + ["tag"] * len(tag_rows)
        categories = [None] * len(emb.track_ids) + [emb.terms[i]["category"] for i in tag_rows]
        return vectors, ids, kinds, categories, {}
    from ..words import load_word_vectors
    from ..words.compare import tag_vectors

    tag_categories = ws.catalog.tag_categories()
    matrix, found, missing = tag_vectors(load_word_vectors(ws, name), sorted(tag_categories))
    return (np.asarray(matrix, dtype=np.float32), found, ["tag"] * len(found),
            [tag_categories[t] for t in found], {"missing_tags": missing})


def compute_projection(ws: Workspace, kind: str, name: str, params: UmapParams = UmapParams(),
                       force: bool = False) -> Projection:
    """Fit and cache a map (build time / CLI only), or load it if cached.

    Parameters
    ----------
    kind : {"model", "words"}
    name : str
        Model (its embeddings must be extracted) or word embedding.
    force : bool
        Refit even if cached.
    """
    if not force:
        try:
            return load_projection(ws, kind, name, params)
        except ProjectionNotComputed:
            pass
    key = projection_key(ws, kind, name, params)
    vectors, ids, kinds, categories, extra = _points(ws, kind, name)
    vectors = prepare(vectors, "cosine")
    _use_numba_cache(ws)
    start = time.perf_counter()
    coords = fit_umap(vectors, params)
    fit_seconds = time.perf_counter() - start
    preservation = neighbourhood_preservation(vectors, coords, params.preservation_k)
    ws.projections_dir.mkdir(parents=True, exist_ok=True)
    prefix = f"{kind}-{name}-"
    for old in ws.projections_dir.glob(prefix + "*"):  # stale maps of this source (not of "name-other")
        if re.fullmatch(r"[0-9a-f]{16}\..+", old.name[len(prefix):]):
            old.unlink()
    path = ws.projections_dir / f"{key}.npz"
    np.save(path.with_suffix(".vectors.npy"), vectors)
    np.savez(path, coords=coords, preservation=preservation, ids=np.array(ids, dtype=str),
             kinds=np.array(kinds, dtype=str), categories=np.array([c or "" for c in categories], dtype=str))
    meta = {"kind": kind, "name": name, "key": key, "params": asdict(params), "n_points": len(ids),
            "n_tracks": kinds.count("track"), "n_tags": kinds.count("tag"), "fit_seconds": round(fit_seconds, 2),
            "mean_preservation": round(float(preservation.mean()), 4),
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra}
    path.with_suffix(".json").write_text(json.dumps(meta, indent=2))  # written last: marks the map complete
    return load_projection(ws, kind, name, params)
