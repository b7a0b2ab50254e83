"""Results: the evaluation JSON as tables laid out like the seeds' tables."""

import streamlit as st

from core.evaluation.report import CAPTIONS, published_numbers, published_tables, results_tables
from core.summary import load_evaluation
from pages._common import workspace

st.title("Results")
ws = workspace()
evaluation = load_evaluation(ws)
if evaluation is None:
    st.warning(f"No evaluation yet. Run `python -m core evaluate --workspace {ws.root}`.")
    st.stop()
st.caption(f"Measured on the **{evaluation.get('split', 'test')}** split of this workspace "
           f"(created {evaluation.get('created', '?')}). Numbers come from `{ws.evaluation_path}`.")

tables = results_tables(evaluation)
published = published_numbers()
published_frames = published_tables()
for key, frame in tables.items():
    st.subheader(CAPTIONS[key])
    ours, theirs = st.columns([3, 2]) if key in published_frames else (st.container(), None)
    with ours:
        st.markdown("**This workspace**")
        st.dataframe(frame.style.format(precision=4, na_rep="–"), hide_index=True, width="stretch")
    if theirs is not None:
        with theirs:
            meta = published[key]
            st.markdown(f"**Published** — {meta['source']}")
            st.dataframe(published_frames[key], hide_index=True, width="stretch")
            st.caption(f"{meta['label']}: measured on {meta['dataset']}, a different dataset; context, not a target.")

for name, message in sorted(evaluation.get("errors", {}).items()):
    st.error(f"{name} could not be evaluated: {message}")

others = [k for k in published_frames if k not in tables]
if others:
    with st.expander("Other published numbers"):
        for key in others:
            meta = published[key]
            st.markdown(f"**{meta['source']}** — {meta['label']}: {meta['dataset']}")
            st.dataframe(published_frames[key], hide_index=True, width="stretch")
