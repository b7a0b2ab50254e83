"""Words: a general and a musical word embedding side by side."""

import pandas as pd
import streamlit as st

from core.errors import TagspaceError
from core.views.text import MAX_QUERY_CHARS, escape_markdown
from core.views.words import MAX_PAIRS, compare_phrase, pair_cosine_figure, pair_cosine_frame
from core.words.compare import README_PAIRS, music_vocabulary
from pages._common import page_setup, set_url, show_error, state_key, url_text, word_vectors, workspace

ws = page_setup(__file__)
st.title("Words: general vs musical")


@st.cache_data(show_spinner=False, max_entries=8)
def _music_vocabulary(root: str, state: str) -> frozenset[str]:
    """The taxonomy and catalog terms, gathered once per workspace state (not on every rerun)."""
    return music_vocabulary(workspace())


names = ws.word_embedding_names()
if len(names) < 1:
    st.warning("This workspace has no word embeddings. Build them with `python -m core words build` "
               "or import one with `python -m core words import --path FILE`.")
    st.stop()

try:
    loaded = {n: word_vectors(n) for n in names}
except TagspaceError as err:
    show_error(err)
    st.stop()
general = [n for n, wv in loaded.items() if wv.domain == "general"] or names
musical = [n for n, wv in loaded.items() if wv.domain == "musical"] or names
c1, c2 = st.columns(2)
left = c1.selectbox("General embedding", general, key="left")
right = c2.selectbox("Musical embedding", musical, key="right")
chosen = {left: loaded[left], right: loaded[right]}


# Keyed by the workspace state and the inputs: a visit with the URL's phrase (or the default pairs) reuses the
# neighbour tables and the chart instead of scanning 400,000 GloVe vectors and building the figure again.
@st.cache_data(show_spinner=False, max_entries=256)
def _side_by_side(root: str, state: str, left: str, right: str, phrase: str, k: int, min_count: int):
    return compare_phrase({left: loaded[left], right: loaded[right]}, phrase, k, _music_vocabulary(root, state),
                          min_count=min_count)


@st.cache_resource(show_spinner=False, max_entries=64)
def _pair_view(root: str, state: str, left: str, right: str, pairs: tuple[tuple[str, str], ...]):
    """(pair cosine table, its chart), shared read-only by every session."""
    frame = pair_cosine_frame({left: loaded[left], right: loaded[right]}, list(pairs))
    return frame, pair_cosine_figure(frame)


@st.fragment
def neighbours() -> None:
    """Neighbours of a phrase in both embeddings: its widgets rerun this part of the page only."""
    phrase = st.text_input("Word or phrase", value=url_text("word", "house"), key="word", max_chars=MAX_QUERY_CHARS)
    set_url(word=phrase)
    k = st.slider("Neighbours", 5, 30, 10, key="nk")
    min_count = st.number_input("Minimum training count (embeddings with counts only; rare tokens are noisy)",
                                min_value=1, value=2, step=1, key="min_count")
    try:
        result = (_side_by_side(str(ws.root), state_key(ws), left, right, phrase, k, int(min_count))
                  if phrase.strip() else None)
    except TagspaceError as err:
        show_error(err)
        return
    if result is None:
        return
    cols = st.columns(2)
    for col, name in zip(cols, chosen):
        with col:
            st.subheader(escape_markdown(chosen[name].label or name))
            if result.tables[name] is None:
                st.error(escape_markdown(result.errors[name]))
                continue
            st.caption(escape_markdown(f"looked up as {result.lookups[name]}"))
            table = result.tables[name]
            st.dataframe(table, hide_index=True, width="stretch",  # a number format, not a Styler: lighter to send
                         column_config={c: st.column_config.NumberColumn(format="%.3f")
                                        for c in table.select_dtypes("float").columns})
    if result.overlap is not None:
        m1, m2 = st.columns(2)
        m1.metric("Neighbour overlap", f"{result.overlap:.2f}")
        m2.metric("Rank correlation (Spearman)", f"{result.spearman:.2f}")
    st.caption("Music terms (ticked) are words in the genre taxonomy or the catalog's tags.")


@st.fragment
def pair_cosines() -> None:
    """Cosines of editable word pairs: editing the table reruns this part of the page only."""
    st.subheader("Pair cosines")
    pairs = pd.DataFrame(list(README_PAIRS) + [("jungle", "drum and bass"), ("soul", "funk")], columns=["a", "b"])
    edited = st.data_editor(pairs, num_rows="dynamic", key="pairs", hide_index=True,
                            column_config={c: st.column_config.TextColumn(c, max_chars=MAX_QUERY_CHARS) for c in "ab"})
    pair_list = [(str(a).strip(), str(b).strip()) for a, b in edited.itertuples(index=False) if str(a).strip() and str(b).strip()]
    if len(pair_list) > MAX_PAIRS:
        st.caption(f"Comparing the first {MAX_PAIRS} of {len(pair_list)} pairs.")
        pair_list = pair_list[:MAX_PAIRS]
    try:
        frame, figure = (_pair_view(str(ws.root), state_key(ws), left, right, tuple(pair_list)) if pair_list
                         else (None, None))
    except TagspaceError as err:
        show_error(err)
        return
    if frame is not None:
        st.plotly_chart(figure, key="pair_chart")
        missing = frame[frame["note"] != ""]
        if len(missing):
            st.caption("Missing: " + escape_markdown("; ".join(f"{r.embedding}: {r.note}" for r in missing.itertuples())))


neighbours()
pair_cosines()
