"""A pipeline run's live progress (Home) and "waiting for step X" on pages whose steps are not finished.

Reads ``build_status.json`` only (``core.pipeline.status``); the run itself is another process
(``make run`` starts ``build-demo --background``).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from core.pipeline.status import format_seconds, is_active, page_gate, progress_of, read_status
from core.views.text import escape_markdown

POLL_SECONDS = 2.0
_MARK = {"done": "✓", "skipped": "✓", "running": "▶", "failed": "✗", "pending": "○"}


def _steps_line(progress) -> str:
    parts = []
    for step in progress.steps:
        seconds = f" {format_seconds(step['seconds'])}" if step["state"] == "done" and step.get("seconds") else ""
        parts.append(f"{_MARK.get(step['state'], '○')} {step['name']}{seconds}")
    return "   ".join(parts)


def _show(progress) -> None:
    if progress.state == "running":
        st.progress(progress.fraction, text=escape_markdown(progress.headline()))
        if progress.detail:
            st.caption(escape_markdown(f"now: {progress.detail}"))
    elif progress.state in ("failed", "stopped"):
        st.error(escape_markdown(progress.headline()) + f"\n\nResume with `{progress.resume}`.")
    st.caption(escape_markdown(_steps_line(progress)))


def build_progress(root: Path) -> None:
    """Home: the run's live progress (step, count, time left) while one is under way, then nothing."""
    status = read_status(root)
    if status is None or status.get("state") == "done":
        return

    @st.fragment(run_every=POLL_SECONDS)
    def live() -> None:
        current = read_status(root)
        if current is None or current.get("state") == "done":
            st.rerun()  # the whole page again: everything is there now
        st.subheader("Building the workspace")
        _show(progress_of(current))
        st.caption("Pages light up as the steps they need finish; this page fills in as models arrive.")

    live()


def wait_for_build(root: Path, page: str) -> None:
    """Stop a page whose steps a run has not finished, showing what it waits for and the progress."""
    if page_gate(root, page) is None:
        return

    @st.fragment(run_every=POLL_SECONDS)
    def waiting() -> None:
        gate = page_gate(root, page)
        if gate is None:
            st.rerun()  # the step is done: show the page
        st.subheader("The workspace is being built")
        st.info(gate.message())
        _show(gate.progress)
        if page != "home":
            st.page_link("pages/home.py", label="Home shows the whole build")

    waiting()
    st.stop()


def run_active(root: Path) -> bool:
    """True while a run is under way on this workspace."""
    return is_active(read_status(root))
