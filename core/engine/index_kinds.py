"""Approximate index kinds: how each is built, tuned to a recall and searched.

Three kinds, all inner product, each a faiss factory string plus one search
parameter raised until the measured recall@10 reaches the floor:

* ``ivf``: inverted lists over full vectors (``IVF<nlist>,Flat``); ``nprobe``.
* ``hnsw``: a navigable small-world graph over full vectors (``HNSW32,Flat``); ``efSearch``.
* ``ivfsq8``: inverted lists over 8-bit scalar-quantised vectors (``IVF<nlist>,SQ8``,
  ``dim`` bytes per track instead of ``4 * dim``); ``nprobe``, then the number of
  candidates it proposes, re-ranked exactly against the full vectors (which may
  be a read-only memory map of ``tracks.npy``: only the candidates' rows are read).
* ``ivfpq``: the same over product-quantised codes (``IVF<nlist>,PQ<m>``, ``dim / 8``
  bytes per track), re-ranked likewise: the most compact kind, for catalogs
  whose vectors do not fit in memory.

A kind whose search would have to visit more than ``max_scan_fraction`` of the
catalog is no faster than exact search; its tuning stops there, short of the floor.
"""

from __future__ import annotations

import time

import faiss
import numpy as np

KINDS = ("ivf", "ivfsq8", "ivfpq", "hnsw")  # hnsw last: the slowest to build
RERANKED = ("ivfsq8", "ivfpq")  # quantised kinds: candidates re-ranked exactly against the full vectors
HNSW_NEIGHBOURS = 32
HNSW_EF_CONSTRUCTION = 40
EF_SEARCH_STEPS = (16, 32, 64, 128, 256, 512, 1024)
RERANK_STEPS = (50, 100, 200, 400, 800, 1600, 3200, 6400)
ADD_CHUNK = 100_000  # rows added per call: bounded temporary copies of a memory-mapped catalog


def n_lists(n: int) -> int:
    """Inverted lists for ``n`` tracks: about 2 sqrt(n), at least 39 training points per list."""
    return int(np.clip(min(2 * np.sqrt(n), n // 39), 1, 16384))


def pq_subquantizers(dim: int, bytes_per_code: int | None = None) -> int:
    """Largest divisor of ``dim`` not above ``bytes_per_code`` (default ``dim // 8``: 8 dims per byte)."""
    target = max(1, bytes_per_code or dim // 8)
    return max(m for m in range(1, min(dim, target) + 1) if dim % m == 0)


def factory_string(kind: str, n: int, dim: int) -> str:
    if kind == "ivf":
        return f"IVF{n_lists(n)},Flat"
    if kind == "hnsw":
        return f"HNSW{HNSW_NEIGHBOURS},Flat"
    if kind == "ivfsq8":
        return f"IVF{n_lists(n)},SQ8"
    if kind == "ivfpq":
        # 8-bit codes need 256 x 39 training points per sub-quantiser; fewer bits on small catalogs
        bits = 8 if n >= 256 * 39 else 4
        return f"IVF{n_lists(n)},PQ{pq_subquantizers(dim)}x{bits}np"  # np: no polysemous training (slow, unused)
    raise ValueError(f"unknown index kind {kind!r}; known: {KINDS}")


def exact_top_k(vectors: np.ndarray, queries: np.ndarray, k: int, chunk: int = 262_144) -> np.ndarray:
    """Rows of the ``k`` largest inner products per query, best first, by brute force in row chunks.

    Works on a memory map: only ``chunk`` rows are in memory at a time.
    """
    queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
    k = min(k, len(vectors))
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), chunk):
        block = np.asarray(vectors[start:start + chunk], dtype=np.float32)
        scores = queries @ block.T
        take = min(k, scores.shape[1])
        part = np.argpartition(-scores, take - 1, axis=1)[:, :take]
        best_rows = np.hstack([best_rows, part + start])
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, part, axis=1)])
        keep = np.argsort(-best_scores, axis=1, kind="stable")[:, :k]
        best_rows = np.take_along_axis(best_rows, keep, axis=1)
        best_scores = np.take_along_axis(best_scores, keep, axis=1)
    return best_rows


def rerank(vectors: np.ndarray, queries: np.ndarray, candidates: np.ndarray,
           k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` among each query's candidate rows: ``(scores, rows)``, best first.

    Scores are the exact inner products (float64, returned as float32) of the
    candidates' stored vectors; ties go to the lower row; missing entries are -1.
    """
    queries = np.atleast_2d(queries)
    scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
    rows = np.full((len(queries), k), -1, dtype=np.int64)
    for i, (query, found) in enumerate(zip(queries, candidates)):
        found = np.unique(found[found >= 0])  # sorted: the memory map is read front to back
        block = np.asarray(vectors[found], dtype=np.float32)
        if len(found) > 4 * k:  # float32 scores shortlist; the margin covers their rounding
            keep = np.sort(np.argpartition(-(block @ np.asarray(query, dtype=np.float32)), 4 * k)[:4 * k])
            found, block = found[keep], block[keep]
        exact = block.astype(np.float64) @ np.asarray(query, dtype=np.float64)
        order = np.lexsort((found, -exact))[:k]
        scores[i, :len(order)] = exact[order]
        rows[i, :len(order)] = found[order]
    return scores, rows


class ApproximateIndex:
    """A faiss index of one kind with its tuned search parameters.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    index : faiss.Index
        Trained and filled.
    params : dict
        ``nprobe`` (IVF kinds), ``efSearch`` (hnsw), ``rerank`` (quantised kinds: candidates re-ranked exactly).
    vectors : np.ndarray, optional
        The full vectors (a memory map will do); required for kinds that re-rank.
    """

    def __init__(self, kind: str, index: faiss.Index, params: dict, vectors: np.ndarray | None = None):
        if kind in RERANKED and vectors is None:
            raise ValueError(f"an {kind} index re-ranks against the full vectors: pass them")
        self.kind = kind
        self.index = index
        self.vectors = vectors
        self.params: dict = {}
        self.set_params(params)

    def set_params(self, params: dict) -> None:
        space = faiss.ParameterSpace()
        for name in ("nprobe", "efSearch"):
            if name in params:
                space.set_index_parameter(self.index, name, int(params[name]))
        self.params = dict(params)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, rows)`` per query row; exact inner products for re-ranked kinds."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self.index.ntotal)
        if "rerank" not in self.params:
            return self.index.search(queries, k)
        _, candidates = self.index.search(queries, min(self.index.ntotal, max(k, self.params["rerank"])))
        return rerank(self.vectors, queries, candidates, k)

    def bytes_per_track(self) -> float:
        """Memory of the index per track (codes, ids, lists, graph), not counting re-ranked vectors."""
        return faiss.serialize_index(self.index).size / max(1, self.index.ntotal)


def build_kind(kind: str, vectors: np.ndarray, seed: int) -> faiss.Index:
    """Train (on a seeded sample of at most 64 points per list) and fill a faiss index of ``kind``."""
    n, dim = vectors.shape
    index = faiss.index_factory(dim, factory_string(kind, n, dim), faiss.METRIC_INNER_PRODUCT)
    if not index.is_trained:
        rng = np.random.default_rng(seed)
        size = min(n, max(64 * n_lists(n), 256 * 64 if kind == "ivfpq" else 0))
        sample = np.sort(rng.choice(n, size=size, replace=False))
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.seed = seed
        ivf.cp.niter = 10
        index.train(np.ascontiguousarray(vectors[sample], dtype=np.float32))
    if kind == "hnsw":
        faiss.downcast_index(index).hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    for start in range(0, n, ADD_CHUNK):
        index.add(np.ascontiguousarray(vectors[start:start + ADD_CHUNK], dtype=np.float32))
    return index


def _steps(kind: str, index: faiss.Index, max_scan_fraction: float) -> list[dict]:
    """Search parameters of ``kind`` in order of increasing cost, up to the scan limit."""
    if kind == "hnsw":
        return [{"efSearch": e} for e in EF_SEARCH_STEPS]
    nlist = faiss.extract_index_ivf(index).nlist
    limit = max(1, int(max_scan_fraction * nlist))
    probes = sorted({min(2 ** i, limit) for i in range(int(np.log2(limit)) + 2)})
    return [{"nprobe": p} for p in probes]


def tune(approx: ApproximateIndex, queries: np.ndarray, own: np.ndarray, truth: np.ndarray, k: int,
         min_recall: float, max_scan_fraction: float, recall_fn) -> float:
    """Set the cheapest parameters of ``approx`` reaching ``min_recall``; returns the recall reached.

    For quantised kinds: the smallest ``nprobe`` reaching the floor with the most
    re-ranked candidates, then the fewest candidates keeping it there. When
    the floor is out of reach, the index keeps its most thorough parameters.
    """
    rerank_default = {"rerank": RERANK_STEPS[-1]} if approx.kind in RERANKED else {}
    recall = 0.0
    for step in _steps(approx.kind, approx.index, max_scan_fraction):
        approx.set_params({**step, **rerank_default})
        recall = recall_fn(approx, queries, own, truth, k)
        if recall >= min_recall:
            break
    if approx.kind in RERANKED and recall >= min_recall:
        fixed = {key: v for key, v in approx.params.items() if key != "rerank"}
        for candidates in RERANK_STEPS:
            approx.set_params({**fixed, "rerank": candidates})
            recall = recall_fn(approx, queries, own, truth, k)
            if recall >= min_recall:
                break
    return recall


def single_query_latency(search, queries: np.ndarray, k: int) -> tuple[float, float]:
    """p50 and p95 milliseconds of one-query searches (one OpenMP thread), after one warm-up."""
    previous = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        search(queries[:1], k)
        times = []
        for query in queries:
            start = time.perf_counter()
            search(query[None], k)
            times.append(time.perf_counter() - start)
    finally:
        faiss.omp_set_num_threads(previous)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)
