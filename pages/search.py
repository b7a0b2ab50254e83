"""Search: text -> tracks, and auto-tagging of a track or an uploaded clip."""

import streamlit as st

from core.engine.queries import text_to_tracks, track_to_tags
from core.errors import TagspaceError
from core.views.text import MAX_QUERY_CHARS, code_span, escape_markdown
from pages._common import (has_text_side, page_setup, picked_engine, player, result_table, set_url, show_error,
                           titles_of, track_or_clip, track_titles, url_text, url_value)

ws = page_setup(__file__)
st.title("Search")
model_name, eng, window = picked_engine("Model (with a text side)", require=has_text_side)


@st.fragment
def text_search() -> None:
    """Text -> tracks: typing or moving the slider reruns this tab only."""
    text = st.text_input("Tags or free text (e.g. `fast fiddle reel`, `smooth jazz`)", value=url_text("q"),
                         key="text_query", max_chars=MAX_QUERY_CHARS)
    no_zero_shot = eng.unavailable("zero_shot")
    if no_zero_shot:
        st.caption(f"Zero-shot words are off: {escape_markdown(no_zero_shot)}.")
    set_url(q=text)
    k = st.slider("Results", 5, 50, 10, key="text_k")
    if not text.strip():
        return
    try:
        result = text_to_tracks(eng, text, k=k)
    except TagspaceError as err:
        show_error(err)
        return
    used = result.used
    parts = [f"read as **{escape_markdown(used.get('source', '?'))}**"]
    if used.get("used_words"):
        parts.append("words used: " + ", ".join(code_span(w) for w in used["used_words"]))
    if used.get("form"):
        parts.append(f"form: {code_span(used['form'])} ({escape_markdown(used.get('method', ''))})")
    if used.get("missing_words"):
        parts.append("not in vocabulary: " + ", ".join(code_span(w) for w in used["missing_words"]))
    st.caption(" · ".join(parts))
    for warning in result.warnings:
        st.warning(warning)
    titles = track_titles()
    frame = result.to_frame()[["rank", "id", "score"]]
    frame.insert(2, "title", titles_of(frame["id"], titles))
    result_table(frame, window, "text", titles=titles,
                 column_config={"score": st.column_config.NumberColumn("score", format="%.3f")})


@st.fragment
def auto_tagging() -> None:
    """Track or clip -> tags: its widgets rerun this tab only."""
    query, filename = track_or_clip("Track", "Track", "tag", default=url_value("tag_track"),
                                    upload_label="Audio clip", no_upload=eng.unavailable("audio"))
    if filename is None:  # a catalog track (or none): kept in the URL, so it survives a switch of tabs
        set_url(tag_track=query)
    if query is not None and filename is None:
        player(query, window, key="tag")
        tags = ws.catalog.tags_of(query).items()
        st.caption("Catalog tags: " + escape_markdown("; ".join(f"{c}: {', '.join(t)}" for c, t in tags)))
    vocabulary = st.radio("Vocabulary", ["seen", "all"], horizontal=True, key="tag_vocab",
                          format_func=lambda v: "trained tags" if v == "seen" else "trained + zero-shot tags")
    if query is None:
        return
    try:
        result = track_to_tags(eng, query, k=15, vocabulary=vocabulary, filename=filename)
    except TagspaceError as err:
        show_error(err)
        return
    frame = result.to_frame()[["rank", "id", "score", "category", "seen"]].rename(columns={"id": "tag"})
    st.dataframe(frame, hide_index=True, width="stretch",
                 column_config={"score": st.column_config.ProgressColumn("score", min_value=-1.0,
                                                                         max_value=1.0, format="%.3f")})


# lazy tabs: only the open tab runs and is sent, so a visit does not load the other tab's widgets
text_tab, tag_tab = st.tabs(["Text → tracks", "Auto-tagging"], key="search_tab", on_change="rerun")
if text_tab.open:
    with text_tab:
        text_search()
if tag_tab.open:
    with tag_tab:
        auto_tagging()
