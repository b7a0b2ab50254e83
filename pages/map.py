"""Map: UMAP of the joint tag/audio space of a model."""

import streamlit as st

from core.engine.projection import load_projection, stratified_sample
from core.engine.queries import text_to_tracks, text_vector
from core.errors import TagspaceError
from core.views.map import COLOR_BY, map_figure, map_points, selected_ids, split_selection
from core.views.text import MAX_QUERY_CHARS, code_span, escape_markdown
from pages._common import picked_engine, player, set_url, show_error, url_text, url_value, workspace

MAX_POINTS = 20_000  # plotly WebGL stays responsive below this; larger views are sampled


@st.cache_data(show_spinner=False)
def _projection_frame(root: str, model_name: str, key: str):
    """The cached map as a frame (``key`` busts this cache when the map file changes)."""
    from core.workspace import Workspace

    return load_projection(Workspace.open(root), "model", model_name).frame()


st.title("Map of the joint space")
ws = workspace()
model_name, eng, window = picked_engine()
try:
    projection = load_projection(ws, "model", model_name)
except TagspaceError as err:
    show_error(err)
    st.stop()
frame = _projection_frame(str(ws.root), model_name, projection.path.name)

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

points = map_points(frame, ws.catalog, color_by)
tracks = points[points["kind"] == "track"]
keep = stratified_sample(tracks["label"], MAX_POINTS, seed=0)
if len(keep) < len(tracks):
    st.caption(f"Showing {len(keep):,} of {len(tracks):,} tracks, sampled in proportion to each colour group.")
    points = points.drop(index=tracks.index.difference(tracks.index[keep]))
else:
    st.caption(f"{len(tracks):,} tracks and {int((points['kind'] == 'tag').sum())} tags. "
               "Drag a box or lasso to select tracks; click a tag to list its nearest tracks.")

highlight = None
if word.strip():
    try:
        vector, used = text_vector(eng, word)
        x, y = projection.place(vector)[0]
        highlight = {"x": float(x), "y": float(y), "text": word}
        st.caption(escape_markdown(f"'{word}' read as {used['source']} ({used.get('form', '')}); "
                                   "placed where its nearest points in the full space lie."))
    except TagspaceError as err:
        show_error(err)

event = st.plotly_chart(map_figure(points, color_by, highlight, shade), on_select="rerun",
                        selection_mode=("points", "box", "lasso"), key="map_chart")
track_ids, tags = split_selection(selected_ids(event))

if tags:
    tag = tags[0]
    st.subheader(escape_markdown(f"Tracks nearest to the tag '{tag}'"))
    try:
        result = text_to_tracks(eng, tag, k=10)
        for hit in result.hits:
            a, b = st.columns([2, 3])
            a.write(f"{code_span(hit.id)} · {hit.score:.3f}")
            with b:
                player(hit.id, window, key="tag")
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
