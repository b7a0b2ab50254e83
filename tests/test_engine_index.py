"""Indexes: exact by default; above the size threshold IVF, HNSW, IVF-SQ8 and IVF-PQ (exact re-ranking) built,
tuned to the recall floor and timed, the fastest reaching it chosen, else exact; stored keyed by source."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.engine import queries as q
from core.engine.embed import EmbeddingSet, embeddings_path
from core.engine.engine import Engine
from core.engine.index import IndexConfig, build_index, choose_kind, load_index, recall_at_k
from core.engine.index_kinds import KINDS, exact_top_k, rerank
from core.errors import ParameterError
from core.workspace import Workspace

N, DIM = 3000, 32
SUBSPACES = {"a": [0, 16], "b": [16, 32]}


def _store(tmp_path, x: np.ndarray):
    ws = Workspace.create(tmp_path / "ws", name="index")
    meta = {"source": {"checkpoint_sha256": "x"}, "metric": "cosine", "subspaces": SUBSPACES,
            "has_text": False, "maps_word_vectors": False}
    emb = EmbeddingSet("m", [f"t{i}" for i in range(len(x))], x, [], np.zeros((0, DIM), np.float32), meta)
    emb.save(embeddings_path(ws, "m"))  # tracks.npy on disk: what the IVF-PQ kind re-ranks from (memory-mapped)
    return ws, emb


@pytest.fixture()
def clustered(tmp_path):
    """3,000 unit vectors around 30 centres, stored as a model's embeddings."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, DIM))
    x = (centres[rng.integers(30, size=N)] + 0.3 * rng.normal(size=(N, DIM))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return _store(tmp_path, x)


def _brute_force(vectors: np.ndarray, queries: np.ndarray, k: int) -> np.ndarray:
    return np.argsort(-(queries.astype(np.float64) @ vectors.astype(np.float64).T), axis=1, kind="stable")[:, :k]


def test_small_catalogs_use_exact_search_only(clustered):
    ws, emb = clustered
    assert build_index(ws, emb, IndexConfig(approximate_above=N)) is None
    index = load_index(ws, emb, IndexConfig(approximate_above=N))
    assert index.kind == "exact" and index.warnings == []


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_matches_brute_force_within_its_measured_recall(clustered, kind):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, min_recall=0.9, recall_queries=200, kinds=(kind,),
                         exact_if_faster=False, latency_queries=20)
    meta = build_index(ws, emb, config)
    measured = meta["candidates"][kind]
    assert meta["kind"] == kind and measured["recall_at_10"] >= 0.9 and meta["recall_at_10"] == measured["recall_at_10"]
    assert measured["p95_ms"] > 0 and measured["bytes_per_track"] > 0 and meta["exact"]["p95_ms"] > 0
    stored = json.loads((ws.indexes_dir / "m" / "index.json").read_text())
    assert stored["recall_at_10"] == meta["recall_at_10"] and stored["source"] == emb.meta["source"]
    index = load_index(ws, emb, config)
    assert index.kind == kind and index.warnings == []
    # an independent measurement on other queries finds about the stored recall
    queries = emb.tracks[5::37]
    found = index.search(queries, 10)[1]
    assert recall_at_k(found, _brute_force(emb.tracks, queries, 10)) >= measured["recall_at_10"] - 0.05
    result = q.track_to_tracks(Engine(ws, emb, index=index), "t7", k=10)
    assert result.index == kind and len(result.ids) == 10


def test_compressed_kind_takes_less_memory_and_re_ranks_from_the_memory_mapped_file(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, min_recall=0.9, recall_queries=200,
                         kinds=("ivf", "ivfsq8", "ivfpq"), exact_if_faster=False, latency_queries=20)
    meta = build_index(ws, emb, config)
    per_track = {kind: c["bytes_per_track"] for kind, c in meta["candidates"].items()}
    assert per_track["ivfpq"] < per_track["ivfsq8"] < per_track["ivf"] / 2
    config = IndexConfig(approximate_above=1000, min_recall=0.9, recall_queries=200, kinds=("ivfpq",),
                         exact_if_faster=False, latency_queries=20)
    build_index(ws, emb, config)
    index = load_index(ws, emb, config)
    assert index.kind == "ivfpq" and isinstance(index.approximate.vectors, np.memmap)


def test_re_ranking_returns_exact_inner_products(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, min_recall=0.9, recall_queries=200, kinds=("ivfpq",),
                         exact_if_faster=False, latency_queries=20)
    build_index(ws, emb, config)
    index = load_index(ws, emb, config)
    queries = emb.tracks[::101] * np.float32(0.5)  # not unit length: scores are inner products, not cosines
    scores, rows = index.search(queries, 10)
    expected = np.einsum("mkd,md->mk", emb.tracks[rows].astype(np.float64), queries.astype(np.float64))
    assert np.allclose(scores, expected, rtol=1e-6, atol=1e-7)
    assert np.all(np.diff(scores, axis=1) <= 0)
    # among any candidate set, re-ranking keeps exactly the brute-force best of that set
    rng = np.random.default_rng(3)
    candidates = np.stack([rng.choice(N, size=200, replace=False) for _ in queries])
    _, reranked = rerank(emb.tracks, queries, candidates, 5)
    for query, cand, got in zip(queries, candidates, reranked):
        best = cand[np.argsort(-(emb.tracks[cand].astype(np.float64) @ query.astype(np.float64)))[:5]]
        assert list(got) == list(best)


def test_chooser_picks_exact_when_no_kind_reaches_min_recall(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, DIM)).astype(np.float32)  # no structure for inverted lists to find
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ws, emb = _store(tmp_path, x)
    config = IndexConfig(approximate_above=1000, min_recall=1.0, recall_queries=100, kinds=("ivf", "ivfpq"),
                         max_scan_fraction=0.25, latency_queries=20)
    meta = build_index(ws, emb, config)
    assert meta["kind"] == "exact" and max(c["recall_at_10"] for c in meta["candidates"].values()) < 1.0
    assert not (ws.indexes_dir / "m" / "index.faiss").exists()
    index = load_index(ws, emb, config)
    assert index.kind == "exact" and "no index kind reached recall@10 1.0" in index.warnings[0]
    assert np.array_equal(index.search(x[:3], 10)[1], _brute_force(x, x[:3], 10))


def test_choice_is_the_fastest_kind_reaching_the_floor():
    kinds = {"ivf": {"recall_at_10": 0.97, "p95_ms": 9.0}, "hnsw": {"recall_at_10": 0.99, "p95_ms": 2.0},
             "ivfpq": {"recall_at_10": 0.90, "p95_ms": 1.0}}
    assert choose_kind(kinds, 50.0, 0.95)[0] == "hnsw"
    assert choose_kind(kinds, 1.5, 0.95)[0] == "exact"
    assert choose_kind(kinds, 1.5, 0.95, exact_if_faster=False)[0] == "hnsw"
    assert choose_kind(kinds, 50.0, 0.995) == ("exact", "no index kind reached recall@10 0.995 (best: hnsw 0.99)")


def test_exact_search_beyond_memory_is_a_chunked_brute_force(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, compressed_above=2000, min_recall=0.9, recall_queries=100,
                         exact_if_faster=False, latency_queries=10)
    meta = build_index(ws, emb, config)
    assert sorted(meta["candidates"]) == ["ivfpq", "ivfsq8"] and meta["exact"]["in_memory"] is False
    assert np.array_equal(exact_top_k(emb.tracks, emb.tracks[:4], 10, chunk=700),
                          _brute_force(emb.tracks, emb.tracks[:4], 10))
    fallback = load_index(ws, emb, IndexConfig(approximate_above=1000, compressed_above=2000, min_recall=1.0))
    assert fallback.kind == "exact" and fallback.exact.flat is None
    assert np.array_equal(fallback.search(emb.tracks[:4], 10)[1], _brute_force(emb.tracks, emb.tracks[:4], 10))


def test_index_below_the_recall_floor_is_refused_with_a_warning(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, recall_queries=100, kinds=("ivf",), exact_if_faster=False,
                         latency_queries=10)
    build_index(ws, emb, config)
    path = ws.indexes_dir / "m" / "index.json"
    meta = json.loads(path.read_text())
    meta["recall_at_10"] = 0.5  # as if the data defeated the IVF
    path.write_text(json.dumps(meta))
    engine = Engine(ws, emb, index=load_index(ws, emb, config))
    result = q.track_to_tracks(engine, "t7", k=10)
    assert result.index == "exact"
    assert any("recall@10 0.5 is below 0.95" in w for w in result.warnings)
    exact = np.lexsort((np.arange(N), -(emb.tracks.astype(np.float64) @ emb.tracks[7].astype(np.float64))))
    assert result.ids == [f"t{i}" for i in exact if i != 7][:10]


def test_persisted_index_is_reloaded_only_for_the_same_source_key(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, min_recall=0.9, recall_queries=50, kinds=("hnsw",),
                         exact_if_faster=False, latency_queries=10)
    meta = build_index(ws, emb, config)
    stored = ws.indexes_dir / "m" / "index.faiss"
    written = stored.stat().st_mtime_ns
    assert build_index(ws, emb, config) == meta and stored.stat().st_mtime_ns == written  # current: kept
    first = load_index(ws, emb, config)
    again = load_index(ws, emb, config)
    assert again.kind == "hnsw" and np.array_equal(first.search(emb.tracks[:5], 10)[1],
                                                   again.search(emb.tracks[:5], 10)[1])
    emb.meta["source"] = {"checkpoint_sha256": "retrained"}
    index = load_index(ws, emb, config)
    assert index.kind == "exact" and "no approximate index" in index.warnings[0]
    assert build_index(ws, emb, config)["source"] == emb.meta["source"] and stored.stat().st_mtime_ns != written


def test_config_is_validated():
    with pytest.raises(ParameterError, match="min_recall"):
        IndexConfig(min_recall=1.5)
    with pytest.raises(ParameterError, match="unknown index kind"):
        IndexConfig(kinds=("lsh",))
