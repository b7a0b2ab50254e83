"""faiss indexes over a model's track embeddings, the kind chosen per catalog by measured recall.

* Exact search (``IndexFlatIP``) is the default; it is rebuilt in memory from
  ``tracks.npy`` when loaded (a copy). At ``IndexConfig.compressed_above`` tracks
  and more, exact search is a chunked brute force over the memory-mapped file instead.
* Above ``IndexConfig.approximate_above`` tracks, each approximate kind of
  :mod:`core.engine.index_kinds` (IVF, HNSW, IVF-SQ8 and IVF-PQ with exact re-ranking) is
  built and tuned to the cheapest search parameters reaching ``min_recall``
  recall@10 against exact search, measured on the real embeddings (track
  queries, half of them randomly subspace-weighted, the query track itself not
  counted); then its one-query latency is measured, as is exact search's on
  the same queries. The fastest kind reaching the floor is chosen; exact search
  when none reaches it or when exact is as fast. From ``compressed_above``
  tracks only the quantised kinds (IVF-PQ, IVF-SQ8) are built: they do not need
  the vectors in memory (their candidates are re-ranked from ``tracks.npy``
  opened with ``mmap_mode``).
* The chosen index and every kind's measurements are stored in
  ``ws.indexes_dir/<model>/``, keyed by the embeddings' source key; an index
  below the configured recall is never used: the search falls back to exact
  and says so in a warning.

Vectors come ready to rank (:func:`core.engine.embed.prepare`): unit length for
cosine models, raw for inner-product models, so one inner-product index serves both.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

from ..errors import ParameterError
from ..workspace import Workspace
from .embed import EmbeddingSet, embeddings_path
from .index_kinds import (KINDS, RERANKED, ApproximateIndex, build_kind, exact_top_k, factory_string,
                          single_query_latency, tune)

RECALL_K = 10
INDEX_FILE = "index.faiss"


@dataclass(frozen=True)
class IndexConfig:
    """When to build approximate indexes, which kinds, and when to trust them.

    Attributes
    ----------
    approximate_above : int
        Build approximate indexes for catalogs with more tracks than this.
    min_recall : float in (0, 1]
        Minimum recall@10 against exact search for an approximate index to be used.
    recall_queries : int
        Number of sampled queries used to measure recall.
    seed : int
        Seed of the training and query samples.
    search_threads : int
        OpenMP threads per interactive search. One: with app sessions or other
        processes sharing the cores, a multi-threaded single-query search waits
        on busy threads (measured at 200k tracks on 2 loaded cores: p50 224 ms
        with 2 threads, 35 ms with 1).
    kinds : tuple of str
        Approximate kinds compared (:data:`core.engine.index_kinds.KINDS`).
    compressed_above : int
        From this many tracks on, only the quantised kinds (``ivfpq``, ``ivfsq8``) are built
        and exact search runs over the memory-mapped vectors (no in-memory copy).
    max_scan_fraction : float in (0, 1]
        An IVF kind may probe at most this fraction of its lists.
    latency_queries : int
        One-query searches timed per kind (and for exact search) to choose the fastest.
    exact_if_faster : bool
        Choose exact search when its measured p95 is no worse than the fastest
        kind reaching the floor. False keeps that kind (timings on busy shared
        cores are noisy; tests need a deterministic choice).
    """

    approximate_above: int = 50_000
    min_recall: float = 0.95
    recall_queries: int = 500
    seed: int = 0
    search_threads: int = 1
    kinds: tuple[str, ...] = KINDS
    compressed_above: int = 5_000_000
    max_scan_fraction: float = 0.5
    latency_queries: int = 100
    exact_if_faster: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.min_recall <= 1:
            raise ParameterError(f"min_recall must be in (0, 1], got {self.min_recall}")
        if not 0 < self.max_scan_fraction <= 1:
            raise ParameterError(f"max_scan_fraction must be in (0, 1], got {self.max_scan_fraction}")
        if (self.approximate_above < 0 or self.recall_queries < 1 or self.search_threads < 1
                or self.latency_queries < 1 or self.compressed_above < 1):
            raise ParameterError("need approximate_above >= 0 and recall_queries, search_threads, "
                                 "latency_queries, compressed_above >= 1")
        unknown = sorted(set(self.kinds) - set(KINDS))
        if unknown or not self.kinds:
            raise ParameterError(f"unknown index kind(s) {unknown or 'none given'}; known: {list(KINDS)}")

    def as_json(self) -> dict:
        """The config as stored next to an index (tuples as lists)."""
        return json.loads(json.dumps(asdict(self)))


def exact_index(vectors: np.ndarray) -> faiss.Index:
    """Flat (brute-force) inner-product faiss index."""
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def faiss_search(index: faiss.Index, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(scores, rows)``, each ``(m, k)``, best first; missing rows are -1."""
    k = min(k, index.ntotal)
    return index.search(np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32), k)


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean fraction of each row of ``truth`` present in the same row of ``found``."""
    hits = [len(set(f[f >= 0]) & set(t)) / len(t) for f, t in zip(found, truth)]
    return float(np.mean(hits)) if hits else 1.0


def recall_queries(vectors: np.ndarray, subspaces: dict[str, slice], n: int,
                   seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Sampled track rows and their vectors, half of them with random per-subspace weights."""
    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(len(vectors), size=min(n, len(vectors)), replace=False))
    queries = np.array(vectors[rows], dtype=np.float32)
    if len(subspaces) > 1:
        for q in queries[::2]:
            for sl in subspaces.values():
                q[sl] *= rng.uniform(0.0, 1.0)
    return rows, queries


def _drop_self(found: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    # a track always finds itself; counting it would flatter the recall of track -> track queries
    return np.array([[r for r in row if r != o][:k] for row, o in zip(found, own)])


def _measured_recall(approx: ApproximateIndex, queries: np.ndarray, own: np.ndarray, truth: np.ndarray,
                     k: int) -> float:
    return recall_at_k(_drop_self(approx.search(queries, k + 1)[1], own, k), truth)


class ExactSearch:
    """Brute-force search: a faiss flat copy in memory, or chunks of a (memory-mapped) array."""

    def __init__(self, vectors: np.ndarray, in_memory: bool = True):
        self.vectors = vectors
        self.flat = exact_index(vectors) if in_memory else None

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.flat is not None:
            return faiss_search(self.flat, queries, k)
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        rows = exact_top_k(self.vectors, queries, k)
        scores = np.stack([np.asarray(self.vectors[r], dtype=np.float32) @ q for r, q in zip(rows, queries)])
        return scores, rows


def choose_kind(candidates: dict[str, dict], exact_p95_ms: float, min_recall: float,
                exact_if_faster: bool = True) -> tuple[str, str]:
    """The kind to use and why: the fastest (p95) reaching ``min_recall``, else exact.

    With ``exact_if_faster``, exact also wins when it is at least as fast as the
    fastest kind reaching the floor.
    """
    reaching = {k: c for k, c in candidates.items() if c["recall_at_10"] >= min_recall}
    if not reaching:
        best = max(candidates, key=lambda k: candidates[k]["recall_at_10"]) if candidates else None
        reason = (f"no index kind reached recall@10 {min_recall}"
                  + (f" (best: {best} {candidates[best]['recall_at_10']})" if best else ""))
        return "exact", reason
    fastest = min(reaching, key=lambda k: reaching[k]["p95_ms"])
    if exact_if_faster and exact_p95_ms <= reaching[fastest]["p95_ms"]:
        return "exact", (f"exact search (p95 {exact_p95_ms} ms) is as fast as {fastest} "
                         f"({reaching[fastest]['p95_ms']} ms)")
    return fastest, f"fastest kind reaching recall@10 {min_recall}"


def build_approximate(vectors: np.ndarray, subspaces: dict[str, slice], config: IndexConfig,
                      log=lambda *a: None) -> tuple[ApproximateIndex | None, dict]:
    """Build, tune and time every configured kind on ``vectors``; keep the chosen one.

    ``vectors`` may be a read-only memory map; the quantised kinds re-rank from it.

    Returns
    -------
    index : ApproximateIndex or None
        None when exact search is chosen.
    meta : dict
        ``kind`` (chosen, or ``"exact"``), ``reason``, ``n``, ``params``, ``recall_at_10``,
        ``bytes_per_track``, ``candidates`` (per kind: ``factory``, ``params``,
        ``recall_at_10``, ``p50_ms``, ``p95_ms``, ``bytes_per_track``, ``build_seconds``),
        ``exact`` (``p50_ms``, ``p95_ms``, ``bytes_per_track``), ``recall_queries``, ``min_recall``.
    """
    n, dim = vectors.shape
    in_memory = n < config.compressed_above
    kinds = config.kinds if in_memory else tuple(k for k in config.kinds if k in RERANKED) or RERANKED
    own, queries = recall_queries(vectors, subspaces, config.recall_queries, config.seed + 1)
    truth = _drop_self(exact_top_k(vectors, queries, RECALL_K + 1), own, RECALL_K)
    timed = queries[:config.latency_queries]
    exact = ExactSearch(vectors, in_memory)
    exact_p50, exact_p95 = single_query_latency(exact.search, timed, RECALL_K)
    del exact
    candidates: dict[str, dict] = {}
    best: ApproximateIndex | None = None
    for kind in kinds:
        start = time.perf_counter()
        raw = build_kind(kind, vectors, config.seed)
        built = time.perf_counter() - start
        approx = ApproximateIndex(kind, raw, {}, vectors if kind in RERANKED else None)
        recall = tune(approx, queries, own, truth, RECALL_K, config.min_recall, config.max_scan_fraction,
                      _measured_recall)
        p50, p95 = single_query_latency(approx.search, timed, RECALL_K)
        candidates[kind] = {"factory": factory_string(kind, n, dim), "params": approx.params,
                            "recall_at_10": round(recall, 4),
                            "p50_ms": round(p50, 2), "p95_ms": round(p95, 2),
                            "bytes_per_track": round(approx.bytes_per_track(), 1),
                            "build_seconds": round(built, 1)}
        log(f"{kind}: {candidates[kind]}")
        reaching = recall >= config.min_recall
        if reaching and (best is None or candidates[kind]["p95_ms"] < candidates[best.kind]["p95_ms"]):
            best = approx
    kind, reason = choose_kind(candidates, round(exact_p95, 2), config.min_recall, config.exact_if_faster)
    chosen = candidates.get(kind, {})
    meta = {"kind": kind, "reason": reason, "n": int(n), "dim": int(dim), "params": chosen.get("params", {}),
            "recall_at_10": chosen.get("recall_at_10", 1.0),
            "bytes_per_track": chosen.get("bytes_per_track", 4.0 * dim),
            "candidates": candidates,
            "exact": {"p50_ms": round(exact_p50, 2), "p95_ms": round(exact_p95, 2),
                      "bytes_per_track": 4.0 * dim, "in_memory": in_memory},
            "recall_queries": len(queries), "min_recall": config.min_recall}
    return (best if kind != "exact" else None), meta


class TrackIndex:
    """Search over one model's track vectors: exact, or approximate when large and good enough.

    ``search`` only reads the faiss indexes, which faiss allows from several
    threads at once, so one instance can serve all app sessions.
    """

    def __init__(self, vectors: np.ndarray, approximate: ApproximateIndex | None = None,
                 approximate_meta: dict | None = None, config: IndexConfig = IndexConfig()):
        self.config = config
        self.approximate = approximate
        self.approximate_meta = approximate_meta or {}
        self.warnings: list[str] = []
        if len(vectors) > config.approximate_above:
            chosen = self.approximate_meta.get("kind")
            if chosen == "exact":
                if not self.approximate_meta["reason"].startswith("exact search"):
                    self.warnings.append(f"{self.approximate_meta['reason']}; exact search used")
            elif approximate is None:
                self.warnings.append(f"no approximate index for {len(vectors):,} tracks; exact search used "
                                     "(run `python -m core embed` to build one)")
            elif self.approximate_meta.get("recall_at_10", 0.0) < config.min_recall:
                self.warnings.append(
                    f"approximate index recall@10 {self.approximate_meta.get('recall_at_10')} is below "
                    f"{config.min_recall}; exact search used")
        if self.approximate is not None and not self.uses_approximate:
            self.approximate = None  # never consulted: free it
        self.exact = None if self.uses_approximate else ExactSearch(vectors, len(vectors) < config.compressed_above)

    @property
    def uses_approximate(self) -> bool:
        return (self.approximate is not None
                and self.approximate_meta.get("recall_at_10", 0.0) >= self.config.min_recall)

    @property
    def kind(self) -> str:
        return self.approximate.kind if self.uses_approximate else "exact"

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, rows)`` for each query row (higher scores are closer)."""
        # the OpenMP thread count is a per-thread setting: set it for this search, then restore it
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self.config.search_threads)
        try:
            return (self.approximate if self.uses_approximate else self.exact).search(queries, k)
        finally:
            faiss.omp_set_num_threads(previous)


# -------------------------------------------------------------- persistence
def index_path(ws: Workspace, model_name: str) -> Path:
    return ws.indexes_dir / model_name


def mapped_tracks(ws: Workspace, emb: EmbeddingSet) -> np.ndarray:
    """``embeddings/<model>/tracks.npy`` opened read-only with ``mmap_mode``, or ``emb.tracks``.

    The stored file when it holds the same array shape as ``emb`` (re-ranking reads
    only the candidates' rows from it); else the in-memory vectors.
    """
    path = embeddings_path(ws, emb.model) / "tracks.npy"
    if path.is_file():
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
        if mapped.shape == emb.tracks.shape and mapped.dtype == np.float32:
            return mapped
    return emb.tracks


def build_index(ws: Workspace, emb: EmbeddingSet, config: IndexConfig = IndexConfig(),
                force: bool = False, log=lambda *a: None) -> dict | None:
    """Build, measure and store the index of a model if its catalog needs one.

    Returns
    -------
    dict or None
        The index metadata (chosen kind, every kind's measured recall, latency and
        bytes per track), or None when the catalog is small enough for exact search alone.
    """
    if len(emb.track_ids) <= config.approximate_above:
        return None
    directory = index_path(ws, emb.model)
    meta_path = directory / "index.json"
    if not force and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("source") == emb.meta["source"] and meta.get("config") == config.as_json():
            return meta
    index, meta = build_approximate(mapped_tracks(ws, emb), emb.subspaces, config, log)
    meta.update(source=emb.meta["source"], config=config.as_json())
    directory.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)  # index.json goes last: a half-written index is never loaded
    (directory / INDEX_FILE).unlink(missing_ok=True)
    if index is not None:
        faiss.write_index(index.index, str(directory / INDEX_FILE))
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return meta


def load_index(ws: Workspace, emb: EmbeddingSet, config: IndexConfig = IndexConfig()) -> TrackIndex:
    """Exact index of the embeddings plus the stored approximate one when it matches their source key."""
    approximate, meta = None, None
    directory = index_path(ws, emb.model)
    n = len(emb.track_ids)
    vectors = mapped_tracks(ws, emb) if n >= config.compressed_above else emb.tracks
    if n > config.approximate_above and (directory / "index.json").is_file():
        meta = json.loads((directory / "index.json").read_text())
        current = meta.get("source") == emb.meta["source"] and meta.get("n") == n and "params" in meta
        if not current:
            meta = None
        elif meta["kind"] != "exact" and (directory / INDEX_FILE).is_file():
            reranked = mapped_tracks(ws, emb) if meta["kind"] in RERANKED else None
            approximate = ApproximateIndex(meta["kind"], faiss.read_index(str(directory / INDEX_FILE)),
                                           meta["params"], reranked)
    return TrackIndex(vectors, approximate, meta, config)
