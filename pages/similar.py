"""Similar: query by example, with subspace weights and mix-and-match."""

import streamlit as st

from core.engine.queries import mix_and_match, search_tracks, weighted_subspace_search
from core.errors import TagspaceError
from core.views.playback import window_caption
from core.views.text import MAX_QUERY_CHARS
from core.views.weights import weights_from_text, weights_to_text
from pages._common import (clip_upload, picked_engine, player, result_table, set_url, show_error, url_value,
                           workspace)

st.title("Similar tracks")
ws = workspace()
model_name, eng, window = picked_engine()
subspaces = [s for s in eng.subspaces if s != "all"]


def pick_track(label: str, key: str, default: str | None = None) -> str | None:
    """Search the catalog by title/artist/id and pick one track."""
    query = st.text_input(f"{label}: search title, artist or id", key=f"q_{key}", max_chars=MAX_QUERY_CHARS)
    try:
        found = search_tracks(ws.catalog, query, limit=200)
    except TagspaceError as err:
        show_error(err)
        return None
    if found.empty:
        st.caption("no track matches")
        return None
    ids = found["track_id"].tolist()
    names = dict(zip(found["track_id"], found["title"]))
    index = ids.index(default) if default in ids else 0
    return st.selectbox(label, ids, index=index, key=f"sel_{key}", format_func=lambda t: f"{names[t]} · {t}")


def show_results(result) -> None:
    for warning in result.warnings:
        st.warning(warning)
    frame = result.to_frame()
    titles = dict(zip(ws.catalog.tracks["track_id"], ws.catalog.tracks["title"]))
    frame.insert(2, "title", frame["id"].map(titles))
    sim_cols = [c for c in frame.columns if c.startswith("sim_")]
    config = {c: st.column_config.ProgressColumn(c[4:], min_value=-1.0, max_value=1.0, format="%.2f")
              for c in sim_cols}
    st.caption(f"{'Bars' if sim_cols else 'Scores'}: similarity of the query and each result in every subspace "
               f"(why it is close). {window_caption(window)}")
    result_table(frame, window, "similar", titles=titles, column_config=config)


mode = st.radio("Mode", ["Weighted similarity", "Mix and match"], horizontal=True,
                index=1 if url_value("mode") == "mix" else 0)
set_url(mode="mix" if mode == "Mix and match" else "weighted")

if mode == "Weighted similarity":
    no_audio = eng.unavailable("audio")
    source = st.radio("Query", ["Catalog track"] if no_audio else ["Catalog track", "Upload a clip"], horizontal=True)
    if no_audio:
        st.caption(f"Uploads are off: {escape_markdown(no_audio)}.")
    query, filename = None, None
    if source == "Catalog track":
        query = pick_track("Query track", "query", default=url_value("track"))
        set_url(track=query)
        if query:
            st.markdown("**Query**")
            player(query, window, key="query")
    else:
        query, filename = clip_upload(key="similar_upload", preview=True)

    names = subspaces + ["track"]
    current = weights_from_text(url_value("w"), names, default=1.0)
    if not subspaces:
        st.info(f"Model {model_name!r} has one space, no genre/mood/instrument/tempo subspaces: "
                "only the overall weight applies. Pick a disentangled (Lee et al.) model to weight subspaces.")
    cols = st.columns(len(names))
    weights = {}
    for col, name in zip(cols, names):
        title = "overall / track" if name == "track" else name
        weights[name] = col.slider(title, 0.0, 1.0, current[name], 0.05, key=f"w_{name}",
                                   disabled=(name == "track" and not subspaces))
    set_url(w=weights_to_text(weights))
    k = st.slider("Results", 5, 50, 10, key="k")
    if query is not None:
        try:
            show_results(weighted_subspace_search(eng, query, weights=weights, k=k, filename=filename))
        except TagspaceError as err:
            show_error(err)
else:
    if not subspaces:
        st.info(f"Model {model_name!r} has no subspaces to mix. Pick a disentangled (Lee et al.) model.")
        st.stop()
    st.caption("Take each dimension from a different track, e.g. the genre of A and the tempo of B "
               "(the mix-and-match scenario Lee et al. leave for future work).")
    sources = {}
    for name in subspaces:
        if st.checkbox(f"use {name}", value=name in ("genre", "tempo"), key=f"use_{name}"):
            track = pick_track(f"{name} from", f"mix_{name}")
            if track:
                sources[name] = track
    if sources:
        try:
            show_results(mix_and_match(eng, sources, k=10))
        except TagspaceError as err:
            show_error(err)
