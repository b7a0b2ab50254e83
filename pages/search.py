"""Search: text -> tracks, and auto-tagging of a track or an uploaded clip."""

import streamlit as st

from core.engine.queries import search_tracks, text_to_tracks, track_to_tags
from core.errors import TagspaceError
from core.views.text import MAX_QUERY_CHARS, code_span, escape_markdown
from pages._common import (clip_upload, picked_engine, player, result_table, set_url, show_error, url_text,
                           workspace)

st.title("Search")
ws = workspace()
model_name, eng, window = picked_engine(
    "Model (with a text side)",  # configs without recorded capabilities: the families with a text side
    require=lambda c: "text" in c["capabilities"] if "capabilities" in c else c.get("family") in ("won", "muslse", "mwe"))
titles = dict(zip(ws.catalog.tracks["track_id"], ws.catalog.tracks["title"]))

text_tab, tag_tab = st.tabs(["Text → tracks", "Auto-tagging"])

with text_tab:
    text = st.text_input("Tags or free text (e.g. `fast fiddle reel`, `smooth jazz`)", value=url_text("q"),
                         key="text_query", max_chars=MAX_QUERY_CHARS)
    no_zero_shot = eng.unavailable("zero_shot")
    if no_zero_shot:
        st.caption(f"Zero-shot words are off: {escape_markdown(no_zero_shot)}.")
    set_url(q=text)
    k = st.slider("Results", 5, 50, 10, key="text_k")
    if text.strip():
        try:
            result = text_to_tracks(eng, text, k=k)
        except TagspaceError as err:
            show_error(err)
        else:
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
            frame = result.to_frame()[["rank", "id", "score"]]
            frame.insert(2, "title", frame["id"].map(titles))
            result_table(frame, window, "text", titles=titles,
                         column_config={"score": st.column_config.NumberColumn("score", format="%.3f")})

with tag_tab:
    no_audio = eng.unavailable("audio")
    source = st.radio("Track", ["Catalog track"] if no_audio else ["Catalog track", "Upload a clip"],
                      horizontal=True, key="tag_source")
    if no_audio:
        st.caption(f"Uploads are off: {escape_markdown(no_audio)}.")
    query, filename = None, None
    if source == "Catalog track":
        needle = st.text_input("Search title, artist or id", key="tag_search", max_chars=MAX_QUERY_CHARS)
        try:
            found = search_tracks(ws.catalog, needle, limit=200)
        except TagspaceError as err:
            show_error(err)
        else:
            if not found.empty:
                ids = found["track_id"].tolist()
                query = st.selectbox("Track", ids, format_func=lambda t: f"{titles.get(t, t)} · {t}",
                                     key="tag_track")
                player(query, window, key="tag")
                tags = ws.catalog.tags_of(query).items()
                st.caption("Catalog tags: " + escape_markdown("; ".join(f"{c}: {', '.join(t)}" for c, t in tags)))
    else:
        query, filename = clip_upload("Audio clip", key="tag_upload")
    vocabulary = st.radio("Vocabulary", ["seen", "all"], horizontal=True, key="tag_vocab",
                          format_func=lambda v: "trained tags" if v == "seen" else "trained + zero-shot tags")
    if query is not None:
        try:
            result = track_to_tags(eng, query, k=15, vocabulary=vocabulary, filename=filename)
        except TagspaceError as err:
            show_error(err)
        else:
            frame = result.to_frame()[["rank", "id", "score", "category", "seen"]].rename(columns={"id": "tag"})
            st.dataframe(frame, hide_index=True, width="stretch",
                         column_config={"score": st.column_config.ProgressColumn("score", min_value=-1.0,
                                                                                 max_value=1.0, format="%.3f")})
