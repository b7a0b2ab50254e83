"""Comparing two models (core.compare) on a synthetic workspace, against brute-force numpy references."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

from core.catalog import Catalog
from core.compare import neighbourhoods as nb
from core.compare.capabilities import shared_query_kinds
from core.compare.export import csv_bytes, m3u_playlist, track_table
from core.compare.metrics import metric_group
from core.compare.rankings import compare_query, compare_results, jaccard
from core.compare.triplets import aligned_vectors, as_design_triplets, most_disagreeing, opposite_triplets
from core.engine.embed import EmbeddingSet
from core.engine.engine import Engine
from core.engine.results import Hit, QueryResult
from core.errors import DataError, ParameterError
from core.workspace import Workspace

N = 300


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def _engine(name: str, ids: list[str], vectors: np.ndarray, source: str, has_text: bool = False) -> Engine:
    meta = {"source": {"checkpoint_sha256": source}, "metric": "cosine",
            "subspaces": {"all": [0, vectors.shape[1]]}, "has_text": has_text, "maps_word_vectors": False}
    return Engine(None, EmbeddingSet(name, ids, vectors, [], np.zeros((0, vectors.shape[1]), np.float32), meta))


@pytest.fixture(scope="module")
def pair():
    """Two models of the same 300 tracks that partly agree: B sees A's clusters through noise,
    covers 280 of A's tracks in another order, and has 5 tracks A lacks."""
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(12, 16))
    label = rng.integers(12, size=N)
    a = _unit(centres[label] + 0.6 * rng.normal(size=(N, 16)))
    mix = rng.normal(size=(16, 24))
    b_all = _unit(a @ mix + 2.0 * rng.normal(size=(N, 24)))
    ids = [f"t{i:03d}" for i in range(N)]
    keep = rng.permutation(N)[:280]
    ids_b = [ids[i] for i in keep] + [f"x{i}" for i in range(5)]
    b = np.concatenate([b_all[keep], _unit(rng.normal(size=(5, 24)))])
    return _engine("A", ids, a, "a1"), _engine("B", ids_b, b, "b1")


def brute_neighbours(vectors: np.ndarray, k: int) -> list[list[int]]:
    sims = vectors.astype(np.float64) @ vectors.astype(np.float64).T
    out = []
    for i, row in enumerate(sims):
        order = [int(j) for j in np.lexsort((np.arange(len(row)), -row)) if j != i]
        out.append(order[:k])
    return out


def brute_vectors(engine: Engine, ids: list[str]) -> np.ndarray:
    row = {t: i for i, t in enumerate(engine.track_ids)}
    return engine.emb.tracks[[row[t] for t in ids]].astype(np.float64)


@pytest.mark.parametrize("k", [1, 5, 10, 25])
def test_neighbourhood_overlap_equals_brute_force(pair, k):
    a, b = pair
    result = nb.compare_neighbourhoods(a, b, k)
    shared = [t for t in a.track_ids if t in set(b.track_ids)]
    assert result.track_ids == shared and len(shared) == 280
    ref_a = brute_neighbours(brute_vectors(a, shared), k)
    ref_b = brute_neighbours(brute_vectors(b, shared), k)
    assert result.neighbours_a.tolist() == ref_a
    assert result.neighbours_b.tolist() == ref_b
    expected = np.array([len(set(x) & set(y)) / len(set(x) | set(y)) for x, y in zip(ref_a, ref_b)])
    np.testing.assert_allclose(result.jaccard, expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(result.disagreement, 1 - expected, atol=1e-12)
    sims = brute_vectors(a, shared) @ brute_vectors(a, shared).T
    np.testing.assert_allclose(result.scores_a, np.take_along_axis(sims, np.array(ref_a), 1), rtol=1e-9)
    # the two models partly agree: neither all nor no neighbourhoods are the same
    assert 0 < result.jaccard.mean() < 1


def test_neighbours_use_the_model_index_when_it_covers_the_tracks(pair):
    a, _ = pair
    calls = []

    class Spy:
        kind = "exact"

        def search(self, queries, k):
            calls.append(len(queries))
            return a.index.search(queries, k)

    rows, _ = nb.nearest_neighbours(a.emb.tracks, 5, Spy())
    assert sum(calls) == N and rows.tolist() == brute_neighbours(a.emb.tracks, 5)


def test_neighbourhood_k_is_checked(pair):
    a, b = pair
    with pytest.raises(ParameterError, match="k must be"):
        nb.nearest_neighbours(a.emb.tracks[:4], 4)
    with pytest.raises(DataError, match="share vectors for"):
        nb.compare_neighbourhoods(a, _engine("C", ["t000", "t001"], a.emb.tracks[:2].copy(), "c"), 2)


def test_jaccard_rows_against_sets():
    rng = np.random.default_rng(3)
    x = np.array([rng.permutation(20)[:6] for _ in range(50)])
    y = np.array([rng.permutation(20)[:6] for _ in range(50)])
    expected = [len(set(p) & set(q)) / len(set(p) | set(q)) for p, q in zip(x, y)]
    np.testing.assert_allclose(nb.jaccard_rows(x, y), expected)


def test_comparison_is_cached_by_source_keys(pair, tmp_path, monkeypatch):
    a, b = pair
    first = nb.cached_comparison(a, b, 5, tmp_path)
    files = list(tmp_path.glob("neighbourhoods-*.npz"))
    assert len(files) == 1

    def fail(*args):
        raise AssertionError("recomputed although the cache is current")

    monkeypatch.setattr(nb, "compare_neighbourhoods", fail)
    again = nb.cached_comparison(a, b, 5, tmp_path)
    assert again.track_ids == first.track_ids and np.array_equal(again.neighbours_b, first.neighbours_b)
    np.testing.assert_array_equal(again.jaccard, first.jaccard)
    monkeypatch.undo()
    retrained = _engine("B", b.track_ids, b.emb.tracks.copy(), "b2")  # same name, new checkpoint
    nb.cached_comparison(a, retrained, 5, tmp_path)
    assert len(list(tmp_path.glob("neighbourhoods-*.npz"))) == 2
    nb.cached_comparison(a, b, 6, tmp_path)  # another k
    assert len(list(tmp_path.glob("neighbourhoods-*.npz"))) == 3


def test_opposite_triplets_equal_brute_force(pair):
    a, b = pair
    k = 6
    result = nb.compare_neighbourhoods(a, b, k)
    ids = result.track_ids
    va, vb = brute_vectors(a, ids), brute_vectors(b, ids)
    np.testing.assert_array_equal(aligned_vectors(a, ids), va.astype(np.float32))
    anchors = most_disagreeing(result, 40)
    assert (np.diff(result.disagreement[anchors]) <= 0).all()
    frame = opposite_triplets(result, aligned_vectors(a, ids), aligned_vectors(b, ids), anchors)

    sa, sb = va @ va.T, vb @ vb.T
    ref_a, ref_b = brute_neighbours(va, k), brute_neighbours(vb, k)
    expected = {}
    for anchor in anchors:
        for x, y in itertools.product(ref_a[anchor], ref_b[anchor]):
            if x in ref_b[anchor] or y in ref_a[anchor]:
                continue
            ma, mb = sa[anchor, x] - sa[anchor, y], sb[anchor, x] - sb[anchor, y]
            if ma > 0 and mb < 0:
                expected[(ids[anchor], ids[x], ids[y])] = (ma, mb)
    got = {(r.anchor_id, r.x_id, r.y_id): (r.margin_a, r.margin_b) for r in frame.itertuples()}
    assert len(expected) > 50 and set(got) == set(expected)
    for key, (ma, mb) in expected.items():
        assert got[key] == pytest.approx((ma, mb), rel=1e-6, abs=1e-9)
    ma, mb = np.array([v[0] for v in expected.values()]), np.array([v[1] for v in expected.values()])
    strength = (frame["margin_a"] / ma.std()) * (-frame["margin_b"] / mb.std())
    np.testing.assert_allclose(frame["strength"], strength, rtol=1e-9)
    assert (np.diff(frame["strength"].to_numpy()) <= 0).all()  # strongest first
    design = as_design_triplets(frame.head(3))
    assert design[0] == {"anchor_id": frame.at[0, "anchor_id"], "song1_id": frame.at[0, "x_id"],
                         "song2_id": frame.at[0, "y_id"]}


def test_identical_models_have_no_disagreement(pair):
    a, _ = pair
    same = nb.compare_neighbourhoods(a, _engine("A2", a.track_ids, a.emb.tracks.copy(), "a2"), 5)
    assert (same.jaccard == 1).all()
    frame = opposite_triplets(same, a.emb.tracks, a.emb.tracks)
    assert frame.empty and list(frame.columns)[:3] == ["anchor_id", "x_id", "y_id"]


def _result(ids):
    return QueryResult("tracks", [Hit(t, 1.0 - i / 10) for i, t in enumerate(ids)])


def test_ranking_comparison_marks_tracks_only_one_model_returns():
    cmp = compare_results(_result(["a", "b", "c", "d"]), _result(["c", "a", "e", "f"]))
    assert cmp.jaccard == pytest.approx(2 / 6) and jaccard([], []) == 1.0
    assert cmp.only_a == ["b", "d"] and cmp.only_b == ["e", "f"]
    left = cmp.frame("a")
    assert left["rank_other"].tolist() == [2, pd.NA, 1, pd.NA]
    assert left["only_here"].tolist() == [False, True, False, True]
    same = compare_results(_result(["a", "b", "c"]), _result(["a", "b", "c"]))
    assert same.spearman == pytest.approx(1.0) and same.jaccard == 1.0
    with pytest.raises(ParameterError):
        cmp.frame("c")


def test_compare_query_runs_both_models_and_refuses_what_one_cannot(pair):
    a, b = pair
    cmp = compare_query(a, b, "track", "t010", k=7)
    for engine, result in ((a, cmp.result_a), (b, cmp.result_b)):
        x = engine.emb.tracks.astype(np.float64)
        q = x[engine.track_row("t010")]
        order = [engine.track_ids[i] for i in np.lexsort((np.arange(len(x)), -(x @ q)))
                 if engine.track_ids[i] != "t010"]
        assert result.ids == order[:7]
    assert cmp.jaccard == jaccard(cmp.result_a.ids, cmp.result_b.ids)
    assert shared_query_kinds(a, b) == ("track",)
    with pytest.raises(ParameterError, match="cannot both answer a text query"):
        compare_query(a, b, "text", "jazz")
    with pytest.raises(ParameterError, match="unknown query kind"):
        compare_query(a, b, "smell", "jazz")


def test_capabilities_are_asked_of_the_models(pair):
    a, b = pair

    class Model:
        def __init__(self, caps):
            self.capabilities = frozenset(caps)

    with_audio = Engine(None, a.emb, Model({"audio", "text"}))
    with_audio.emb.meta["has_text"] = False
    other = Engine(None, b.emb, Model({"audio"}))
    assert shared_query_kinds(with_audio, other) == ("track", "audio")
    assert shared_query_kinds(with_audio, with_audio) == ("track", "audio", "text")


def test_difference_figure_draws_each_interval():
    from core.compare.metrics import difference_figure

    frame = pd.DataFrame({"metric": ["m1", "m2"], "difference": [0.10, -0.02], "low": [0.04, -0.07],
                          "high": [0.15, 0.03], "distinguishable": [True, False]})
    trace = difference_figure(frame).data[0]
    assert list(trace.y) == ["m2", "m1"]  # first row on top
    assert trace.error_x.array == pytest.approx([0.05, 0.05]) and trace.error_x.arrayminus == pytest.approx([0.05, 0.06])
    assert trace.marker.color[0] != trace.marker.color[1]  # not distinguishable drawn apart


def test_metric_groups():
    assert metric_group("by_category.mood.roc_auc_tag") == "mood"
    assert metric_group("triplet_acc.all_dims.tempo") == "tempo"
    assert metric_group("triplet_acc.all_dims.overall") == "overall"
    assert metric_group("r_at_k_relevance.genre.5") == "genre"
    assert metric_group("roc_auc_tag") == "overall"


@pytest.fixture()
def small_ws(tmp_path) -> Workspace:
    ws = Workspace.create(tmp_path / "ws", name="export")
    tracks = pd.DataFrame([
        {"track_id": "t1", "artist_id": "a1", "title": "=HYPERLINK(\"x\")", "audio_path": "t1.wav", "duration": 30.4,
         "split": "test", "bpm": 100.0, "source": "test"},
        {"track_id": "t2", "artist_id": "a2", "title": "two\nlines", "audio_path": "t2.wav", "duration": float("nan"),
         "split": "test", "bpm": 90.0, "source": "test"},
        {"track_id": "t3", "artist_id": "a1", "title": "escape", "audio_path": "../../etc/passwd", "duration": 5.0,
         "split": "test", "bpm": 90.0, "source": "test"}])
    artists = pd.DataFrame({"artist_id": ["a1", "a2"], "name": ["Alpha", "Beta"]})
    tags = pd.DataFrame([{"track_id": "t1", "tag": t, "original_tag": t, "category": c, "score": 1.0}
                         for c, t in (("genre", "jazz"), ("mood", "sad"), ("genre", "blues"))])
    ws.save_catalog(Catalog(tracks, artists, tags))
    return ws


def test_export_csv_is_spreadsheet_safe_and_m3u_has_one_entry_per_track(small_ws):
    frame = track_table(small_ws.catalog, ["t1", "t2", "t3"], {"disagreement": [0.9, 0.5, 0.1]})
    assert frame.columns.tolist() == ["track_id", "title", "artist", "tags", "disagreement"]
    assert frame.at[0, "tags"] == "genre: blues; genre: jazz; mood: sad" and frame.at[1, "tags"] == ""
    text = csv_bytes(frame).decode()
    back = pd.read_csv(__import__("io").StringIO(text))
    assert back.at[0, "title"].startswith("'=") and back["disagreement"].tolist() == [0.9, 0.5, 0.1]
    playlist = m3u_playlist(small_ws, frame).splitlines()
    assert playlist[0] == "#EXTM3U"
    assert playlist[1] == '#EXTINF:30,Alpha - =HYPERLINK("x")'
    assert playlist[2] == str(small_ws.audio_root / "t1.wav")
    assert playlist[3] == "#EXTINF:-1,Beta - two lines"  # a line break cannot start a new entry
    assert playlist[4] == str(small_ws.audio_root / "t2.wav")
    assert playlist[5].startswith("# skipped t3") and len(playlist) == 6  # never a path out of the audio root


def test_linked_maps_share_tracks_and_ring_the_same_selection():
    from core.compare.maps import SELECTION_TRACE, linked_map_figure, shared_track_points

    def points(ids, shift):
        return pd.DataFrame({"id": ids + ["tag:jazz"], "kind": ["track"] * len(ids) + ["tag"],
                             "x": np.arange(len(ids) + 1) + shift, "y": np.arange(len(ids) + 1) * 2.0,
                             "label": ["g"] * (len(ids) + 1), "name": ids + ["jazz"],
                             "preservation": np.ones(len(ids) + 1)})

    pa, pb = shared_track_points(points([f"t{i}" for i in range(30)], 0), points([f"t{i}" for i in range(5, 40)], 7))
    assert set(pa["id"]) == set(pb["id"]) == {f"t{i}" for i in range(5, 30)}
    sa, sb = shared_track_points(points([f"t{i}" for i in range(30)], 0), points([f"t{i}" for i in range(30)], 1),
                                 max_points=10)
    assert len(sa) == 10 and set(sa["id"]) == set(sb["id"])
    selected = ["t7", "t9", "t99"]
    fig_a, fig_b = (linked_map_figure(p, "genre", selected, "A") for p in (pa, pb))
    rings = [[t for t in f.data if t.name == SELECTION_TRACE] for f in (fig_a, fig_b)]
    assert all(len(r) == 1 and list(r[0].customdata) == ["t7", "t9"] for r in rings)
    assert rings[1][0].x[0] == pb.set_index("id").at["t7", "x"]  # ringed where map B draws the track
    assert linked_map_figure(pa, "genre", selected, "A").to_json() == fig_a.to_json()  # same figure every rerun
    assert not [t for t in linked_map_figure(pa, "genre", [], "A").data if t.name == SELECTION_TRACE]
