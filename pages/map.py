"""Map: UMAP of the joint tag/audio space of a model."""

import streamlit as st

from core.engine.projection import load_projection, stratified_sample
from core.engine.queries import text_to_tracks, text_vector
from core.errors import TagspaceError
from core.views.map import COLOR_BY, map_figure, map_points, map_trace_ids, selected_ids, split_selection
from core.views.text import MAX_QUERY_CHARS, code_span, escape_markdown
from pages._common import (page_setup, picked_engine, player, result_rows, set_url, show_error, state_key, url_text,
                           url_value, workspace)

#: How many tracks the map may draw (WebGL); the visitor picks, all of them up to the largest choice.
DRAWN_CHOICES = (10_000, 20_000, 50_000, 100_000, 200_000)

ws = page_setup(__file__)
st.title("Map of the joint space")
model_name, eng, window = picked_engine()
state = state_key(ws)


# Cached per workspace state: a rerun (a selection, a word) neither reads the map file nor rebuilds the figure.
@st.cache_resource(show_spinner="Reading the map…", max_entries=16)
def _projection(root: str, model_name: str, state: str):
    return load_projection(workspace(), "model", model_name)


@st.cache_data(show_spinner=False, max_entries=32)
def _points(root: str, model_name: str, color_by: str, state: str):
    return map_points(_projection(root, model_name, state).frame(), workspace().catalog, color_by)


@st.cache_resource(show_spinner="Drawing the map…", max_entries=16)
def _map_view(root: str, model_name: str, color_by: str, drawn: int, shade: bool, highlight: tuple | None,
              state: str):
    """(figure, ids of each trace's points, tracks drawn, tracks in all) of one view of the map."""
    points = _points(root, model_name, color_by, state)
    tracks = points[points["kind"] == "track"]
    keep = stratified_sample(tracks["label"], drawn, seed=0)
    if len(keep) < len(tracks):
        points = points.drop(index=tracks.index.difference(tracks.index[keep]))
    mark = dict(zip(("x", "y", "text"), highlight)) if highlight else None
    return map_figure(points, color_by, mark, shade), map_trace_ids(points, mark), len(keep), len(tracks)


try:
    projection = _projection(str(ws.root), model_name, state)
except TagspaceError as err:
    show_error(err)
    st.stop()

c1, c2, c3 = st.columns([2, 2, 1])
color_default = url_value("color", "genre")
color_by = c1.selectbox("Colour tracks by", COLOR_BY, index=COLOR_BY.index(color_default) if color_default in COLOR_BY else 0)
set_url(color=color_by)
no_text, no_zero_shot = eng.unavailable("text"), eng.unavailable("zero_shot")
word = c2.text_input("Find a word" if no_zero_shot else "Find a word (zero-shot words too)",
                     value="" if no_text else url_text("word"), key="map_word", max_chars=MAX_QUERY_CHARS,
                     disabled=bool(no_text), help=no_text or no_zero_shot)
if no_text or no_zero_shot:
    c2.caption(escape_markdown(f"{'Word search' if no_text else 'Zero-shot words'} off: {no_text or no_zero_shot}."))
set_url(word=word)
shade = c3.toggle("Shade by neighbourhood preservation", key="shade",
                  help="Points whose 10 nearest neighbours in the full space are mostly not near them "
                       "in 2-D are drawn faint: there the map misleads.")

n_tracks = sum(kind == "track" for kind in projection.kinds)
choices = [n for n in DRAWN_CHOICES if n < n_tracks] + [n_tracks]
drawn = n_tracks
if len(choices) > 1:
    drawn = st.select_slider("Tracks drawn", choices, value=min(n_tracks, 100_000), key="map_drawn",
                             format_func=lambda n: f"all {n:,}" if n == n_tracks else f"{n:,}",
                             help="Fewer points draw faster; a sample keeps every colour group in proportion.")

highlight = None
if word.strip():
    try:
        vector, used = text_vector(eng, word)
        x, y = projection.place(vector)[0]
        highlight = (float(x), float(y), word)
        st.caption(escape_markdown(f"'{word}' read as {used['source']} ({used.get('form', '')}); "
                                   "placed where its nearest points in the full space lie."))
    except TagspaceError as err:
        show_error(err)

figure, trace_ids, shown, total = _map_view(str(ws.root), model_name, color_by, drawn, shade, highlight, state)
if shown < total:
    st.caption(f"Showing {shown:,} of {total:,} tracks, sampled in proportion to each colour group.")
else:
    st.caption(f"{total:,} tracks and {sum(kind == 'tag' for kind in projection.kinds)} tags. "
               "Drag a box or lasso to select tracks; click a tag to list its nearest tracks.")


@st.fragment
def map_and_selection() -> None:
    """The map and what is selected on it: a selection reruns this part of the page only."""
    event = st.plotly_chart(figure, on_select="rerun", selection_mode=("points", "box", "lasso"), key="map_chart")
    track_ids, tags = split_selection(selected_ids(event, trace_ids))
    if tags:
        tag = tags[0]
        st.subheader(escape_markdown(f"Tracks nearest to the tag '{tag}'"))
        try:
            result_rows(text_to_tracks(eng, tag, k=10).hits, window, key="tag")
        except TagspaceError as err:
            show_error(err)
    if track_ids:
        st.subheader(f"{len(track_ids)} selected track(s)")
        table = ws.catalog.tracks.set_index("track_id").loc[track_ids, ["title", "artist_id", "split", "bpm"]]
        st.dataframe(table, width="stretch")
        for tid in track_ids[:20]:
            a, b = st.columns([2, 3])
            a.write(f"**{escape_markdown(table.at[tid, 'title'])}** · {code_span(tid)}")
            with b:
                player(tid, window, key="selection")
        if len(track_ids) > 20:
            st.caption(f"Players for the first 20 of {len(track_ids)} selected tracks.")


map_and_selection()
