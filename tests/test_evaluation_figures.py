"""Results-page figures without Streamlit: error bars from the intervals, published bars without them."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.published import published_numbers, published_tables
from core.evaluation.report import comparison_table, results_intervals, results_tables
from core.views.results import comparison_figure, metric_bars, published_bars, table_with_intervals


def _evaluation():
    def entry(roc, interval, r1):
        return {"family": "won", "variant": "v",
                "metrics": {"roc_auc_tag": roc, "pr_auc_tag": 0.5, "p_at_10": None, "roc_auc_clip": 0.6,
                            "r_at_k_relevance": {"tag_jaccard": {"1": r1, "5": 0.9, "10": 1.0}},
                            "r_at_k_chance": {"tag_jaccard": {"1": 0.2, "5": 0.6, "10": 0.9}}},
                "intervals": {"roc_auc_tag": interval, "pr_auc_tag": [0.4, 0.6], "p_at_10": None,
                              "roc_auc_clip": [0.5, 0.7],
                              "r_at_k_relevance": {"tag_jaccard": {"1": [0.3, 0.7], "5": [0.8, 1.0], "10": [1.0, 1.0]}},
                              "r_at_k_chance": {"tag_jaccard": {"1": [0.2, 0.2], "5": [0.6, 0.6], "10": [0.9, 0.9]}}},
                "details": {"n_tags": 12, "r_at_k": {"queries": {"tag_jaccard": 20}}}}

    comparisons = [
        {"claim": "x", "kind": "models", "a": "a", "b": "b", "metric": "roc_auc_tag", "metric_b": "roc_auc_tag",
         "a_value": 0.8, "b_value": 0.7, "difference": 0.1, "interval": [0.02, 0.18], "distinguishable": True},
        {"claim": "y", "kind": "models", "a": "a", "b": "b", "metric": "pr_auc_tag", "metric_b": "pr_auc_tag",
         "a_value": 0.5, "b_value": 0.5, "difference": 0.0, "interval": [-0.1, 0.1], "distinguishable": False}]
    return {"models": {"a": entry(0.8, [0.7, 0.85], 0.5), "b": entry(0.7, [0.6, 0.8], 0.4)},
            "word_embeddings": {}, "comparisons": comparisons, "split": "test"}


def test_bars_carry_the_intervals_as_error_bars():
    evaluation = _evaluation()
    values, intervals = results_tables(evaluation)["query_by_tag"], results_intervals(evaluation)["query_by_tag"]
    fig = metric_bars(values, intervals)
    traces = {t.name: t for t in fig.data}
    assert "tags" not in traces  # a count, not a metric
    assert "P@10" not in traces  # no interval anywhere (undefined)
    roc = traces["ROC-AUC (tag)"]
    assert list(roc.y) == ["a", "b"] and list(roc.x) == [0.8, 0.7] and roc.orientation == "h"
    np.testing.assert_allclose(roc.error_x.array, [0.05, 0.1])
    np.testing.assert_allclose(roc.error_x.arrayminus, [0.1, 0.1])
    assert roc.error_x.visible and not roc.error_x.symmetric


def test_chance_levels_are_markers_without_error_bars():
    evaluation = _evaluation()
    fig = metric_bars(results_tables(evaluation)["query_by_track"], results_intervals(evaluation)["query_by_track"])
    traces = {t.name: t for t in fig.data}
    assert traces["R@1"].type == "bar" and traces["R@1"].error_x.array is not None
    chance = traces["R@1 chance"]
    assert chance.type == "scatter" and chance.mode == "markers" and chance.error_x.array is None
    assert list(chance.x) == [0.2, 0.2]


def test_published_bars_have_no_error_bars_and_name_the_other_dataset():
    meta, frame = published_numbers()["triplets"], published_tables()["triplets"]
    fig = published_bars(frame, meta["id_columns"], meta["label"], meta["dataset"])
    assert all(t.error_x.array is None and t.error_y.array is None for t in fig.data)
    assert [t.name for t in fig.data] == ["Genre", "Mood", "Instruments", "Tempo", "Overall"]
    assert "another dataset" in fig.layout.title.text and "MSD" in fig.layout.title.text
    weston = published_numbers()["tag_prediction"]
    fig = published_bars(published_tables()["tag_prediction"], weston["id_columns"], weston["label"], weston["dataset"])
    assert "d" not in [t.name for t in fig.data]  # the dimension identifies a model, it is not a metric


def test_comparison_forest_plot_and_table():
    evaluation = _evaluation()
    fig = comparison_figure(evaluation)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"A higher", "not distinguishable"}
    np.testing.assert_allclose(by_name["A higher"].error_x.array, [0.08])
    np.testing.assert_allclose(by_name["A higher"].error_x.arrayminus, [0.08])
    assert any(shape.x0 == 0 for shape in fig.layout.shapes)  # the zero line
    assert list(comparison_table(evaluation)["verdict"]) == ["A higher", "not distinguishable"]
    assert comparison_figure({"comparisons": []}) is None


def test_table_with_intervals_text():
    evaluation = _evaluation()
    text = table_with_intervals(results_tables(evaluation)["query_by_tag"], results_intervals(evaluation)["query_by_tag"])
    row = text.set_index("model").loc["a"]
    assert row["ROC-AUC (tag)"] == "0.800 [0.700, 0.850]" and row["P@10"] == "–" and row["tags"] == "12"


@pytest.mark.parametrize("key", ["query_by_tag", "query_by_track"])
def test_tables_without_intervals_draw_nothing(key):
    evaluation = _evaluation()
    for entry in evaluation["models"].values():
        entry.pop("intervals")  # an evaluation.json from before intervals
    assert metric_bars(results_tables(evaluation)[key], results_intervals(evaluation)[key]) is None
