"""Pure view logic behind the pages: map points and selections, playback windows, uploads, weights."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from core.catalog import Catalog
from core.errors import DataError, ParameterError
from core.views.health import workspace_problems
from core.views.summary import headline_metrics, headline_table, track_table
from core.views.map import map_figure, map_points, selected_ids, split_selection, track_labels
from core.views.playback import excerpt_window, window_caption
from core.views.text import (MAX_QUERY_CHARS, MAX_QUERY_WORDS, check_query_text, code_span, escape_markdown,
                             markdown_table)
from core.views.uploads import check_upload
from core.views.weights import weights_from_text, weights_to_text
from core.workspace import Workspace


@pytest.fixture()
def catalog():
    tracks = pd.DataFrame({
        "track_id": ["t1", "t2", "t3"], "artist_id": ["a", "a", "b"], "title": ["One", "Two", "Three"],
        "audio_path": ["t1.wav", "t2.wav", "t3.wav"], "duration": [10.0, 10.0, 10.0],
        "split": ["train", "valid", "test"], "bpm": [60.0, 100.0, 140.0], "source": ["x"] * 3})
    artists = pd.DataFrame({"artist_id": ["a", "b"], "name": ["Ann", "Bob"]})
    tags = pd.DataFrame({
        "track_id": ["t1", "t1", "t2", "t3", "t3"], "tag": ["jig", "slow", "reel", "reel", "fast"],
        "original_tag": ["Jig", "slow", "Reel", "reel", "fast"],
        "category": ["genre", "tempo", "genre", "genre", "tempo"], "score": [100.0] * 5})
    return Catalog(tracks, artists, tags)


def _projection_frame():
    return pd.DataFrame({"id": ["t1", "t2", "t3", "reel"], "kind": ["track"] * 3 + ["tag"],
                         "category": [None, None, None, "genre"], "x": [0.0, 1.0, 2.0, 1.5],
                         "y": [0.0, 1.0, 0.5, 0.7], "preservation": [1.0, 0.5, 0.0, 0.8]})


def test_track_labels_by_category_artist_split(catalog):
    assert track_labels(catalog, ["t1", "t2", "t3"], "genre") == ["jig", "reel", "reel"]
    assert track_labels(catalog, ["t1", "t2", "t3"], "tempo") == ["slow", "(none)", "fast"]
    assert track_labels(catalog, ["t3", "t1"], "artist") == ["Bob", "Ann"]
    assert track_labels(catalog, ["t2"], "split") == ["valid"]
    with pytest.raises(ParameterError):
        track_labels(catalog, ["t1"], "colour")


def test_map_points_and_figure_are_deterministic(catalog):
    points = map_points(_projection_frame(), catalog, "genre")
    assert points.loc[points["kind"] == "tag", "id"].tolist() == ["tag:reel"]
    assert points.loc[points["kind"] == "track", "name"].tolist() == ["One", "Two", "Three"]
    a = map_figure(points, "genre", shade_preservation=True).to_json()
    b = map_figure(points, "genre", shade_preservation=True).to_json()
    assert a == b  # a figure that changes between reruns resets the selection
    fig = map_figure(points, "genre", highlight={"x": 0.5, "y": 0.5, "text": "jazz"})
    assert [t.name for t in fig.data] == ["jig", "reel", "tags", "query"]
    opacities = map_figure(points, "genre", shade_preservation=True).data[1].marker.opacity
    assert list(opacities) == pytest.approx([0.15 + 0.85 * 0.5, 0.15])


def test_selection_maps_customdata_to_ids():
    event = {"selection": {"points": [{"customdata": "t2", "point_index": 0},
                                      {"customdata": ["tag:reel"], "point_index": 0},
                                      {"customdata": "t2"}, {"customdata": "query"}, {"x": 1}]}}
    ids = selected_ids(event)
    assert ids == ["t2", "tag:reel", "query"]
    assert split_selection(ids) == (["t2"], ["reel"])
    assert selected_ids(None) == [] and selected_ids({"selection": {"points": []}}) == []


def test_excerpt_window():
    assert excerpt_window(20.0, 3.0) == (8.5, 11.5)
    assert excerpt_window(20.0, 3.0, "start") == (0.0, 3.0)
    assert excerpt_window(2.0, 3.0) == (0.0, 2.0)
    with pytest.raises(ParameterError):
        excerpt_window(0.0, 3.0)
    assert window_caption(4.017) == "Excerpts: 4.0 s windows, the length the model saw."
    assert "whole" in window_caption(None)  # bag-of-frames models have no window


def test_playback_window_is_each_models_input_length(tiny_workspace):
    """The window the pages play is the input length of each family's model as the demo presets train it."""
    from core.models.checkpoint import load_model

    mel = np.random.default_rng(0).random((128, 1000)).astype(np.float32)
    frames = {}
    for name in tiny_workspace.model_names():
        model = load_model(tiny_workspace, name)
        frames.setdefault(model.family, set()).add(model.input_frames)
        if model.input_frames is None:  # a whole track is one input
            assert model.input_seconds is None and model.track_inputs(mel).shape[0] == 1
        else:
            assert model.track_inputs(mel).shape[-1] == model.input_frames
            assert model.input_seconds == pytest.approx(model.input_frames * 512 / 22050, abs=1e-3)
    assert frames == {"won": {173}, "lee": {129}, "mwe": {130}, "mfcc_vq": {None}, "muslse": {None}}
    won = load_model(tiny_workspace, "won-balanced-weighted")
    assert won.input_seconds == pytest.approx(4.017, abs=1e-3)  # Won's 4 s crops, not 3 s


def test_check_upload():
    check_upload("clip.ogg", 1000)
    with pytest.raises(DataError, match="not a supported audio file"):
        check_upload("notes.txt", 10)
    with pytest.raises(DataError, match="limit"):
        check_upload("big.wav", 21 * 2**20)
    with pytest.raises(DataError, match="empty"):
        check_upload("x.wav", 0)


def test_weights_round_trip():
    names = ["genre", "mood", "track"]
    w = {"genre": 0.25, "mood": 1.0, "track": 0.0}
    assert weights_from_text(weights_to_text(w), names) == w
    assert weights_from_text("genre:x,tempo:1,mood:0.5", names) == {"genre": 0.0, "mood": 0.5, "track": 0.0}
    assert weights_from_text(None, names) == {"genre": 1.0, "mood": 1.0, "track": 1.0}


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e400", "7", "-0.5", "1.0001", "", "0x1"])
def test_weights_from_the_url_ignore_non_finite_and_out_of_range_values(value):
    names = ["genre", "mood", "track"]
    assert weights_from_text(f"genre:{value},mood:0.25", names) == {"genre": 0.0, "mood": 0.25, "track": 0.0}
    # nothing usable: the defaults, as without a URL
    assert weights_from_text(f"genre:{value}", names) == {"genre": 1.0, "mood": 1.0, "track": 1.0}


def test_track_table_and_headlines(catalog):
    table = track_table(catalog)
    assert table.loc[table["track_id"] == "t1", "genre"].item() == "jig"
    assert table["artist"].tolist() == ["Ann", "Ann", "Bob"]
    assert track_table(catalog, "REEL")["track_id"].tolist() == ["t2", "t3"]
    evaluation = {"models": {"m": {"family": "lee", "variant": "v",
                                   "metrics": {"triplet_acc": {"sub_dims": {"overall": 0.8}}}}}}
    heads = headline_metrics(evaluation, ["m", "untrained"], {"m": {"model": {"rhythm": True}}})
    assert heads.loc[0, "triplet acc (sub-dims)"] == 0.8
    assert heads["adds"].tolist() == ["rhythm branch", ""]
    assert np.isnan(heads.loc[1, "triplet acc (sub-dims)"]) and "tag ROC-AUC" not in heads


def test_headline_table_gives_every_metric_its_interval():
    evaluation = {"models": {"m": {"family": "lee", "variant": "v",
                                   "metrics": {"triplet_acc": {"sub_dims": {"overall": 0.8}, "track": 0.9}},
                                   "intervals": {"triplet_acc": {"sub_dims": {"overall": [0.75, 0.85]},
                                                                 "track": None}}}}}
    table = headline_table(evaluation, ["m", "untrained"])
    assert table.loc[0, "triplet acc (sub-dims)"] == "0.800 [0.750, 0.850]"
    assert table.loc[0, "track triplets"] == "0.900"  # no interval recorded: the value alone, never a made-up one
    assert table.loc[1, "triplet acc (sub-dims)"] == "–" and table["model"].tolist() == ["m", "untrained"]
    assert "tag ROC-AUC" not in table  # a metric no model has: no column


def test_workspace_problems_name_the_fix(tmp_path, catalog):
    ws = Workspace.create(tmp_path / "w", name="t")
    problems = workspace_problems(ws)
    assert problems[0].severity == "error" and "build-demo" in problems[0].fix
    ws.save_catalog(catalog)
    whats = " ".join(p.what for p in workspace_problems(ws))
    assert "no readable audio" in whats and "no trained models" in whats and "no word embeddings" in whats


def test_catalog_fingerprint_ignores_tag_row_order(catalog):
    shuffled = Catalog(catalog.tracks, catalog.artists, catalog.track_tags.iloc[::-1])
    assert shuffled.fingerprint() == catalog.fingerprint()
    changed = catalog.track_tags.copy()
    changed.loc[0, "tag"] = "reel"
    assert Catalog(catalog.tracks, catalog.artists, changed).fingerprint() != catalog.fingerprint()


HOSTILE = [
    "[click](http://evil.test)", "![img](http://evil.test/x.png)", "<b>x</b><script>alert(1)</script>",
    "$E=mc^2$ $$x$$", "`a` ``b`` ```c```", "# heading", "**b** _i_ ~~s~~ &amp; &#60;", ":red[x] :smile:",
    "line\nbreak\r\n- item\n1. item", "a | b\n--|--", "back\\slash \\", "Plain title 7", "",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_escape_markdown_escapes_every_markup_character(text):
    out = escape_markdown(text)
    assert "\n" not in out and "\r" not in out
    plain, i = [], 0
    while i < len(out):  # read the escapes back; no markup character may stand unescaped
        if out[i] == "\\":
            assert out[i + 1] in "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", out
            plain.append(out[i + 1])
            i += 2
            continue
        assert out[i].isalnum() or out[i] == " ", (out, i)
        plain.append(out[i])
        i += 1
    assert "".join(plain) == " ".join(text.replace("\r\n", "\n").split("\n"))


@pytest.mark.parametrize("text", HOSTILE)
def test_code_span_fences_any_backticks(text):
    out = code_span(text)
    if not text:
        assert out == ""
        return
    fence = len(out) - len(out.lstrip("`"))
    inner = out[fence:len(out) - fence]
    assert out.startswith("`" * fence) and out.endswith("`" * fence)
    assert "`" * fence not in inner and "\n" not in out
    one_line = " ".join(text.replace("\r\n", "\n").split("\n"))
    assert inner == (f" {one_line} " if one_line.startswith("`") or one_line.endswith("`") else one_line)


def test_markdown_table_keeps_one_row_per_line_whatever_the_cells_hold():
    table = markdown_table(["name", "n"], [[text, i] for i, text in enumerate(HOSTILE)])
    lines = table.split("\n")
    assert lines[0] == "| name | n |" and lines[1] == "|---|---|" and len(lines) == 2 + len(HOSTILE)
    for line, (i, text) in zip(lines[2:], enumerate(HOSTILE)):
        cells = re.split(r"(?<!\\)\|", line)[1:-1]  # split on unescaped pipes only
        assert [c.strip() for c in cells] == [escape_markdown(text).strip(), str(i)]
    with pytest.raises(ParameterError, match="2 cells"):
        markdown_table(["name", "n"], [["only one"]])


def test_check_query_text_limits():
    assert check_query_text("sad piano") == "sad piano"
    assert check_query_text(" ".join(["w"] * MAX_QUERY_WORDS))
    assert check_query_text("x" * MAX_QUERY_CHARS)
    with pytest.raises(ParameterError, match="limit is 16"):
        check_query_text(" ".join(["w"] * (MAX_QUERY_WORDS + 1)))
    with pytest.raises(ParameterError, match="limit is 200"):
        check_query_text("x" * (MAX_QUERY_CHARS + 1))
    with pytest.raises(ParameterError, match="must be text"):
        check_query_text(None)


def test_pair_cosine_figure_groups_one_trace_per_embedding():
    from core.views.words import pair_cosine_figure

    frame = pd.DataFrame({"pair": ["a / b", "c / d", "a / b", "c / d"], "embedding": ["glove", "glove", "music", "music"],
                          "cosine": [0.5, float("nan"), 0.25, 0.75], "note": ["", "c missing", "", ""]})
    fig = pair_cosine_figure(frame)
    assert [t.name for t in fig.data] == ["glove", "music"] and fig.layout.barmode == "group"
    assert list(fig.data[1].x) == ["a / b", "c / d"] and list(fig.data[1].y) == [0.25, 0.75]
    assert np.isnan(fig.data[0].y[1]) and tuple(fig.layout.yaxis.range) == (-0.2, 1.0)
