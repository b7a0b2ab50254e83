"""Similar: query by example, with subspace weights and mix-and-match."""

import streamlit as st

from core.engine.queries import mix_and_match, weighted_subspace_search
from core.errors import TagspaceError
from core.views.playback import window_caption
from core.views.weights import weights_from_text, weights_to_text
from pages._common import (page_setup, picked_engine, player, result_table, set_url, show_error, titles_of,
                           track_or_clip, track_picker, track_titles, url_value)

ws = page_setup(__file__)
st.title("Similar tracks")
model_name, eng, window = picked_engine()
subspaces = [s for s in eng.subspaces if s != "all"]


def show_results(result) -> None:
    for warning in result.warnings:
        st.warning(warning)
    frame = result.to_frame()
    titles = track_titles()
    frame.insert(2, "title", titles_of(frame["id"], titles))
    sim_cols = [c for c in frame.columns if c.startswith("sim_")]
    config = {c: st.column_config.ProgressColumn(c[4:], min_value=-1.0, max_value=1.0, format="%.2f")
              for c in sim_cols}
    st.caption(f"{'Bars' if sim_cols else 'Scores'}: similarity of the query and each result in every subspace "
               f"(why it is close). {window_caption(window)}")
    result_table(frame, window, "similar", titles=titles, column_config=config)


@st.fragment
def weighted_results(query, filename: str | None) -> None:
    """The weight sliders and the ranking they give: a slider move reruns this part of the page only."""
    names = subspaces + ["track"]
    current = weights_from_text(url_value("w"), names, default=1.0)
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


mode = st.radio("Mode", ["Weighted similarity", "Mix and match"], horizontal=True,
                index=1 if url_value("mode") == "mix" else 0)
set_url(mode="mix" if mode == "Mix and match" else "weighted")

if mode == "Weighted similarity":
    query, filename = track_or_clip("Query", "Query track", "similar", default=url_value("track"), preview=True,
                                    no_upload=eng.unavailable("audio"))
    if filename is None:  # a catalog track (or none): kept in the URL
        set_url(track=query)
        if query:
            st.markdown("**Query**")
            player(query, window, key="query")
    if not subspaces:
        st.info(f"Model {model_name!r} has one space, no genre/mood/instrument/tempo subspaces: "
                "only the overall weight applies. Pick a disentangled (Lee et al.) model to weight subspaces.")
    weighted_results(query, filename)
else:
    if not subspaces:
        st.info(f"Model {model_name!r} has no subspaces to mix. Pick a disentangled (Lee et al.) model.")
        st.stop()
    st.caption("Take each dimension from a different track, e.g. the genre of A and the tempo of B "
               "(the mix-and-match scenario Lee et al. leave for future work).")
    sources = {}
    for name in subspaces:
        if st.checkbox(f"use {name}", value=name in ("genre", "tempo"), key=f"use_{name}"):
            track = track_picker(f"{name} from", f"mix_{name}")
            if track:
                sources[name] = track
    if sources:
        try:
            show_results(mix_and_match(eng, sources, k=10))
        except TagspaceError as err:
            show_error(err)
