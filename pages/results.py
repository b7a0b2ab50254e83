"""Results: the evaluation as bar charts with 95% intervals, next to the papers' numbers; paired comparisons."""

import streamlit as st

from core.evaluation.published import published_numbers, published_tables
from core.evaluation.report import CAPTIONS, comparison_table, results_intervals, results_tables
from core.views.summary import load_evaluation
from core.views.results import comparison_figure, metric_bars, published_bars, table_with_intervals
from core.views.text import escape_markdown
from pages._common import workspace

st.title("Results")
ws = workspace()
evaluation = load_evaluation(ws)
if evaluation is None:
    st.warning(f"No evaluation yet. Run `python -m core evaluate --workspace {ws.root}`.")
    st.stop()
st.caption(f"Measured on the **{evaluation.get('split', 'test')}** split of this workspace "
           f"(created {evaluation.get('created', '?')}). Numbers come from `{ws.evaluation_path}`. "
           "Error bars are 95% bootstrap intervals (test tracks, or tags for per-tag metrics, resampled).")

for name, entry in sorted(evaluation.get("models", {}).items()):
    if entry.get("details", {}).get("track_triplets_skipped"):  # an embedding-only model: say what it lacks
        st.info(f"{escape_markdown(name)}: {escape_markdown(entry['details']['vectors'])}; "
                f"{escape_markdown(entry['details']['track_triplets_skipped'])}.")

tables = results_tables(evaluation)
intervals = results_intervals(evaluation)
published = published_numbers()
published_frames = published_tables()
for key, frame in tables.items():
    st.subheader(CAPTIONS[key])
    ours, theirs = st.columns([3, 2]) if key in published_frames else (st.container(), None)
    with ours:
        st.markdown("**This workspace**")
        figure = metric_bars(frame, intervals[key])
        if figure is not None:
            st.plotly_chart(figure, key=f"results-{key}", width="stretch")
        st.dataframe(table_with_intervals(frame, intervals[key]), hide_index=True, width="stretch")
    if theirs is not None:
        with theirs:
            meta = published[key]
            st.markdown(f"**Published** — {meta['source']}")
            figure = published_bars(published_frames[key], meta["id_columns"], meta["label"], meta["dataset"])
            if figure is not None:
                st.plotly_chart(figure, key=f"published-{key}", width="stretch")
            st.caption(f"{meta['label']}: measured on {meta['dataset']}, a different dataset; context, not a target.")

comparisons = comparison_table(evaluation)
if not comparisons.empty:
    st.subheader("Paired comparisons: A - B with its 95% paired bootstrap interval")
    st.caption("**not distinguishable**: the interval contains 0, so this test split cannot tell the two apart.")
    st.plotly_chart(comparison_figure(evaluation), key="results-comparisons", width="stretch")
    st.dataframe(comparisons.style.format(precision=3, na_rep="–"), hide_index=True, width="stretch")

for name, message in sorted(evaluation.get("errors", {}).items()):
    st.error(f"{name} could not be evaluated: {message}")

others = [k for k in published_frames if k not in tables]
if others:
    with st.expander("Other published numbers"):
        for key in others:
            meta = published[key]
            st.markdown(f"**{meta['source']}** — {meta['label']}: {meta['dataset']}")
            st.dataframe(published_frames[key], hide_index=True, width="stretch")
