"""evaluate_workspace on a synthetic workspace with tiny fake models; caching; CLI; report tables."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.audio import windows
from core.errors import DataError, VocabularyError
from core.evaluation import run
from core.evaluation.published import published_numbers
from core.evaluation.report import comparison_table, markdown_report, results_intervals, results_tables
from core.evaluation.triplets import EXCERPT_FRAMES
from core.evaluation.units import MetricSet, Units, metric_paths, node_value
from core.features import FeatureStore
from core.models.base import EmbeddingModel
from core.workspace import Workspace
from tests.test_evaluation_triplets import TAGS, make_catalog

BANDS = [t for c in ("genre", "mood", "instrument") for t in sorted(TAGS[c])]  # one mel band per tag
N_ID = 8  # bands holding a per-track identity pattern (for track triplets)
DIM = len(BANDS) + 1 + N_ID  # tags, tempo, identity
N_TRIPLETS = 2000


class FakeModel(EmbeddingModel):
    """Reads its embedding off the first DIM mel bands (mean over 3 s windows); tags are one-hot."""

    family = "won"
    normalized = True
    has_text = True

    def __init__(self, vocab_tags=None, seed=None, **config):
        super().__init__({"dim": DIM, **config})
        self.vocab = {"tags": list(vocab_tags or BANDS)}
        # seed set: a random projection that ignores the tag bands (a model that learnt nothing)
        self.proj = None if seed is None else torch.from_numpy(np.random.default_rng(seed).normal(size=(DIM, DIM)))

    def track_inputs(self, mel):
        return torch.from_numpy(windows(mel, EXCERPT_FRAMES))

    def encode_audio(self, inputs):
        x = inputs[:, :DIM, :].double().mean(-1)
        if self.proj is not None:
            x = torch.cat([torch.zeros_like(x[:, :len(BANDS)]), x[:, len(BANDS):]], 1) @ self.proj
        return x

    def encode_terms(self, terms, words=None):
        unknown = [t for t in terms if t not in BANDS]
        if unknown:
            raise VocabularyError(f"unknown tags {unknown}")
        out = torch.zeros(len(terms), DIM, dtype=torch.float64)
        for i, t in enumerate(terms):
            out[i, BANDS.index(t)] = 1.0
        return out if self.proj is None else out @ self.proj


class FakeLee(FakeModel):
    family, has_text = "lee", False

    def subspaces(self):
        g, m, i = (len(TAGS[c]) for c in ("genre", "mood", "instrument"))
        return {"genre": slice(0, g), "mood": slice(g, g + m), "instrument": slice(g + m, g + m + i),
                "tempo": slice(g + m + i, g + m + i + 1)}


class FakeVQ(FakeModel):
    family, has_text = "mfcc_vq", False


class FakeMuslse(FakeModel):
    family, normalized = "muslse", False


class FakeMwe(FakeModel):
    family = "mwe"


def _mel(catalog, tid, rng):
    row = catalog.tracks.set_index("track_id").loc[tid]
    mel = rng.normal(0.0, 0.05, size=(128, 344)).astype(np.float32)
    tags = {t for ts in catalog.tags_of(tid).values() for t in ts}
    for j, tag in enumerate(BANDS):
        mel[j] += float(tag in tags)
    mel[len(BANDS)] += 0.0 if np.isnan(row["bpm"]) else row["bpm"] / 100.0
    mel[len(BANDS) + 1:DIM] += rng.normal(0, 1, size=(N_ID, 1))  # constant per track
    return mel


@pytest.fixture()
def workspace(tmp_path):
    ws = Workspace.create(tmp_path / "ws", name="synthetic")
    catalog = make_catalog(n_tracks=24, n_test=16)
    ws.save_catalog(catalog)
    store = FeatureStore(ws)
    rng = np.random.default_rng(0)
    for tid in catalog.track_ids:
        store._write(store.path(tid), _mel(catalog, tid, rng))
    from core.tag_split import create_tag_split
    split = create_tag_split(ws, seed=0, unseen_fraction=0.34)
    models = {"won-balanced-weighted": FakeModel(variant="acoustic-balanced-weighted"), "won-random": FakeModel(seed=1, variant="noise"),
              "lee-disentangled": FakeLee(variant="disentangled"), "mfcc-vq": FakeVQ(variant="baseline"),
              "muslse-warp": FakeMuslse(variant="warp"), "mwe": FakeMwe(vocab_tags=split.seen, variant="tag")}
    for name, model in models.items():
        directory = ws.models_dir / name
        directory.mkdir(parents=True)
        (directory / "model.pt").write_bytes(b"weights of " + name.encode())
        (directory / "config.json").write_text(json.dumps({"family": model.family, "variant": model.variant,
                                                           "model": model.config, "word_embedding": None}))
    return ws, models, split


@pytest.fixture()
def loader(monkeypatch, workspace):
    ws, models, _ = workspace
    calls = []

    def load(ws_, name):
        calls.append(name)
        return models[name]

    monkeypatch.setattr(run, "_load_model", load)
    return calls


def test_evaluate_workspace_writes_required_keys(workspace, loader):
    ws, models, split = workspace
    result = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    on_disk = json.loads(ws.evaluation_path.read_text())
    assert on_disk == json.loads(json.dumps(result))
    assert {"models", "word_embeddings", "split", "created", "workspace_fingerprint"} <= set(on_disk)
    assert on_disk["split"] == "test" and on_disk["workspace_fingerprint"] == ws.catalog.fingerprint()
    assert set(on_disk["models"]) == set(models) and not on_disk["errors"]
    for name, entry in on_disk["models"].items():
        assert entry["family"] == models[name].family and entry["variant"] == models[name].variant
        acc = entry["metrics"]["triplet_acc"]
        assert set(acc["all_dims"]) == {"genre", "mood", "instrument", "tempo", "overall"}
        assert 0.0 <= acc["track"] <= 1.0
        assert set(entry["metrics"]["r_at_k"]) == {"1", "5", "10"}
        assert set(entry["metrics"]["r_at_k_relevance"]) == set(entry["metrics"]["r_at_k_chance"]) == {
            "genre", "instrument_family", "tag_jaccard"}
        assert entry["metrics"]["r_at_k"] == entry["metrics"]["r_at_k_relevance"]["tag_jaccard"]
        assert entry["details"]["n_test_tracks"] == 16
        # every metric has an interval at the same path, [low, high]
        for path in metric_paths(entry["metrics"]):
            value, interval = _at(entry["metrics"], path), _at(entry["intervals"], path)
            if value is None:
                assert interval is None, (name, path)
            else:
                assert len(interval) == 2 and interval[0] <= interval[1], (name, path)
        # the cached units reproduce every metric (the bootstrap resamples exactly what was reported)
        units, _ = run.cached_units(ws.evaluation_path, on_disk, "models", name)
        assert set(units) == set(metric_paths(entry["metrics"]))
        for path in units:
            assert node_value(units, path) == pytest.approx(_at(entry["metrics"], path), abs=1e-12), (name, path)
    assert on_disk["protocol"]["version"] == 2 and on_disk["protocol"]["bootstrap"]["resamples"] == 2000
    tag_keys = {"roc_auc_tag", "pr_auc_tag", "roc_auc_clip", "p_at_10", "p_at_3", "p_at_6", "p_at_9", "p_at_12",
                "p_at_15", "by_category"}
    for name in ("won-balanced-weighted", "won-random", "muslse-warp", "mwe"):
        assert tag_keys <= set(on_disk["models"][name]["metrics"])
    for name in ("lee-disentangled", "mfcc-vq"):
        assert "roc_auc_tag" not in on_disk["models"][name]["metrics"]

    perfect = on_disk["models"]["won-balanced-weighted"]["metrics"]
    assert perfect["roc_auc_tag"] > 0.99 and perfect["pr_auc_tag"] > 0.99 and perfect["roc_auc_clip"] > 0.99
    assert set(perfect["by_category"]) == {"genre", "mood", "instrument"}
    assert perfect["by_category"]["genre"]["roc_auc_tag"] > 0.99
    assert "sub_dims" not in perfect["triplet_acc"]  # one subspace: omitted, not copied
    noise = on_disk["models"]["won-random"]["metrics"]
    assert noise["roc_auc_tag"] < 0.8 < perfect["roc_auc_tag"]

    lee = on_disk["models"]["lee-disentangled"]["metrics"]["triplet_acc"]
    for dim in ("genre", "mood", "instrument"):
        assert lee["sub_dims"][dim] > 0.95 and lee["sub_dims"][dim] >= lee["all_dims"][dim]
    assert lee["sub_dims"]["overall"] == pytest.approx(np.mean([lee["sub_dims"][d] for d in
                                                                ("genre", "mood", "instrument", "tempo")]))
    assert lee["track"] > 0.95  # identity bands make excerpts of one song close

    mwe = on_disk["models"]["mwe"]["metrics"]
    assert {"zeroshot_roc_auc_tag", "zeroshot_roc_auc_clip", "seen_roc_auc_tag"} <= set(mwe)
    assert mwe["zeroshot_roc_auc_tag"] > 0.99
    assert on_disk["models"]["mwe"]["details"]["n_unseen_tags"] == len(split.unseen)
    assert "zeroshot_roc_auc_tag" not in perfect  # trained on every tag: nothing is unseen for it


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def test_paired_comparisons_of_the_stated_claims(workspace, loader):
    ws, _, _ = workspace
    result = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    by_key = {(c["a"], c["b"], c["metric"], c["metric_b"]): c for c in result["comparisons"]}
    good = by_key[("won-balanced-weighted", "won-random", "roc_auc_tag", "roc_auc_tag")]
    assert good["difference"] > 0.2 and good["distinguishable"] and good["interval"][0] > 0
    assert good["difference"] == pytest.approx(result["models"]["won-balanced-weighted"]["metrics"]["roc_auc_tag"]
                                               - result["models"]["won-random"]["metrics"]["roc_auc_tag"])
    sub_vs_all = by_key[("lee-disentangled", "lee-disentangled", "triplet_acc.sub_dims.genre",
                         "triplet_acc.all_dims.genre")]
    lee = result["models"]["lee-disentangled"]["metrics"]["triplet_acc"]
    assert sub_vs_all["difference"] == pytest.approx(lee["sub_dims"]["genre"] - lee["all_dims"]["genre"])
    assert ("lee-disentangled", "mfcc-vq", "triplet_acc.sub_dims.overall", "triplet_acc.all_dims.overall") in by_key
    # claims whose models are absent are skipped (no muslse-auc, lee-category, lee-specialised)
    assert not {"muslse-auc", "lee-category", "lee-specialised"} & {c["b"] for c in result["comparisons"]}
    for c in result["comparisons"]:
        low, high = c["interval"]
        assert c["distinguishable"] == (low > 0 or high < 0)
    # the common tag set: every tag model on the tags they all are scored on
    common = result["common_tags"]
    assert set(common["models"]) == {"won-balanced-weighted", "won-random", "muslse-warp", "mwe"}
    assert set(common["tags"]) == set(result["models"]["mwe"]["details"]["tags"]) & set(BANDS)
    assert common["models"]["won-balanced-weighted"]["intervals"]["roc_auc_tag"][0] > 0.9


def test_any_two_models_per_metric_and_per_tag(workspace, loader):
    from core.evaluation.pairs import model_differences, tag_differences

    ws, _, _ = workspace
    evaluation = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    out = ws.evaluation_path
    rows = {r["metric"]: r for r in model_differences(out, evaluation, "won-balanced-weighted", "won-random")}
    assert {"by_category.genre.roc_auc_tag", "triplet_acc.all_dims.overall", "r_at_k.5", "p_at_3"} <= set(rows)
    stated = {c["metric"]: c for c in evaluation["comparisons"] if c["a"] == "won-balanced-weighted"
              and c["b"] == "won-random"}
    assert rows["roc_auc_tag"] == stated["roc_auc_tag"] | {"claim": rows["roc_auc_tag"]["claim"]}
    genre = rows["by_category.genre.roc_auc_tag"]
    metrics = {n: evaluation["models"][n]["metrics"]["by_category"]["genre"]["roc_auc_tag"]
               for n in ("won-balanced-weighted", "won-random")}
    assert genre["difference"] == pytest.approx(metrics["won-balanced-weighted"] - metrics["won-random"])
    per_tag = tag_differences(out, evaluation, "won-balanced-weighted", "won-random")
    assert len(per_tag) == evaluation["models"]["won-random"]["details"]["n_tags"] - evaluation["models"][
        "won-random"]["details"]["tags_skipped"]
    assert all(r["a_value"] > 0.99 and r["interval"][0] <= r["interval"][1] for r in per_tag)
    assert tag_differences(out, evaluation, "lee-disentangled", "won-random") == []  # no text side
    run.units_path(out, "models", "won-random").unlink()
    with pytest.raises(DataError, match="evaluate"):
        model_differences(out, evaluation, "won-balanced-weighted", "won-random")


def test_cached_models_are_not_reevaluated(workspace, loader):
    ws, models, _ = workspace
    first = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    assert sorted(loader) == sorted(models)
    loader.clear()
    again = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    assert loader == [] and again["models"] == first["models"]
    assert again["comparisons"] == first["comparisons"] and again["common_tags"] == first["common_tags"]
    run.units_path(ws.evaluation_path, "models", "won-random").unlink()  # units gone: evaluated again
    run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    assert loader == ["won-random"]
    loader.clear()
    (ws.models_dir / "mfcc-vq" / "model.pt").write_bytes(b"retrained")
    run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    assert loader == ["mfcc-vq"]
    loader.clear()
    run.evaluate_workspace(ws, n_triplets=N_TRIPLETS + 1, words=False)  # another protocol: everything again
    assert sorted(loader) == sorted(models)
    loader.clear()
    subset = run.evaluate_workspace(ws, models=["lee-disentangled"], n_triplets=N_TRIPLETS, force=True, words=False)
    assert loader == ["lee-disentangled"] and list(subset["models"]) == ["lee-disentangled"]


def test_current_embedding_cache_gives_the_test_vectors(workspace, loader, monkeypatch):
    """The evaluation reads the test tracks' vectors from a current embedding cache (as ``embed`` wrote it)
    instead of encoding them again, and scores the same; a stale cache is not read."""
    from core.engine.embed import extract_embeddings

    ws, models, _ = workspace
    computed = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    for name, model in models.items():
        extract_embeddings(ws, name, model=model, words=None)

    def no_encoding(*args, **kwargs):
        raise AssertionError("test tracks encoded although the cache is current")

    monkeypatch.setattr(run, "encode_tracks", no_encoding)
    cached = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False, force=True)
    for name in models:
        for path in metric_paths(computed["models"][name]["metrics"]):
            want, got = _at(computed["models"][name]["metrics"], path), _at(cached["models"][name]["metrics"], path)
            assert (want is None and got is None) or got == pytest.approx(want, rel=1e-5, abs=1e-6), (name, path)
    (ws.models_dir / "mfcc-vq" / "model.pt").write_bytes(b"retrained")  # its cache is stale now: encoded again
    with pytest.raises(AssertionError, match="encoded although"):
        run.evaluate_workspace(ws, models=["mfcc-vq"], n_triplets=N_TRIPLETS, words=False, force=True)


def test_unknown_model_is_a_clear_error(workspace, loader):
    ws, _, _ = workspace
    with pytest.raises(VocabularyError, match="no trained model named"):
        run.evaluate_workspace(ws, models=["nope"], words=False)


def test_cli_writes_json_and_markdown(workspace, loader, tmp_path, capsys):
    from core.cli import main

    ws, _, _ = workspace
    out = tmp_path / "out.json"
    code = main(["evaluate", "--workspace", str(ws.root), "--json", str(out), "--models", "lee-disentangled", "mfcc-vq",
                 "--triplets", "500", "--no-words", "--markdown"])
    assert code == 0
    data = json.loads(out.read_text())
    assert set(data["models"]) == {"lee-disentangled", "mfcc-vq"} and data["protocol"]["n_triplets"] == 500
    text = capsys.readouterr().out
    assert "Lee et al. Table 1" in text and "published, different dataset (MSD)" in text
    assert not ws.evaluation_path.exists()


def test_report_tables_shapes(workspace, loader):
    ws, _, _ = workspace
    tables = results_tables(run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False))
    assert list(tables["query_by_tag"].columns) == ["model", "family", "variant", "tags", "PR-AUC", "P@10",
                                                    "ROC-AUC (tag)", "ROC-AUC (clip)"]
    assert len(tables["query_by_tag"]) == 4
    triplets = tables["triplets"]
    assert list(triplets.columns) == ["space", "model", "variant", "Genre", "Mood", "Instruments", "Tempo", "Overall"]
    assert (triplets["space"] == "all dimensions").sum() == 6 and (triplets["space"] == "sub-dimensions").sum() == 1
    assert tables["tag_prediction"].shape == (4, 8) and tables["query_by_track"].shape == (6, 10)
    assert list(tables["query_by_track"].columns[3:]) == ["R@1", "R@1 chance", "R@5", "R@5 chance", "R@10",
                                                          "R@10 chance", "queries"]
    assert tables["query_by_track_relevance"].shape == (18, 9)
    assert tables["common_tags"].shape == (4, 9) and tables["tag_sets"].shape == (4, 4)
    assert list(tables["zero_shot"]["model"]) == ["mwe"]
    assert "word_embeddings" not in tables  # no rows, left out
    assert tables["by_category"].shape == (4, 7)


def test_intervals_tables_and_markdown(workspace, loader):
    ws, _, _ = workspace
    evaluation = run.evaluate_workspace(ws, n_triplets=N_TRIPLETS, words=False)
    tables, intervals = results_tables(evaluation), results_intervals(evaluation)
    assert list(tables) == list(intervals)
    for key in tables:
        assert tables[key].shape == intervals[key].shape and list(tables[key].columns) == list(intervals[key].columns)
    row = tables["query_by_tag"].set_index("model").loc["won-balanced-weighted"]
    cell = intervals["query_by_tag"].set_index("model").loc["won-balanced-weighted", "ROC-AUC (tag)"]
    assert cell == evaluation["models"]["won-balanced-weighted"]["intervals"]["roc_auc_tag"]
    assert intervals["query_by_track"]["R@5 chance"].isna().all()  # chance levels are shown without interval
    text = markdown_report(evaluation, published=False)
    roc = evaluation["models"]["won-balanced-weighted"]["intervals"]["roc_auc_tag"]
    assert f"{row['ROC-AUC (tag)']:.3f} [{roc[0]:.3f}, {roc[1]:.3f}]" in text
    assert "## Paired comparisons" in text and "| A higher |" in text
    assert "R@5 chance" in text
    table = comparison_table(evaluation)
    assert set(table["verdict"]) <= {"A higher", "B higher", "not distinguishable"}
    assert len(table) == len(evaluation["comparisons"])


def test_published_numbers_and_markdown():
    published = published_numbers()
    won = {row[0]: row[1:] for row in published["query_by_tag"]["rows"]}
    assert won == {"random": [0.1658, 0.2990], "balanced": [0.1675, 0.3160], "balanced-weighted": [0.1852, 0.3500]}
    lee = published["triplets"]
    for row in lee["rows"]:
        assert len(row) == len(lee["columns"])
        assert row[-1] == pytest.approx(np.mean(row[2:6]), abs=6e-4)  # Overall is the mean of the four
    assert all(p["label"].startswith("published, different") for p in published.values())
    text = markdown_report({"models": {}, "word_embeddings": {}, "split": "test"})
    assert "No evaluated model" in text and "| random | 0.1658 | 0.2990 |" in text


def test_word_embeddings_are_evaluated_and_cached(workspace, loader, monkeypatch):
    ws, _, _ = workspace
    import core.words.evaluate as words_evaluate

    ws.words_dir.mkdir(parents=True, exist_ok=True)
    (ws.words_dir / "toy.json").write_text(json.dumps({"domain": "musical", "dim": 4}))
    (ws.words_dir / "toy.kv").write_bytes(b"vectors")
    calls = []

    def fake(ws_, name):
        calls.append(name)
        tags = ["a", "b", "c"]
        return {"domain": "musical", "label": "toy"}, MetricSet(
            metrics={"ndcg30_tag_rank": 0.5, "parts": {"ctn": 0.25}},
            units={("ndcg30_tag_rank",): Units.mean("tag", tags, [0.25, 0.75, np.nan]),
                   ("parts", "ctn"): Units.mean("tag", tags, [0.25, np.nan, np.nan])})

    monkeypatch.setattr(words_evaluate, "word_embedding_evaluation", fake)
    first = run.evaluate_workspace(ws, models=["mfcc-vq"], n_triplets=N_TRIPLETS)
    assert first["word_embeddings"]["toy"]["domain"] == "musical"
    assert first["word_embeddings"]["toy"]["metrics"]["ndcg30_tag_rank"] == 0.5
    low, high = first["word_embeddings"]["toy"]["intervals"]["ndcg30_tag_rank"]
    assert 0.25 <= low <= high <= 0.75
    run.evaluate_workspace(ws, models=["mfcc-vq"], n_triplets=N_TRIPLETS)
    assert calls == ["toy"]  # unchanged files: cached
    (ws.words_dir / "toy.kv").write_bytes(b"other vectors")
    table = results_tables(run.evaluate_workspace(ws, models=["mfcc-vq"], n_triplets=N_TRIPLETS))["word_embeddings"]
    assert calls == ["toy", "toy"]
    assert list(table.columns) == ["word embedding", "domain", "ndcg30_tag_rank", "parts.ctn"]


def test_tags_a_model_cannot_encode_are_dropped_and_named(workspace):
    from core.evaluation.query_by_tag import evaluate_tagging

    ws, _, _ = workspace

    class Partial(FakeModel):
        def encode_terms(self, terms, words=None):
            if "waltz" in terms:
                raise VocabularyError("no vector for 'waltz'")
            return super().encode_terms(terms, words)

    ids = ws.catalog.split_ids("test")
    vectors = np.stack([Partial().encode_track(FeatureStore(ws).mel(t)) for t in ids])
    result = evaluate_tagging(Partial(), ws.catalog, ids, vectors)
    metrics, details = result.metrics, result.details
    assert details["tags_not_encoded"] == ["waltz"] and details["n_tags"] == len(BANDS) - 1
    assert metrics["roc_auc_tag"] > 0.99


def test_batched_excerpts_equal_encode_track(workspace):
    from core.evaluation.similarity import excerpt_embeddings

    from core.audio import evaluation_crops

    class EightCrops(FakeMuslse):  # Won-like inputs: 8 zero-padded 173-frame copies of a 3 s excerpt
        def track_inputs(self, mel):
            return torch.from_numpy(evaluation_crops(mel, 173, 8))

    ws, _, _ = workspace
    store = FeatureStore(ws)
    excerpts = [("t00", 0), ("t00", 65), ("t01", 195), ("t02", 300)]  # the last runs past the end: zero-padded
    for model in (FakeModel(seed=3), EightCrops(seed=4)):
        got = excerpt_embeddings(model, store.mel, excerpts, batch_size=3)
        for tid, start in excerpts:
            crop = np.zeros((128, EXCERPT_FRAMES), np.float32)
            piece = store.mel(tid)[:, start:start + EXCERPT_FRAMES]
            crop[:, :piece.shape[1]] = piece
            np.testing.assert_allclose(got[(tid, start)], model.encode_track(crop), rtol=1e-5, atol=1e-6)


def test_models_evaluated_in_worker_processes_score_as_here(tiny_workspace, tmp_path):
    """The pool (one process per model at a time) gives the serial path's metrics and intervals."""
    from functools import reduce

    names = [n for n in ("lee-disentangled", "won-balanced") if n in tiny_workspace.model_names()]
    assert len(names) == 2
    here = run.evaluate_workspace(tiny_workspace, models=names, words=False, out=tmp_path / "here.json",
                                  force=True, workers=1)
    pooled = run.evaluate_workspace(tiny_workspace, models=names, words=False, out=tmp_path / "pool.json",
                                    force=True, workers=2)
    assert here["errors"] == pooled["errors"] == {}
    for name in names:
        a, b = here["models"][name], pooled["models"][name]
        paths = list(metric_paths(a["metrics"]))
        assert paths and paths == list(metric_paths(b["metrics"]))
        for path in paths:
            for tree in ("metrics", "intervals"):
                va, vb = (reduce(lambda node, key: node[key], path, entry[tree]) for entry in (a, b))
                assert (va is None and vb is None) or va == pytest.approx(vb, abs=1e-6), (name, tree, path)
        assert a["details"] == b["details"]
