"""``embeddings import``: every file format, every refused input, then queries, evaluation and listening scoring."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from core.cli import main
from core.engine.embed import embeddings_current, extract_embeddings, load_embeddings
from core.engine.engine import Engine
from core.engine.queries import text_to_tracks, track_to_tags, track_to_tracks, weighted_subspace_search
from core.engine.results import QueryError
from core.errors import CheckpointError, DataError, ParameterError
from core.evaluation.run import evaluate_workspace
from core.importers.embeddings import import_embeddings, parse_subspaces
from core.listening.scoring import model_vs_human_accuracy, workspace_embedders
from core.models.base import CAPABILITIES
from tests.embedding_support import DIM, SUBSPACES, copy_without_models, tag_vectors, track_vectors


@pytest.fixture(scope="module")
def ws(tiny_workspace, tmp_path_factory):
    return copy_without_models(tiny_workspace, tmp_path_factory.mktemp("imported") / "ws")


@pytest.fixture(scope="module")
def files(ws, tmp_path_factory):
    """The same vectors in every format (tracks with two ids the catalog lacks)."""
    folder = tmp_path_factory.mktemp("vectors")
    ids, vectors = track_vectors(ws)
    ids = ids + ["not-in-catalog-1", "not-in-catalog-2"]
    vectors = np.concatenate([vectors, np.ones((2, DIM), np.float32)])
    tags, tvec = tag_vectors(ws)
    np.save(folder / "tracks.npy", vectors)
    (folder / "ids.txt").write_text("\n".join(ids) + "\n")
    (folder / "ids.json").write_text(json.dumps(ids))
    np.savez(folder / "tracks.npz", embeddings=vectors, ids=np.array(ids))
    np.save(folder / "tags.npy", tvec)
    (folder / "tag_ids.txt").write_text("\n".join(tags))
    pq.write_table(pa.table({"track_id": ids, "embedding": pa.array(list(vectors), pa.list_(pa.float32(), DIM))}),
                   folder / "tracks.parquet")
    # MWE's released layout: one table of tracks and tags (multi-word tags without spaces)
    mwe_tags = [t.replace(" ", "") for t in tags]
    pq.write_table(pa.table({"token": ids + mwe_tags, "content": ["track"] * len(ids) + ["tag"] * len(tags),
                             "vector": [list(map(float, v)) for v in np.concatenate([vectors, tvec])]}),
                   folder / "mwe.parquet")
    # per-segment arrays: three segments whose mean is the track vector
    offsets = np.stack([np.full(DIM, -0.3), np.zeros(DIM), np.full(DIM, 0.3)]).astype(np.float32)
    np.save(folder / "segments.npy", vectors[:, None, :] + offsets[None])
    return folder, ids, vectors, tags, tvec


def _stored(ws, name):
    emb = load_embeddings(ws, name)
    return emb, json.loads((ws.models_dir / name / "config.json").read_text())


def _unit(v):
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


# ------------------------------------------------------------------ formats
@pytest.mark.parametrize("kind", ["npy-txt", "npy-json", "npz", "parquet", "mwe", "segments"])
def test_each_format_imports_the_same_vectors(ws, files, kind):
    folder, ids, vectors, tags, tvec = files
    args = {"npy-txt": ("tracks.npy", "ids.txt"), "npy-json": ("tracks.npy", "ids.json"), "npz": ("tracks.npz", None),
            "parquet": ("tracks.parquet", None), "mwe": ("mwe.parquet", None),
            "segments": ("segments.npy", "ids.txt")}[kind]
    terms = {"terms": folder / "mwe.parquet"} if kind == "mwe" else {}
    summary = import_embeddings(ws, f"fmt-{kind}", folder / args[0], folder / args[1] if args[1] else None, **terms)
    emb, config = _stored(ws, f"fmt-{kind}")
    n = len(ws.catalog.track_ids)
    assert summary["tracks_matched"] == n and summary["tracks_unmatched"] == 2
    assert summary["unmatched_examples"] == ["not-in-catalog-1", "not-in-catalog-2"]
    assert emb.track_ids == ws.catalog.track_ids
    np.testing.assert_allclose(emb.tracks, _unit(vectors[:n]), atol=1e-5)
    assert np.allclose(np.linalg.norm(emb.tracks, axis=1), 1.0, atol=1e-5)
    assert config["source"] == "embeddings" and config["family"] == "embeddings"
    assert set(config["capabilities"]) <= set(CAPABILITIES) and not {"audio", "zero_shot"} & set(config["capabilities"])
    assert not (ws.models_dir / f"fmt-{kind}" / "model.pt").exists()
    assert embeddings_current(ws, f"fmt-{kind}")
    if kind == "segments":
        assert summary["files"]["tracks"]["pooled"] == "mean over 3 segments"
    if kind == "mwe":  # tags written without spaces are matched back to the catalog's names
        assert config["capabilities"] == ["text"]
        assert summary["terms"]["matched"] == len(tags) and summary["terms"]["unmatched"] == 0
        assert [t["term"] for t in emb.terms] == tags
        assert all(t["category"] is not None for t in emb.terms)
        np.testing.assert_allclose(emb.term_vectors, _unit(tvec), atol=1e-5)


def test_max_pool_and_raw_inner_product(ws, files):
    folder, ids, vectors, *_ = files
    import_embeddings(ws, "maxpool", folder / "segments.npy", folder / "ids.txt", metric="ip", pool="max")
    emb, config = _stored(ws, "maxpool")
    n = len(ws.catalog.track_ids)
    np.testing.assert_allclose(emb.tracks, vectors[:n] + 0.3, atol=1e-5)  # raw, not normalised
    assert emb.metric == "ip" and config["model"]["metric"] == "ip"


def test_subspaces_and_terms_give_capabilities(ws, files):
    folder, *_ = files
    import_embeddings(ws, "full", folder / "tracks.npy", folder / "ids.txt", terms=folder / "tags.npy",
                      term_ids=folder / "tag_ids.txt", subspaces=SUBSPACES)
    emb, config = _stored(ws, "full")
    assert config["capabilities"] == ["text", "subspaces"]
    assert set(emb.subspaces) == {"genre", "mood", "instrument", "tempo"}
    assert emb.subspaces["mood"] == slice(16, 32)


def test_parse_subspaces():
    assert parse_subspaces("a:0-3,b:4-9") == {"a": [0, 4], "b": [4, 10]}
    for bad in ("a:0-3", "a:0-3,a:4-5", "a:0-5,b:3-9", "a:3-1,b:4-5", "a0-3,b:4-5", "all:0-1,b:2-3"):
        with pytest.raises(ParameterError):
            parse_subspaces(bad)


# ------------------------------------------------------------------- errors
def _bad(folder, name, array):
    np.save(folder / name, array)
    return folder / name


def test_refused_inputs_name_the_file_and_row(ws, files, tmp_path):
    folder, ids, vectors, tags, _ = files
    n = len(ids)
    ids_txt = folder / "ids.txt"

    nan = vectors.copy()
    nan[4, 2] = np.nan
    with pytest.raises(DataError, match=r"nan\.npy: row 5 has NaN or infinite"):
        import_embeddings(ws, "bad", _bad(tmp_path, "nan.npy", nan), ids_txt)
    inf = vectors.copy()
    inf[7, 0] = np.inf
    with pytest.raises(DataError, match=r"inf\.npy: row 8 has NaN or infinite"):
        import_embeddings(ws, "bad", _bad(tmp_path, "inf.npy", inf), ids_txt)

    objects = np.empty(n, dtype=object)
    objects[:] = [list(v) for v in vectors]
    np.save(tmp_path / "objects.npy", objects, allow_pickle=True)
    with pytest.raises(DataError, match=r"objects\.npy: holds Python objects.*never unpickles"):
        import_embeddings(ws, "bad", tmp_path / "objects.npy", ids_txt)
    np.savez(tmp_path / "objects.npz", embeddings=vectors, ids=np.array(ids, dtype=object))
    with pytest.raises(DataError, match=r"objects\.npz: holds Python objects"):
        import_embeddings(ws, "bad", tmp_path / "objects.npz")

    dupes = list(ids)
    dupes[9] = dupes[3]
    (tmp_path / "dupes.txt").write_text("\n".join(dupes))
    with pytest.raises(DataError, match=rf"dupes\.txt: duplicate id '{ids[3]}' at rows 4 and 10"):
        import_embeddings(ws, "bad", folder / "tracks.npy", tmp_path / "dupes.txt")
    (tmp_path / "short.txt").write_text("\n".join(ids[:-1]))
    with pytest.raises(DataError, match=rf"short\.txt: {n - 1} ids for the {n} rows of .*tracks\.npy"):
        import_embeddings(ws, "bad", folder / "tracks.npy", tmp_path / "short.txt")
    (tmp_path / "blank.txt").write_text("\n".join(ids[:2] + [""] + ids[3:]))
    with pytest.raises(DataError, match=r"blank\.txt: row 3 has an empty id"):
        import_embeddings(ws, "bad", folder / "tracks.npy", tmp_path / "blank.txt")

    with pytest.raises(DataError, match=r"text\.npy: vectors must be numbers"):
        import_embeddings(ws, "bad", _bad(tmp_path, "text.npy", np.array(ids)), ids_txt)
    with pytest.raises(DataError, match=r"flat\.npy: expected shape \(n, d\)"):
        import_embeddings(ws, "bad", _bad(tmp_path, "flat.npy", vectors[:, 0]), ids_txt)
    zero = vectors.copy()
    zero[2] = 0
    with pytest.raises(DataError, match=rf"zero\.npy: row 3 \('{ids[2]}'\) is all zeros"):
        import_embeddings(ws, "bad", _bad(tmp_path, "zero.npy", zero), ids_txt)
    with pytest.raises(DataError, match=r"wide\.npy: term vectors have 5 dimensions but the track vectors"):
        import_embeddings(ws, "bad", folder / "tracks.npy", ids_txt, terms=_bad(tmp_path, "wide.npy", np.ones((len(tags), 5))),
                          term_ids=folder / "tag_ids.txt")
    with pytest.raises(DataError, match=r"none of its .* ids is a track id of the catalog"):
        (tmp_path / "strangers.txt").write_text("\n".join(f"x{i}" for i in range(n)))
        import_embeddings(ws, "bad", folder / "tracks.npy", tmp_path / "strangers.txt")
    with pytest.raises(ParameterError, match=r"a \.npy file holds no ids"):
        import_embeddings(ws, "bad", folder / "tracks.npy")
    with pytest.raises(ParameterError, match=f"goes past the {DIM} dimensions"):
        import_embeddings(ws, "bad", folder / "tracks.npy", ids_txt, subspaces=f"a:0-15,b:16-{DIM + 3}")
    with pytest.raises(ParameterError, match="model name"):
        import_embeddings(ws, "../escape", folder / "tracks.npy", ids_txt)
    assert not (ws.models_dir / "bad").exists() and "bad" not in ws.model_names()  # nothing written


def test_parquet_problems_name_the_row(ws, tmp_path):
    ragged = pa.table({"id": ["a", "b", "c"], "vector": [[1.0, 2.0], [1.0, 2.0], [1.0]]})
    pq.write_table(ragged, tmp_path / "ragged.parquet")
    with pytest.raises(DataError, match=r"ragged\.parquet: row 3 \('c'\) has 1 values where 2 are expected"):
        import_embeddings(ws, "bad", tmp_path / "ragged.parquet")
    pq.write_table(pa.table({"id": ["a", "b"], "vector": [[1.0, None], [1.0, 2.0]]}), tmp_path / "nulls.parquet")
    with pytest.raises(DataError, match=r"nulls\.parquet: row 1 \('a'\) has a missing \(null\) value"):
        import_embeddings(ws, "bad", tmp_path / "nulls.parquet")
    pq.write_table(pa.table({"name": ["a"], "x": [1.0]}), tmp_path / "columns.parquet")
    with pytest.raises(DataError, match=r"columns\.parquet: needs an id column"):
        import_embeddings(ws, "bad", tmp_path / "columns.parquet")
    pq.write_table(pa.table({"token": ["a"], "content": ["tag"], "vector": [[1.0]]}), tmp_path / "mwe.parquet")
    with pytest.raises(DataError, match=r"mwe\.parquet: no rows with content 'track'"):
        import_embeddings(ws, "bad", tmp_path / "mwe.parquet")
    (tmp_path / "junk.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"junk\.parquet: not a readable Parquet file"):
        import_embeddings(ws, "bad", tmp_path / "junk.parquet")


def test_a_trained_model_is_not_replaced(ws, files):
    folder, *_ = files
    (ws.models_dir / "trained").mkdir(parents=True, exist_ok=True)
    (ws.models_dir / "trained" / "model.pt").write_bytes(b"")
    try:
        with pytest.raises(CheckpointError, match="holds a trained model"):
            import_embeddings(ws, "trained", folder / "tracks.npy", folder / "ids.txt")
    finally:
        (ws.models_dir / "trained" / "model.pt").unlink()
        (ws.models_dir / "trained").rmdir()


def test_cli_imports_and_reports_errors(ws, files, capsys):
    folder, *_ = files
    code = main(["embeddings", "import", "--workspace", str(ws.root), "--name", "cli", "--tracks",
                 str(folder / "tracks.npz"), "--terms", str(folder / "tags.npy"), "--term-ids",
                 str(folder / "tag_ids.txt"), "--subspaces", SUBSPACES])
    out = capsys.readouterr()
    assert code == 0 and f"{len(ws.catalog.track_ids)} tracks imported" in out.out
    assert "2 id(s) not in the catalog" in out.err
    code = main(["embed", "--workspace", str(ws.root), "--model", "cli"])
    assert code == 0 and "embedding-only model" in capsys.readouterr().out and embeddings_current(ws, "cli")
    code = main(["embeddings", "import", "--workspace", str(ws.root), "--name", "cli2", "--tracks",
                 str(folder / "tracks.npy")])
    assert code == 2 and "holds no ids" in capsys.readouterr().err


# ------------------------------------------------------------ use it
@pytest.fixture(scope="module")
def full_model(ws, files):
    folder, *_ = files
    import_embeddings(ws, "full", folder / "tracks.npy", folder / "ids.txt", terms=folder / "tags.npy",
                      term_ids=folder / "tag_ids.txt", subspaces=SUBSPACES)
    return "full"


def test_queries_work_and_audio_is_refused_with_the_reason(ws, full_model):
    eng = Engine.load(ws, full_model)
    assert eng.capabilities == {"text", "subspaces"}
    assert extract_embeddings(ws, full_model).track_ids == eng.track_ids  # nothing to compute
    catalog = ws.catalog
    query = catalog.track_ids[0]
    hits = track_to_tracks(eng, query, k=5).hits
    genre = set(catalog.tags_of(query).get("genre", []))
    assert len(hits) == 5 and query not in [h.id for h in hits]
    # the genre subspace alone ranks same-genre tracks first (the vectors were built from the tags)
    only_genre = weighted_subspace_search(eng, query, weights={"genre": 1.0, "mood": 0, "instrument": 0, "tempo": 0,
                                                               "track": 0}, k=3).hits
    assert set(catalog.tags_of(only_genre[0].id).get("genre", [])) & genre
    tag = sorted(genre)[0]
    top = text_to_tracks(eng, tag, k=3).hits
    assert all(tag in catalog.tags_of(h.id).get("genre", []) for h in top)
    assert tag in [h.id for h in track_to_tags(eng, query, k=10).hits]
    with pytest.raises(QueryError, match="embedding-only model .* cannot embed an uploaded clip"):
        track_to_tracks(eng, b"RIFF....", filename="clip.wav")
    assert "cannot embed" in eng.unavailable("audio") and eng.unavailable("subspaces") is None
    assert "only for the terms imported" in eng.unavailable("zero_shot")


def test_track_only_model_has_no_text(ws, files):
    folder, *_ = files
    import_embeddings(ws, "plain", folder / "tracks.npy", folder / "ids.txt")
    eng = Engine.load(ws, "plain")
    assert eng.capabilities == frozenset() and "without term vectors" in eng.unavailable("text")
    with pytest.raises(QueryError, match="no text side"):
        text_to_tracks(eng, "rock")


def test_evaluate_scores_what_vectors_allow(ws, full_model, tmp_path):
    out = evaluate_workspace(ws, models=[full_model], words=False, out=tmp_path / "evaluation.json", n_triplets=2000)
    assert out["errors"] == {}
    entry = out["models"][full_model]
    metrics, details = entry["metrics"], entry["details"]
    assert entry["family"] == "embeddings"
    assert metrics["triplet_acc"]["track"] is None and "track triplets" in details["track_triplets_skipped"]
    # vectors built from the tags: far above chance in every dimension and subspace, and for tags
    assert metrics["triplet_acc"]["all_dims"]["overall"] > 0.6
    assert metrics["triplet_acc"]["sub_dims"]["overall"] > 0.8  # each dimension in its own block
    assert metrics["r_at_k"]["1"] > metrics["r_at_k_chance"]["tag_jaccard"]["1"]
    assert metrics["roc_auc_tag"] > 0.9 and details["n_tags"] > 0
    assert entry["intervals"]["roc_auc_tag"][0] <= metrics["roc_auc_tag"] <= entry["intervals"]["roc_auc_tag"][1]
    assert details["test_tracks_without_vector"] == 0 and "track-level" in details["vectors"]


def test_listening_scoring_uses_track_vectors(ws, full_model):
    import pandas as pd

    embedder = workspace_embedders(ws, [full_model])[full_model]
    assert embedder.level == "track" and set(embedder.spaces) == {"full", "genre", "mood", "instrument", "tempo"}
    catalog = ws.catalog
    ids = catalog.track_ids
    genre = {t: tuple(catalog.tags_of(t).get("genre", [])) for t in ids}
    a = ids[0]
    same = next(t for t in ids[1:] if genre[t] == genre[a])
    other = next(t for t in ids[1:] if genre[t] and not set(genre[t]) & set(genre[a]))
    trials = pd.DataFrame([{"anchor_id": a, "anchor_start": s, "song1_id": same, "song1_start": 0.0,
                            "song2_id": other, "song2_start": 1.0, "clip_seconds": 3.0, "label": "song1"}
                           for s in (0.0, 2.5)])
    rows = {r["space"]: r for r in model_vs_human_accuracy(trials, embedder)}
    assert rows["genre"]["n"] == 2 and rows["genre"]["correct"] == 2


def test_partial_coverage_is_counted_in_queries_and_evaluation(ws, files, tmp_path):
    folder, ids, vectors, *_ = files
    missing = ws.catalog.split_ids("test")[:2]
    keep = [i for i, t in enumerate(ids) if t not in missing]
    np.save(tmp_path / "part.npy", vectors[keep])
    (tmp_path / "part.txt").write_text("\n".join(ids[i] for i in keep))
    summary = import_embeddings(ws, "part", tmp_path / "part.npy", tmp_path / "part.txt")
    assert summary["catalog_tracks_without_vector"] == 2
    with pytest.raises(QueryError, match=f"has no vector for track '{missing[0]}'"):
        track_to_tracks(Engine.load(ws, "part"), missing[0])
    out = evaluate_workspace(ws, models=["part"], words=False, out=tmp_path / "evaluation.json", n_triplets=2000)
    details = out["models"]["part"]["details"]
    assert details["test_tracks_without_vector"] == 2 and details["triplets_without_vector"] > 0
    assert details["n_test_tracks"] == len(ws.catalog.split_ids("test")) - 2
    assert out["models"]["part"]["metrics"]["triplet_acc"]["all_dims"]["overall"] is not None
