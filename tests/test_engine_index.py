"""Indexes: exact by default, IVF above the size threshold with measured recall, refused below it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from core.engine import queries as q
from core.engine.embed import EmbeddingSet
from core.engine.engine import Engine
from core.engine.index import IndexConfig, build_index, load_index, recall_at_k
from core.errors import ParameterError
from core.workspace import Workspace

N, DIM = 3000, 32
SUBSPACES = {"a": [0, 16], "b": [16, 32]}


@pytest.fixture()
def clustered(tmp_path):
    """3,000 unit vectors around 30 centres, stored as a model's embeddings."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(30, DIM))
    x = (centres[rng.integers(30, size=N)] + 0.3 * rng.normal(size=(N, DIM))).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    ws = Workspace.create(tmp_path / "ws", name="index")
    meta = {"source": {"checkpoint_sha256": "x"}, "metric": "cosine", "subspaces": SUBSPACES,
            "has_text": False, "maps_word_vectors": False}
    emb = EmbeddingSet("m", [f"t{i}" for i in range(N)], x, [], np.zeros((0, DIM), np.float32), meta)
    return ws, emb


def test_small_catalogs_use_exact_search_only(clustered):
    ws, emb = clustered
    assert build_index(ws, emb, IndexConfig(approximate_above=N)) is None
    index = load_index(ws, emb, IndexConfig(approximate_above=N))
    assert index.kind == "exact" and index.warnings == []


def test_ivf_recall_is_measured_stored_and_reached(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, min_recall=0.9, recall_queries=200)
    meta = build_index(ws, emb, config)
    assert meta["kind"] == "ivf" and meta["recall_at_10"] >= 0.9 and 1 <= meta["nprobe"] <= meta["nlist"]
    stored = json.loads((ws.indexes_dir / "m" / "index.json").read_text())
    assert stored["recall_at_10"] == meta["recall_at_10"] and stored["source"] == emb.meta["source"]
    index = load_index(ws, emb, config)
    assert index.kind == "ivf" and index.warnings == []
    # the stored recall is what an independent measurement finds
    queries = emb.tracks[::37]
    truth = np.argsort(-(emb.tracks @ queries.T), axis=0)[:10].T
    assert recall_at_k(index.search(queries, 10)[1], truth) >= 0.85
    engine = Engine(ws, emb, index=index)
    result = q.track_to_tracks(engine, "t7", k=10)
    assert result.index == "ivf" and len(result.ids) == 10


def test_index_below_the_recall_floor_is_refused_with_a_warning(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, recall_queries=100)
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


def test_stale_index_is_not_loaded(clustered):
    ws, emb = clustered
    config = IndexConfig(approximate_above=1000, recall_queries=50)
    build_index(ws, emb, config)
    emb.meta["source"] = {"checkpoint_sha256": "retrained"}
    index = load_index(ws, emb, config)
    assert index.kind == "exact" and "no approximate index" in index.warnings[0]


def test_config_is_validated():
    with pytest.raises(ParameterError, match="min_recall"):
        IndexConfig(min_recall=1.5)
