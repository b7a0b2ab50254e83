"""faiss indexes over a model's track embeddings.

* Exact search (``IndexFlatIP``) is the default; it is rebuilt in memory from
  ``tracks.npy`` when loaded (a copy).
* Above ``IndexConfig.approximate_above`` tracks an IVF index is built too, its
  ``nprobe`` chosen as the smallest reaching ``min_recall`` recall@10 against
  exact search, measured on the real embeddings (track queries, half of them
  randomly subspace-weighted, the query track itself not counted). It is
  stored in ``ws.indexes_dir/<model>/`` with its measured recall; an index
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
from .embed import EmbeddingSet

RECALL_K = 10


@dataclass(frozen=True)
class IndexConfig:
    """When to build an approximate index and when to trust it.

    Attributes
    ----------
    approximate_above : int
        Build an IVF index for catalogs with more tracks than this.
    min_recall : float in (0, 1]
        Minimum recall@10 against exact search for the IVF index to be used.
    recall_queries : int
        Number of sampled queries used to measure recall.
    seed : int
        Seed of the training and query samples.
    search_threads : int
        OpenMP threads per interactive search. One: with app sessions or other
        processes sharing the cores, a multi-threaded single-query search waits
        on busy threads (measured at 200k tracks on 2 loaded cores: p50 224 ms
        with 2 threads, 35 ms with 1).
    """

    approximate_above: int = 50_000
    min_recall: float = 0.95
    recall_queries: int = 500
    seed: int = 0
    search_threads: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.min_recall <= 1:
            raise ParameterError(f"min_recall must be in (0, 1], got {self.min_recall}")
        if self.approximate_above < 0 or self.recall_queries < 1 or self.search_threads < 1:
            raise ParameterError("need approximate_above >= 0, recall_queries >= 1 and search_threads >= 1")


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
    rows = rng.choice(len(vectors), size=min(n, len(vectors)), replace=False)
    queries = vectors[rows].copy()
    if len(subspaces) > 1:
        for q in queries[::2]:
            for sl in subspaces.values():
                q[sl] *= rng.uniform(0.0, 1.0)
    return rows, queries


def _drop_self(found: np.ndarray, own: np.ndarray, k: int) -> np.ndarray:
    # a track always finds itself; counting it would flatter the recall of track -> track queries
    return np.array([[r for r in row if r != o][:k] for row, o in zip(found, own)])


def build_ivf(vectors: np.ndarray, subspaces: dict[str, slice], config: IndexConfig) -> tuple[faiss.Index, dict]:
    """Train an IVF-Flat index and pick the smallest nprobe reaching ``min_recall``.

    Returns
    -------
    index : faiss.IndexIVFFlat
    meta : dict
        ``kind``, ``n``, ``nlist``, ``nprobe``, ``recall_at_10``, ``recall_queries``,
        ``min_recall``, ``build_seconds``.
    """
    start = time.perf_counter()
    n, d = vectors.shape
    # about 4 sqrt(n) lists, but no fewer than 39 training points per list (faiss' minimum)
    nlist = int(np.clip(min(4 * np.sqrt(n), n // 39), 1, 16384))
    quantizer = faiss.IndexFlatIP(d)
    index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(config.seed)
    train = vectors[rng.choice(n, size=min(n, 64 * nlist), replace=False)]
    index.train(np.ascontiguousarray(train))
    index.add(np.ascontiguousarray(vectors))
    own, queries = recall_queries(vectors, subspaces, config.recall_queries, config.seed + 1)
    truth = _drop_self(faiss_search(exact_index(vectors), queries, RECALL_K + 1)[1], own, RECALL_K)
    nprobe, recall = 1, 0.0
    while True:
        index.nprobe = nprobe
        recall = recall_at_k(_drop_self(index.search(queries, RECALL_K + 1)[1], own, RECALL_K), truth)
        if recall >= config.min_recall or nprobe >= nlist:
            break
        nprobe = min(2 * nprobe, nlist)
    meta = {"kind": "ivf", "n": int(n), "nlist": nlist, "nprobe": int(nprobe), "recall_at_10": round(recall, 4),
            "recall_queries": len(queries), "min_recall": config.min_recall,
            "build_seconds": round(time.perf_counter() - start, 2)}
    return index, meta


class TrackIndex:
    """Search over one model's track vectors: exact, or approximate when large and good enough.

    ``search`` only reads the faiss indexes, which faiss allows from several
    threads at once, so one instance can serve all app sessions.
    """

    def __init__(self, vectors: np.ndarray, approximate: faiss.Index | None = None,
                 approximate_meta: dict | None = None, config: IndexConfig = IndexConfig()):
        self.config = config
        self.exact = exact_index(vectors)
        self.approximate = approximate
        self.approximate_meta = approximate_meta or {}
        self.warnings: list[str] = []
        if len(vectors) > config.approximate_above:
            if approximate is None:
                self.warnings.append(f"no approximate index for {len(vectors):,} tracks; exact search used "
                                     "(run `python -m core embed` to build one)")
            elif self.approximate_meta.get("recall_at_10", 0.0) < config.min_recall:
                self.warnings.append(
                    f"approximate index recall@10 {self.approximate_meta.get('recall_at_10')} is below "
                    f"{config.min_recall}; exact search used")
        if self.approximate is not None and not self.uses_approximate:
            self.approximate = None  # never consulted: free it

    @property
    def uses_approximate(self) -> bool:
        return (self.approximate is not None
                and self.approximate_meta.get("recall_at_10", 0.0) >= self.config.min_recall)

    @property
    def kind(self) -> str:
        return self.approximate_meta["kind"] if self.uses_approximate else "exact"

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` ``(scores, rows)`` for each query row (higher scores are closer)."""
        # the OpenMP thread count is a per-thread setting: set it for this search, then restore it
        previous = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(self.config.search_threads)
        try:
            return faiss_search(self.approximate if self.uses_approximate else self.exact, queries, k)
        finally:
            faiss.omp_set_num_threads(previous)


# -------------------------------------------------------------- persistence
def index_path(ws: Workspace, model_name: str) -> Path:
    return ws.indexes_dir / model_name


def build_index(ws: Workspace, emb: EmbeddingSet, config: IndexConfig = IndexConfig(),
                force: bool = False) -> dict | None:
    """Build and store the approximate index of a model if its catalog needs one.

    Returns
    -------
    dict or None
        The index metadata (with the measured recall), or None when the catalog
        is small enough for exact search alone.
    """
    if len(emb.track_ids) <= config.approximate_above:
        return None
    directory = index_path(ws, emb.model)
    meta_path = directory / "index.json"
    if not force and meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("source") == emb.meta["source"] and meta.get("config") == asdict(config):
            return meta
    index, meta = build_ivf(emb.tracks, emb.subspaces, config)
    meta.update(source=emb.meta["source"], config=asdict(config))
    directory.mkdir(parents=True, exist_ok=True)
    meta_path.unlink(missing_ok=True)
    faiss.write_index(index, str(directory / "ivf.faiss"))
    meta_path.write_text(json.dumps(meta, indent=2, sort_keys=True))
    return meta


def load_index(ws: Workspace, emb: EmbeddingSet, config: IndexConfig = IndexConfig()) -> TrackIndex:
    """Exact index of the embeddings plus the stored approximate one when it matches them."""
    approximate, meta = None, None
    directory = index_path(ws, emb.model)
    if len(emb.track_ids) > config.approximate_above and (directory / "index.json").is_file():
        meta = json.loads((directory / "index.json").read_text())
        if meta.get("source") == emb.meta["source"] and meta.get("n") == len(emb.track_ids):
            approximate = faiss.read_index(str(directory / "ivf.faiss"))
            approximate.nprobe = meta["nprobe"]
        else:
            meta = None
    return TrackIndex(emb.tracks, approximate, meta, config)
