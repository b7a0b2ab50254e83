"""Page logic with streamlit.testing's AppTest on the tiny demo workspace.

Plotly charts and audio are opaque to AppTest; selections and playback are
covered by the browser tests (tests/test_app_browser.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

TIMEOUT = 120


def _models(ws, family, variant_prefix=""):
    """Names of the workspace's models of one family (and variant prefix)."""
    out = []
    for name in ws.model_names():
        config = json.loads((ws.models_dir / name / "config.json").read_text())
        if config["family"] == family and config["variant"].startswith(variant_prefix):
            out.append(name)
    return out


@pytest.fixture()
def app(tiny_workspace, monkeypatch):
    monkeypatch.setenv("TAGSPACE_WORKSPACE", str(tiny_workspace.root))

    def make(page: str, **query) -> AppTest:
        at = AppTest.from_file("../app.py", default_timeout=TIMEOUT)
        for key, value in query.items():
            at.query_params[key] = value
        at.run()
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, [e.message for e in at.exception]
        return at

    return make


def _no_errors(at):
    assert not at.exception, [e.message for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def test_home_lists_workspace(app, tiny_workspace):
    at = app("home")
    _no_errors(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Tracks"] == str(len(tiny_workspace.catalog.tracks))
    assert any("Tagspace" in t.value for t in at.title)
    # the filter narrows the track table
    at.text_input(key="home_filter").input("demo-0001").run()
    assert len(at.dataframe[-1].value) == 1


def test_words_page_compares_embeddings(app):
    at = app("words", word="house")
    _no_errors(at)
    assert len(at.dataframe) >= 2  # one neighbour table per embedding
    labels = [m.label for m in at.metric]
    assert "Neighbour overlap" in labels and "Rank correlation (Spearman)" in labels
    at.text_input(key="word").input("qwertyuiopasdf").run()
    assert at.error  # unknown word: a readable message, not a traceback
    assert not at.exception


def test_similar_weights_change_ranking(app, tiny_workspace):
    lee = _models(tiny_workspace, "lee", "disentangled")
    assert lee, "the tiny demo trains a Lee et al. model"
    track = tiny_workspace.catalog.track_ids[0]
    at = app("similar", model=lee[0], track=track, w="genre:1,mood:0,instrument:0,tempo:0,track:0")
    _no_errors(at)
    first = at.dataframe[0].value["id"].tolist()
    at.slider(key="w_tempo").set_value(1.0).run()
    at.slider(key="w_genre").set_value(0.0).run()
    _no_errors(at)
    second = at.dataframe[0].value["id"].tolist()
    assert track not in first
    assert first != second


def test_similar_explains_models_without_subspaces(app, tiny_workspace):
    won = _models(tiny_workspace, "won")
    at = app("similar", model=won[0], track=tiny_workspace.catalog.track_ids[0])
    _no_errors(at)
    assert any("no genre/mood/instrument/tempo subspaces" in i.value for i in at.info)
    assert at.slider(key="w_track").disabled


def test_search_text_and_autotagging(app, tiny_workspace):
    won = _models(tiny_workspace, "won")
    tag = tiny_workspace.catalog.tags("instrument")[0]
    at = app("search", model=won[0], q=tag)
    _no_errors(at)
    assert any("read as" in c.value for c in at.caption)
    at.text_input(key="text_query").input("").run()
    at.text_input(key="text_query").input("zzzzqqqq").run()
    assert at.error and not at.exception
    # lazy tabs: auto-tagging's widgets run only once its tab is open, and then the text search's do not
    assert not [r for r in at.radio if r.key == "tag_vocab"]
    at.session_state["search_tab"] = "Auto-tagging"
    at.run()
    _no_errors(at)
    assert at.radio(key="tag_vocab").value == "seen" and not [t for t in at.text_input if t.key == "text_query"]
    # the picked track is kept in the URL, so it is still picked after a visit to the other tab
    track = tiny_workspace.catalog.track_ids[3]
    at.selectbox(key="sel_tag").set_value(track).run()
    _no_errors(at)
    assert at.query_params["tag_track"] in (track, [track])
    at.session_state["search_tab"] = "Text → tracks"
    at.run()
    at.session_state["search_tab"] = "Auto-tagging"
    at.run()
    assert at.selectbox(key="sel_tag").value == track and any("Catalog tags" in c.value for c in at.caption)


def test_results_page_shows_tables(app):
    at = app("results")
    _no_errors(at)
    # one metric table at a time by default (its chart, the published one, the comparisons' forest plot)
    assert at.radio(key="results_section").value == "query_by_tag" and len(at.get("plotly_chart")) <= 3
    at.radio(key="results_section").set_value("triplets").run()
    _no_errors(at)
    assert at.query_params["section"] == "triplets" and any("Lee et al." in h.value for h in at.subheader)
    at.radio(key="results_section").set_value("all").run()
    _no_errors(at)
    assert len(at.dataframe) >= 2
    assert any("different dataset" in c.value for c in at.caption)
    # bar charts: this workspace's with error bars (the intervals), the published ones without
    specs = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    def error_bars(spec):
        return [t for t in spec["data"] if "array" in t.get("error_x", {}) or "array" in t.get("error_y", {})]

    ours = [s for s in specs if any(t["type"] == "bar" for t in error_bars(s))]
    theirs = [s for s in specs if "another dataset" in json.dumps(s["layout"].get("title", {}))]
    assert len(ours) >= 3 and theirs
    assert not any(error_bars(s) for s in theirs)
    # the paired comparisons, with a verdict per row
    verdicts = [frame.value for frame in at.dataframe if "verdict" in frame.value.columns]
    assert verdicts and set(verdicts[0]["verdict"]) <= {"A higher", "B higher", "not distinguishable"}


def test_map_page_loads_cached_projection(app, tiny_workspace):
    at = app("map")
    _no_errors(at)
    assert any("tracks and" in c.value for c in at.caption)


# ------------------------------------------------------------------ hardening
def _audio_urls(at) -> list[str]:
    """Media URLs of the page's audio players (AppTest shows audio as unknown elements)."""
    return [element.proto.url for element in at.get("audio")]


def _wav(seconds: float, seed: int) -> bytes:
    import io

    import numpy as np
    import soundfile as sf

    buffer = io.BytesIO()
    y = np.random.default_rng(seed).normal(scale=0.1, size=int(seconds * 22050)).astype(np.float32)
    sf.write(buffer, y, 22050, format="WAV")
    return buffer.getvalue()


@pytest.mark.parametrize("page", ["home", "map", "words", "similar", "search"])
def test_every_text_input_has_a_length_limit(app, page):
    from core.views.text import MAX_QUERY_CHARS

    at = app(page)
    _no_errors(at)
    assert at.text_input, f"{page} has text inputs"
    assert {t.key: t.max_chars for t in at.text_input} == {t.key: MAX_QUERY_CHARS for t in at.text_input}


def test_long_hostile_url_values_are_cut_escaped_or_ignored(app, tiny_workspace):
    from core.views.text import MAX_QUERY_CHARS

    won = _models(tiny_workspace, "won")[0]
    hostile = "[evil](http://evil.test) <b>x</b> $y$ `z` qwzxv"
    at = app("search", model=won, q=hostile)  # unknown words: an error message that quotes them, escaped
    assert not at.exception
    shown = " ".join(e.value for e in at.error)
    assert "\\[evil\\]\\(http\\:" in shown and "\\<b\\>" in shown and "\\$y\\$" in shown and "\\`z\\`" in shown
    at = app("search", model=won, q="rock " * 100)
    assert not at.exception and len(at.text_input(key="text_query").value) == MAX_QUERY_CHARS
    at = app("words", word="house " * 100)
    assert not at.exception
    lee = _models(tiny_workspace, "lee", "disentangled")[0]
    at = app("similar", model=lee, track=tiny_workspace.catalog.track_ids[0],
             w="genre:nan,mood:inf,instrument:7,tempo:-1,track:0.5")
    _no_errors(at)
    assert {s.key: s.value for s in at.slider if s.key.startswith("w_")} == {
        "w_genre": 0.0, "w_mood": 0.0, "w_instrument": 0.0, "w_tempo": 0.0, "w_track": 0.5}


def test_players_load_full_clips_only_on_demand(app, tiny_workspace):
    lee = _models(tiny_workspace, "lee", "disentangled")[0]
    at = app("similar", model=lee, track=tiny_workspace.catalog.track_ids[0])
    _no_errors(at)
    urls = _audio_urls(at)
    assert len(urls) == 1 and len(at.dataframe[0].value) >= 5  # the query's excerpt; results play once selected
    assert all(url.endswith(".wav") for url in urls)  # excerpts cut server-side (WAV); the demo's files are OGG
    assert not any(t.value for t in at.toggle)
    at.toggle(key=f"full_clip:query:{tiny_workspace.catalog.track_ids[0]}").set_value(True).run()
    _no_errors(at)
    full = set(_audio_urls(at)) - set(urls)
    assert len(full) == 1 and not full.pop().endswith(".wav")  # the whole (OGG) file, once asked for
    home = app("home")
    assert len(home.dataframe[-1].value) == 10 and not _audio_urls(home)  # Home's rows play once ticked
    assert any("Select rows" in c.value for c in home.caption)


def test_an_uploaded_clip_is_decoded_once_across_reruns(app, tiny_workspace, monkeypatch):
    import core.engine.engine as engine_module

    decodes = []
    decode = engine_module.decode_audio
    monkeypatch.setattr(engine_module, "decode_audio", lambda *a, **kw: decodes.append(a[1]) or decode(*a, **kw))
    lee = _models(tiny_workspace, "lee", "disentangled")[0]
    at = app("similar", model=lee, w="genre:1,mood:0,instrument:0,tempo:0,track:0")
    next(r for r in at.radio if r.label == "Query").set_value("Upload a clip").run()
    at.file_uploader(key="similar_upload").set_value(("my clip.wav", _wav(4.0, seed=17), "audio/wav")).run()
    _no_errors(at)
    first = at.dataframe[0].value["id"].tolist()
    at.slider(key="w_tempo").set_value(1.0).run()
    at.slider(key="w_genre").set_value(0.0).run()
    at.slider(key="k").set_value(20).run()
    _no_errors(at)
    assert at.dataframe[0].value["id"].tolist()[:len(first)] != first
    assert decodes == ["my clip.wav"]  # four runs with the clip, one decode


# ------------------------------------------------------------------ structure
@pytest.mark.parametrize("page", sorted(p.name for p in (Path(__file__).parents[1] / "pages").glob("[!_]*.py")))
def test_every_page_calls_page_setup_first(page):
    """The first thing a page runs is ``page_setup(__file__)``: navigation, access gate, workspace."""
    import ast

    tree = ast.parse((Path(__file__).parents[1] / "pages" / page).read_text())
    skipped = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)
    first = next(node for node in tree.body
                 if not isinstance(node, skipped) and any(isinstance(n, ast.Call) for n in ast.walk(node)))
    calls = [n for n in ast.walk(first) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "page_setup"]
    assert calls, f"pages/{page}: line {first.lineno} runs before page_setup(__file__)"
    assert [getattr(a, "id", None) for a in calls[0].args] == ["__file__"]
