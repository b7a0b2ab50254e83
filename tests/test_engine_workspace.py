"""The engine on the tiny demo workspace: every real model loads and answers from the build's caches."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

from core.engine import Engine, load_projection
from core.engine import queries as q
from core.engine.embed import embeddings_current

ROOT = Path(__file__).resolve().parents[1]


def test_build_cached_every_model_and_word_embedding(tiny_workspace):
    ws = tiny_workspace
    assert ws.model_names(), "the tiny demo trains models"
    for name in ws.model_names():
        assert embeddings_current(ws, name)
        proj = load_projection(ws, "model", name)
        assert proj.kinds.count("track") == len(ws.catalog.track_ids)
    for name in ws.word_embedding_names():
        assert load_projection(ws, "words", name).coords.shape[1] == 2


def test_every_model_answers_its_queries_without_fitting_or_compiling(tiny_workspace, monkeypatch):
    import umap
    from numba.core import event

    def refuse(*args, **kwargs):
        raise AssertionError("UMAP fit on the request path")

    for method in ("fit", "fit_transform", "transform"):
        monkeypatch.setattr(umap.UMAP, method, refuse)
    ws = tiny_workspace
    first, second = ws.catalog.track_ids[:2]
    with event.install_recorder("numba:compile") as compiles:
        for name in ws.model_names():
            engine = Engine.load(ws, name)
            similar = q.track_to_tracks(engine, first, k=5)
            assert len(similar.ids) == 5 and first not in similar.ids
            load_projection(ws, "model", name).place(engine.track_vector(second))
            if engine.has_text:
                tag = next(t["term"] for t in engine.emb.terms if t["kind"] == "tag" and t["seen"])
                found = q.text_to_tracks(engine, tag, k=5)
                assert found.used["source"] == "vocabulary" and len(found.ids) == 5
                tags = q.track_to_tags(engine, first, k=3, vocabulary="all")
                assert len(tags.hits) == 3
            spaces = [s for s in engine.subspaces if s != "all"]
            if spaces:
                weights = {s: float(w) for s, w in zip(spaces, np.linspace(0.2, 1.0, len(spaces)))}
                result = q.weighted_subspace_search(engine, first, weights, k=5)
                assert set(result.hits[0].subspaces) == set(spaces) | {"track"}
                q.mix_and_match(engine, {spaces[0]: first, spaces[-1]: second}, k=3)
    assert compiles.buffer == []


def test_app_process_never_imports_umap(tiny_workspace):
    """A fresh process, like the app's: loading every engine and map, querying, placing points."""
    script = textwrap.dedent(f"""
        import sys
        from core.workspace import Workspace
        from core.engine import Engine, load_projection
        from core.engine import queries as q
        ws = Workspace.open({str(tiny_workspace.root)!r})
        for name in ws.model_names():
            engine = Engine.load(ws, name)
            q.track_to_tracks(engine, ws.catalog.track_ids[0], k=3)
            load_projection(ws, "model", name).place(engine.track_vector(ws.catalog.track_ids[1]))
        for name in ws.word_embedding_names():
            load_projection(ws, "words", name).frame()
        print("umap" in sys.modules, "numba" in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["False", "False"]
