"""Word-embedding evaluation: per-query units behind every metric; track metrics labelled as train tracks."""

from __future__ import annotations

import numpy as np
import pytest
from gensim.models import KeyedVectors

from core.evaluation.bootstrap import Resampler, interval_tree
from core.evaluation.metrics import recall_at_k_chance
from core.evaluation.units import metric_paths, node_value
from core.words.evaluate import _tag_rank, _track_retrieval, tag_rank_ndcg, track_retrieval
from core.words.vectors import WordVectors
from tests.test_evaluation_triplets import make_catalog


def _words(catalog, with_tracks: bool, seed: int = 0) -> WordVectors:
    rng = np.random.default_rng(seed)
    words = list(catalog.tags()) + (list(catalog.split_ids("train")) if with_tracks else [])
    kv = KeyedVectors(vector_size=6)
    kv.add_vectors(words, rng.normal(size=(len(words), 6)).astype(np.float32))
    return WordVectors(kv, {"name": "toy", "domain": "musical" if with_tracks else "general"})


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def test_units_reproduce_every_word_metric_and_track_metrics_say_train():
    catalog = make_catalog(n_tracks=30, n_test=12)
    wv = _words(catalog, with_tracks=True)
    result = _tag_rank(wv, catalog, "test", 30).add(_track_retrieval(wv, catalog, (1, 2, 4, 8)))
    assert result.metrics == {**tag_rank_ndcg(wv, catalog), **track_retrieval(wv, catalog)}
    metrics = result.metrics
    assert metrics["track_retrieval_split"] == "train" and metrics["tag_rank_split"] == "test"
    assert metrics["n_tracks"] == len(catalog.split_ids("train"))
    counts = {("n_tag_queries",), ("n_tracks",), ("tag_coverage",)}
    assert set(result.units) == set(metric_paths(metrics)) - counts
    for path in result.units:
        assert node_value(result.units, path) == pytest.approx(_at(metrics, path), abs=1e-12), path
    assert {u.kind for u in result.units.values()} == {"tag", "train_track"}
    # the units of the track metrics are the train tracks in the vocabulary, never a test track
    units = result.units[("recall@1_query_by_track",)]
    assert set(units.ids) == set(catalog.split_ids("train"))
    intervals = interval_tree(result.units, Resampler(0, 200))
    assert set(intervals) == {p[0] for p in result.units}


def test_track_recall_chance_level():
    catalog = make_catalog(n_tracks=30, n_test=12)
    wv = _words(catalog, with_tracks=True, seed=1)
    metrics = track_retrieval(wv, catalog)
    train = catalog.split_ids("train")
    labels = catalog.tag_matrix(train).astype(float)
    shares = (labels @ labels.T) > 0
    np.fill_diagonal(shares, False)
    expected = np.nanmean(recall_at_k_chance(np.full(len(train), len(train) - 1), shares.sum(axis=1), 2))
    assert metrics["recall@2_query_by_track_chance"] == pytest.approx(expected)
    assert 0 < metrics["recall@1_query_by_track_chance"] < metrics["recall@8_query_by_track_chance"] <= 1


def test_no_track_ids_no_track_metrics():
    catalog = make_catalog(n_tracks=30, n_test=12)
    metrics = _track_retrieval(_words(catalog, with_tracks=False), catalog, (1,)).metrics
    assert metrics == {}
