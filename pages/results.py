"""Results: the evaluation as bar charts with 95% intervals, next to the papers' numbers; paired comparisons."""

import streamlit as st

from core.evaluation.published import published_numbers, published_tables
from core.evaluation.report import CAPTIONS, comparison_table, results_intervals, results_tables
from core.views.summary import load_evaluation
from core.views.results import (SECTION_NAMES, comparison_figure, metric_bars, published_bars,
                                table_with_intervals)
from core.views.text import escape_markdown
from pages._common import page_setup, set_url, state_key, url_value, workspace

ws = page_setup(__file__)
st.title("Results")


@st.cache_resource(show_spinner="Reading the evaluation…", max_entries=4)
def _results(root: str, state: str) -> dict | None:
    """Every table and figure of this page, built once per workspace state (not on every visit).

    Shared by all sessions and never changed after it is built.
    """
    evaluation = load_evaluation(workspace())
    if evaluation is None:
        return None
    tables = results_tables(evaluation)
    intervals = results_intervals(evaluation)
    published = published_numbers()
    published_frames = published_tables()
    sections = []
    for key, frame in tables.items():
        meta = published.get(key) if key in published_frames else None
        sections.append({
            "key": key, "frame": table_with_intervals(frame, intervals[key]),
            "figure": metric_bars(frame, intervals[key]), "published": meta,
            "published_figure": published_bars(published_frames[key], meta["id_columns"], meta["label"],
                                               meta["dataset"]) if meta else None})
    comparisons = comparison_table(evaluation)
    return {"evaluation": evaluation, "sections": sections, "comparisons": comparisons,
            "comparison_figure": None if comparisons.empty else comparison_figure(evaluation),
            "others": [(published[k], published_frames[k]) for k in published_frames if k not in tables]}


results = _results(str(ws.root), state_key(ws))
if results is None:
    st.warning(f"No evaluation yet. Run `python -m core evaluate --workspace {ws.root}`.")
    st.stop()
evaluation = results["evaluation"]
st.caption(f"Measured on the **{evaluation.get('split', 'test')}** split of this workspace "
           f"(created {evaluation.get('created', '?')}). Numbers come from `{ws.evaluation_path}`. "
           "Error bars are 95% bootstrap intervals (test tracks, or tags for per-tag metrics, resampled).")

for name, entry in sorted(evaluation.get("models", {}).items()):
    if entry.get("details", {}).get("track_triplets_skipped"):  # an embedding-only model: say what it lacks
        st.info(f"{escape_markdown(name)}: {escape_markdown(entry['details']['vectors'])}; "
                f"{escape_markdown(entry['details']['track_triplets_skipped'])}.")

ALL = "all"


def _show_section(section: dict) -> None:
    key, meta = section["key"], section["published"]
    st.subheader(CAPTIONS[key])
    ours, theirs = st.columns([3, 2]) if meta else (st.container(), None)
    with ours:
        st.markdown("**This workspace**")
        if section["figure"] is not None:
            st.plotly_chart(section["figure"], key=f"results-{key}", width="stretch")
        st.dataframe(section["frame"], hide_index=True, width="stretch")
    if theirs is not None:
        with theirs:
            st.markdown(f"**Published** — {meta['source']}")
            if section["published_figure"] is not None:
                st.plotly_chart(section["published_figure"], key=f"published-{key}", width="stretch")
            st.caption(f"{meta['label']}: measured on {meta['dataset']}, a different dataset; context, not a target.")


@st.fragment
def sections_ui(sections: list[dict]) -> None:
    """One metric table at a time (all of them on request): about twenty charts at once made the page slow.

    A fragment: choosing another table reruns this part of the page only; the choice is kept in the URL.
    """
    keys = [s["key"] for s in sections] + [ALL]
    wanted = url_value("section", keys[0])
    shown = st.radio("Metric", keys, index=keys.index(wanted) if wanted in keys else 0, horizontal=True,
                     format_func=lambda k: "All of them" if k == ALL else SECTION_NAMES.get(k, k),
                     key="results_section")
    set_url(section=shown)
    for section in sections:
        if shown in (ALL, section["key"]):
            _show_section(section)


if results["sections"]:
    sections_ui(results["sections"])

comparisons = results["comparisons"]
if not comparisons.empty:
    st.subheader("Paired comparisons: A - B with its 95% paired bootstrap interval")
    st.caption("**not distinguishable**: the interval contains 0, so this test split cannot tell the two apart.")
    st.plotly_chart(results["comparison_figure"], key="results-comparisons", width="stretch")
    numbers = comparisons.select_dtypes("float").columns
    st.dataframe(comparisons, hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(c, format="%.3f") for c in numbers})

for name, message in sorted(evaluation.get("errors", {}).items()):
    st.error(f"{name} could not be evaluated: {message}")

if results["others"]:
    with st.expander("Other published numbers"):
        for meta, frame in results["others"]:
            st.markdown(f"**{meta['source']}** — {meta['label']}: {meta['dataset']}")
            st.dataframe(frame, hide_index=True, width="stretch")
