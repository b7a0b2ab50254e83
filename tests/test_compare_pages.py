"""The Compare page with AppTest on the tiny demo: every view renders, reads its URL state and shows numbers.

Map selections, players and the listening-test action need a browser (tests/test_compare_browser.py).
"""

from __future__ import annotations

import json

import pytest

from tests.test_app_pages import _no_errors, app  # noqa: F401 (fixture)


def _pair(ws):
    names = ws.model_names()
    return names[0], names[-1]


@pytest.mark.parametrize("view", ["maps", "query", "metrics", "disagree"])
def test_every_compare_view_renders(app, tiny_workspace, view):
    a, b = _pair(tiny_workspace)
    track = tiny_workspace.catalog.track_ids[0]
    at = app("compare", a=a, b=b, k="5", view=view, track=track)
    _no_errors(at)
    assert at.selectbox(key="compare_a").value == a and at.selectbox(key="compare_b").value == b
    assert at.number_input(key="compare_k").value == 5
    if view == "query":
        labels = {m.label: m.value for m in at.metric}
        overlap = float(labels["Overlap (Jaccard@5)"])
        assert 0.0 <= overlap <= 1.0 and "Rank correlation (Spearman)" in labels
        assert len(at.dataframe) == 2 and all(len(d.value) == 5 for d in at.dataframe)
        assert all(track not in d.value["id"].tolist() for d in at.dataframe)
    if view == "metrics":
        table = at.dataframe[0].value
        assert len(table) and {"difference", "low", "high", "distinguishable"} <= set(table.columns)
        assert (table["low"] <= table["difference"] + 1e-9).all() and (table["difference"] <= table["high"] + 1e-9).all()
    if view == "disagree":
        tracks = at.dataframe[0].value
        assert len(tracks) == 25 and tracks["disagreement"].is_monotonic_decreasing
        triplets = at.dataframe[1].value
        assert len(triplets) and (triplets["margin_a"] > 0).all() and (triplets["margin_b"] < 0).all()


def test_compare_asks_for_two_different_models(app, tiny_workspace):
    a, _ = _pair(tiny_workspace)
    at = app("compare", a=a, b=a)
    assert any("two different models" in i.value for i in at.info)


def test_words_page_rounds_cosines(app):
    at = app("words", word="house")
    _no_errors(at)
    table = at.dataframe[0]
    config = json.loads(table.proto.columns)
    assert config["cosine"]["type_config"] == {"type": "number", "format": "%.3f"}  # shown to 3 decimals
    assert len(table.value["cosine"]) > 0 and table.value["cosine"].dtype.kind == "f"  # the numbers themselves stay whole
