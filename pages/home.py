"""Home: the workspace at a glance."""

import streamlit as st

from core.views.health import workspace_problems
from core.views.summary import headline_table, load_evaluation, model_configs, splits_table, track_table
from core.views.text import MAX_QUERY_CHARS, code_span, escape_markdown, markdown_table
from pages._build import build_progress, run_active
from pages._common import page_setup, result_table, state_key, workspace, workspace_root

ws = page_setup(__file__)
state = state_key(ws)


# Each is computed once per workspace state (``state`` changes when a watched file does), not on every visit.
@st.cache_data(show_spinner=False, max_entries=8)
def _info(root: str, state: str) -> dict:
    return workspace().info()


@st.cache_data(show_spinner=False, max_entries=8)
def _models(root: str, state: str):
    ws = workspace()
    return headline_table(load_evaluation(ws), ws.model_names(), model_configs(ws))


@st.cache_data(show_spinner=False, max_entries=8)
def _problems(root: str, state: str):
    """What needs attention (checks every audio path: once per state, not per visit)."""
    return workspace_problems(workspace())


@st.cache_data(show_spinner=False, max_entries=64)
def _tracks(root: str, state: str, query: str):
    return track_table(workspace().catalog, query)


info = _info(str(ws.root), state)

st.title("Tagspace")
st.caption(f"Workspace **{escape_markdown(info['name'])}** at {code_span(info['workspace'])}")
build_progress(ws.root)

cols = st.columns(4)
cols[0].metric("Tracks", info["tracks"])
cols[1].metric("Artists", info["artists"])
cols[2].metric("Tags", info["tags"])
cols[3].metric("Tracks tagged in every category", info["tracks_with_all_categories"])

left, right = st.columns(2)
with left:
    st.subheader("Tags per category")
    # small tables as Markdown: each dataframe (or chart) loads its component in the browser on every visit
    st.markdown(markdown_table(["category", "tags"], [[c, n] for c, n in info["tags_by_category"].items()]))
    if ws.manifest.get("demo"):
        st.caption("Demo corpus: mood tags are derived by a rule from mode and tempo, not from listeners.")
with right:
    st.subheader("Word embeddings")
    st.write(escape_markdown(", ".join(info["word_embeddings"]) or "none"))
    st.subheader("Splits")
    splits = splits_table(info["splits"])
    st.markdown(markdown_table(list(splits.columns), splits.to_numpy().tolist()))

st.subheader("Models")
models = _models(str(ws.root), state)
if models.empty:
    st.info("No trained models yet.")
else:
    st.markdown(markdown_table(list(models.columns), models.to_numpy().tolist()))
    st.caption("Test split; in brackets the 95% bootstrap interval. Results has every metric, the papers' "
               "numbers and the paired comparisons.")

problems = [] if run_active(ws.root) else _problems(str(ws.root), state)  # during a build: its progress, above
if problems:
    st.subheader("Needs attention")
    for p in problems:
        (st.error if p.severity == "error" else st.warning)(f"{escape_markdown(p.what)}. Fix: {p.fix}")


@st.fragment
def track_list() -> None:
    """The filtered, paged track table; ticked rows get players (ten players on every visit made Home slow).

    Its widgets rerun this part of the page only.
    """
    st.subheader("Tracks")
    query = st.text_input("Filter tracks (id, title, artist or tag)", key="home_filter", max_chars=MAX_QUERY_CHARS)
    table = _tracks(str(ws.root), state, query)
    page_size = 10
    pages = max(1, -(-len(table) // page_size))
    page = st.number_input(f"Page (of {pages})", min_value=1, max_value=pages, value=1, step=1)
    shown = table.iloc[(page - 1) * page_size: page * page_size]
    result_table(shown, 3.0, key=f"home_{page}_{query}", id_column="track_id",
                 titles=dict(zip(shown["track_id"], shown["title"])))


track_list()

with st.expander("Use another workspace"):
    st.markdown(
        # inline code, not a code block: a block loads the syntax highlighter (about 0.2 s per visit)
        f"This app shows {code_span(workspace_root())}. Start it on another one with "
        "`streamlit run app.py -- --workspace /path/to/workspace` "
        "or set `TAGSPACE_WORKSPACE`. Create one from your data with `python -m core import` "
        "(see the README for the tag-file formats)."
    )
