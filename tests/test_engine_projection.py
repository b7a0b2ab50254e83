"""Maps: cache keyed by inputs, never computed on load, preservation scores, sampling, placing new points."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from core.engine import queries as q
from core.engine.embed import extract_embeddings, load_embeddings
from core.engine.engine import Engine
from core.engine.index import load_index
from core.engine.projection import (ProjectionNotComputed, UmapParams, compute_projection, load_projection,
                                    neighbourhood_preservation, stratified_sample)
from core.errors import ParameterError

from tests.fixtures.engine_fakes import make_synthetic

ROOT = Path(__file__).resolve().parents[1]
PARAMS = UmapParams(n_neighbors=8)


def _mapped(synthetic: dict) -> dict:
    ws = synthetic["ws"]
    extract_embeddings(ws, "fake", model=synthetic["model"], words=synthetic["words"], mel=synthetic["mel"])
    compute_projection(ws, "model", "fake", PARAMS)
    compute_projection(ws, "words", "fakewords", PARAMS)
    return synthetic


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    """Synthetic workspace with embeddings of ``fake`` and maps of ``fake`` and ``fakewords`` (read-only)."""
    return _mapped(make_synthetic(tmp_path_factory.mktemp("mapped")))


def test_stratified_sample_keeps_every_label_in_proportion():
    labels = ["a"] * 900 + ["b"] * 90 + ["c"] * 10
    idx = stratified_sample(labels, 100, seed=3)
    assert len(idx) == 100 and len(set(idx)) == 100 and np.all(np.diff(idx) > 0)
    picked = np.array(labels)[idx]
    assert (picked == "a").sum() == 90 and (picked == "b").sum() == 9 and (picked == "c").sum() == 1
    assert not np.array_equal(idx[:90], np.arange(90)), "never the first N"
    assert np.array_equal(idx, stratified_sample(labels, 100, seed=3))
    assert not np.array_equal(idx, stratified_sample(labels, 100, seed=4))
    rare = stratified_sample(["x"] * 50 + list("abcdefghij"), 12)  # every label at least once
    assert len(rare) == 12 and set(np.array(["x"] * 50 + list("abcdefghij"))[rare]) == set("xabcdefghij")
    assert np.array_equal(stratified_sample(labels[:50], 100), np.arange(50))
    with pytest.raises(ParameterError):
        stratified_sample(labels, 0)


def test_neighbourhood_preservation_is_one_for_an_isometry_and_low_for_noise():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 2))
    assert np.all(neighbourhood_preservation(points, points * 3 + 1, k=5) == 1.0)
    noise = neighbourhood_preservation(rng.normal(size=(200, 10)), points, k=5)
    assert noise.mean() < 0.2 and noise.shape == (200,)


def test_maps_are_cached_with_tracks_tags_and_preservation(mapped):
    ws = mapped["ws"]
    proj = load_projection(ws, "model", "fake", PARAMS)
    emb = load_embeddings(ws, "fake")
    n_tags = sum(t["kind"] == "tag" for t in emb.terms)
    assert proj.coords.shape == (60 + n_tags, 2) and proj.kinds.count("tag") == n_tags
    assert proj.ids[:60] == emb.track_ids and proj.categories[0] is None and "genre" in proj.categories
    assert np.all((proj.preservation >= 0) & (proj.preservation <= 1)) and proj.preservation.mean() > 0.2
    frame = proj.frame()
    assert list(frame.columns) == ["id", "kind", "category", "x", "y", "preservation"]
    words = load_projection(ws, "words", "fakewords", PARAMS)
    assert words.meta["missing_tags"] and "zzyzx" in words.meta["missing_tags"]
    assert set(words.ids) <= set(ws.catalog.tags()) and "hip hop" in words.ids
    # a second compute is a cache hit (same file, not rewritten)
    mtime = proj.path.stat().st_mtime_ns
    assert compute_projection(ws, "model", "fake", PARAMS).path.stat().st_mtime_ns == mtime


def test_missing_or_stale_maps_are_not_computed_on_load(synthetic):
    mapped = _mapped(synthetic)  # this test changes the workspace: its own copy
    ws = mapped["ws"]
    with pytest.raises(ProjectionNotComputed, match="python -m core project"):
        load_projection(ws, "model", "fake", UmapParams(n_neighbors=5))  # other parameters
    with pytest.raises(ProjectionNotComputed, match="python -m core embed"):
        load_projection(ws, "model", "plain")  # no embeddings at all
    with open(ws.models_dir / "fake" / "model.pt", "ab") as f:  # retrained: old map is stale
        f.write(b"\0")
    extract_embeddings(ws, "fake", model=mapped["model"], words=mapped["words"], mel=mapped["mel"])
    with pytest.raises(ProjectionNotComputed):
        load_projection(ws, "model", "fake", PARAMS)
    compute_projection(ws, "model", "fake", PARAMS)
    assert len(list(ws.projections_dir.glob("model-fake-*.npz"))) == 1, "stale maps are removed"


def test_place_puts_known_points_near_their_map_position(mapped):
    proj = load_projection(mapped["ws"], "model", "fake", PARAMS)
    placed = proj.place(np.asarray(proj.vectors[:10]))
    spread = np.ptp(proj.coords, axis=0).max()
    assert placed.shape == (10, 2)
    assert np.median(np.linalg.norm(placed - proj.coords[:10], axis=1)) < 0.15 * spread
    with pytest.raises(ParameterError, match="dims"):
        proj.place(np.ones(3))


def test_loading_maps_and_answering_queries_never_fits_or_compiles(mapped, monkeypatch):
    import umap
    from numba.core import event

    def refuse(*args, **kwargs):
        raise AssertionError("UMAP fit on the request path")

    monkeypatch.setattr(umap.UMAP, "fit", refuse)
    monkeypatch.setattr(umap.UMAP, "fit_transform", refuse)
    monkeypatch.setattr(umap.UMAP, "transform", refuse)
    ws = mapped["ws"]
    with event.install_recorder("numba:compile") as compiles:
        proj = load_projection(ws, "model", "fake", PARAMS)
        emb = load_embeddings(ws, "fake")
        engine = Engine(ws, emb, mapped["model"], mapped["words"], load_index(ws, emb))
        result = q.text_to_tracks(engine, "dreamy piano", k=5)
        proj.place(q.text_vector(engine, "dreamy piano")[0])
        q.weighted_subspace_search(engine, result.ids[0], {"genre": 1.0, "tempo": 0.5})
        load_projection(ws, "words", "fakewords", PARAMS).frame()
    assert compiles.buffer == []


def test_a_fresh_process_loads_maps_and_queries_without_importing_umap_or_numba(mapped):
    """What the app process does: no UMAP, hence no numba compile, anywhere on its path."""
    script = textwrap.dedent(f"""
        import sys
        from core.workspace import Workspace
        from core.engine import Engine, load_embeddings, load_projection, UmapParams
        from core.engine.index import load_index
        from core.engine import queries as q
        ws = Workspace.open({str(mapped["ws"].root)!r})
        params = UmapParams(n_neighbors=8)
        proj = load_projection(ws, "model", "fake", params)
        emb = load_embeddings(ws, "fake")
        engine = Engine(ws, emb, index=load_index(ws, emb))
        hits = q.text_to_tracks(engine, "rock", k=3).ids + q.track_to_tracks(engine, "t001", k=3).ids
        proj.place(emb.tracks[:2]); load_projection(ws, "words", "fakewords", params)
        print(len(hits), "umap" in sys.modules, "numba" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["6", "False", "False"]


def test_map_metadata_records_parameters_and_timing(mapped):
    proj = load_projection(mapped["ws"], "model", "fake", PARAMS)
    meta = json.loads(proj.path.with_suffix(".json").read_text())
    assert meta["params"]["n_neighbors"] == 8 and meta["fit_seconds"] >= 0 and meta["n_tracks"] == 60
