"""Researcher page: design listening tests, hand out rater links, read the report, export.

Protected by the researcher sign-in (``pages/_listening.py``: the scrypt hash set with
``python -m core listening set-password``, a plain-text secret or environment variable,
or a one-time link printed in the terminal). All logic is in ``core.listening``.
"""

import json
import math
from pathlib import Path

import streamlit as st

from core.catalog import SIMILARITY_DIMENSIONS
from core.errors import TagspaceError
from core.fileio import write_atomic
from core.paths import confined_path
from core.listening.access import app_base_url, create_raters, rater_link
from core.listening.analysis import LEE_THRESHOLD, build_report
from core.listening.db import list_tests, plays_frame, trials_frame
from core.listening.design import OFFSETS, QUESTIONS, SOURCES, StudyDesign, create_test, model_versions
from core.listening.export import FORMATS, table_bytes
from core.listening.scoring import VECTOR_LEVELS, workspace_embedders
from pages._common import page_setup, show_error
from pages._listening import listening_db, researcher_sign_in

SOURCE_LABELS = {"random": "Random triplets per dimension", "retrieval": "From a model's retrieval results",
                 "disagreement": "Where two models disagree most", "dimsim": "Imported dim-sim CSV/JSON file"}


@st.cache_resource(show_spinner="Loading models…")
def _embedders(_ws, root: str, versions: str):
    """The workspace's models, kept with their excerpt-embedding caches (reloaded when a model changes)."""
    return workspace_embedders(_ws)


def _show_links(links: list[tuple[str, str]], test_id: str) -> None:
    base = app_base_url(st.context.url)
    st.dataframe([{"rater": rid, "link": rater_link(base, test_id, token)} for rid, token in links],
                 hide_index=True, width="stretch")
    st.caption("Copy the links now: only a hash of each token is stored.")


def _design_tab(ws, db) -> None:
    models = ws.model_names()
    source = st.selectbox("Trials from", SOURCES, format_func=SOURCE_LABELS.get)
    with st.form("design"):
        name = st.text_input("Test name", "listening test", max_chars=200)
        question = st.selectbox("Question", QUESTIONS, help="overall similarity, or along one dimension")
        c1, c2, c3 = st.columns(3)
        n_trials = c1.number_input("Main trials (dim-sim: 0 = all rows)", 0, 5000, 20)
        per_rater = c2.number_input("Trials per rater (0 = all)", 0, 5000, 0)
        n_catch = c3.number_input("Catch trials", 0, 50, 2)
        clip = c1.number_input("Clip length (s)", 0.5, 30.0, 3.0, 0.5)
        offset = c2.selectbox("Clip offsets", OFFSETS, index=1)
        repeats = c3.slider("Repeats (sides swapped)", 0.0, 0.5, 0.1, 0.05)
        dims = chosen = upload = None
        threshold = None
        if source == "random":
            dims = st.multiselect("Dimensions", SIMILARITY_DIMENSIONS, SIMILARITY_DIMENSIONS)
        elif source in ("retrieval", "disagreement"):
            chosen = st.multiselect("Model(s)", models, max_selections=1 if source == "retrieval" else 2)
        else:
            upload = st.file_uploader("dim-sim file", type=["csv", "json"])
            threshold = st.slider("Keep triplets with vote agreement >=", 0.5, 1.0, 0.5, 0.05)
        c1, c2, c3 = st.columns(3)
        must_play = c1.checkbox("Must play A and B before answering", True)
        headphones = c2.checkbox("Headphone check", False)
        seed = c3.number_input("Seed", 0, 2**31 - 1, 0)
        n_raters = st.number_input("Rater links to create", 1, 500, 5)
        if not st.form_submit_button("Create test", type="primary"):
            return
    path = None
    if upload is not None:
        (ws.listening_dir / "imports").mkdir(parents=True, exist_ok=True)
        path = write_atomic(confined_path(ws.listening_dir / "imports", Path(upload.name).name), upload.getvalue())
    design = StudyDesign(name=name, source=source, question=question, n_trials=int(n_trials),
                         dimensions=tuple(dims or SIMILARITY_DIMENSIONS), models=tuple(chosen or ()),
                         dimsim_path=str(path) if path else None, dimsim_threshold=threshold,
                         clip_seconds=float(clip), offset=offset, trials_per_rater=int(per_rater) or None,
                         n_catch=int(n_catch), repeat_fraction=float(repeats), must_play_both=must_play,
                         headphone_check=headphones, seed=int(seed))
    with st.spinner("Building trials…"):
        test_id = create_test(db, ws, design)
    st.success(f"Created test {test_id}.")
    _show_links(create_raters(db, test_id, int(n_raters)), test_id)


def _pick_test(db, key: str):
    tests = list_tests(db)
    if not tests:
        st.info("No listening test yet: create one in the Design tab.")
        return None
    labels = {t["test_id"]: f"{t['name']} ({t['test_id']}, {t['source']}, {t['question']})" for t in tests}
    return st.selectbox("Test", list(labels), format_func=labels.get, key=key)


def _raters_tab(db) -> None:
    test_id = _pick_test(db, "raters-test")
    if test_id is None:
        return
    n = st.number_input("New rater links", 1, 500, 1)
    if st.button("Create links"):
        _show_links(create_raters(db, test_id, int(n)), test_id)


def _fmt(value: float) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.3f}"


def _report_tab(ws, db) -> None:
    test_id = _pick_test(db, "report-test")
    if test_id is None:
        return
    threshold = st.slider("Agreement threshold for model scoring", 0.5, 1.0, LEE_THRESHOLD, 0.05)
    score = st.checkbox(f"Model-vs-human accuracy of the workspace's models ({len(ws.model_names())})", False,
                        help="embeds every clip excerpt with every model; slow for large tests")
    with st.spinner("Computing…"):
        embedders = _embedders(ws, str(ws.root), json.dumps(model_versions(ws), sort_keys=True)) if score else None
        report = build_report(db, test_id, threshold, embedders)
    s = report["summary"]
    cols = st.columns(6)
    cols[0].metric("Answers", s["answers"])
    cols[1].metric("Raters", s["raters"])
    cols[2].metric("Agreement with majority", _fmt(s["percent_agreement_with_majority"]))
    cols[3].metric("Fleiss' kappa", _fmt(s["fleiss_kappa"]), help="needs the same number of ratings per trial")
    cols[4].metric("Krippendorff's alpha", _fmt(s["krippendorff_alpha"]), help="nominal, missing ratings allowed")
    cols[5].metric(f"Trials >= {threshold}", s["trials_above_threshold"])
    if len(report["sides"]):
        st.subheader("Listeners siding with model A vs model B (95% Wilson intervals)")
        st.caption("On the trials built from the two models' disagreement (main trials only): over every answer, "
                   "and over trial majorities (ties left out). Tick the box below for model-vs-human accuracy.")
        st.dataframe(report["sides"], hide_index=True)
    if score:
        st.subheader("Model-vs-human accuracy (95% Wilson intervals)")
        st.caption(f"Human ceiling on the same trials: {_fmt(s['human_ceiling'])}")
        st.dataframe(report["models"], hide_index=True)
        if (report["models"]["vectors"] == VECTOR_LEVELS["track"]).any():
            st.caption("Embedding-only models (imported vectors) have one vector per track: it stands for every "
                       "excerpt the raters heard, so their accuracy is of whole tracks, not of those excerpts.")
    st.subheader("Raters")
    st.dataframe(report["raters"], hide_index=True)
    st.subheader("Trials")
    st.dataframe(report["trials"].drop(columns=["origin", "test_id"]), hide_index=True)
    st.subheader("Answers")
    st.dataframe(report["answers"], hide_index=True)
    st.subheader("Export")
    tables = {"trials": trials_frame(db, test_id), "answers": report["answers"], "plays": plays_frame(db, test_id)}
    cols = iter(st.columns(len(tables) * len(FORMATS)))
    mime = {"csv": "text/csv", "parquet": "application/octet-stream"}
    for name, frame in tables.items():
        for fmt in FORMATS:
            next(cols).download_button(f"{name}.{fmt}", table_bytes(frame, fmt), f"{test_id}_{name}.{fmt}", mime[fmt])


def main(ws) -> None:
    st.title("Listening tests")
    if not researcher_sign_in(ws):
        return
    try:
        db = listening_db(ws)
        # Not lazy tabs: switching would rerun the page and drop a half-filled design form and the
        # one-time rater links just shown (only their hashes are stored).
        design, links, report = st.tabs(["Design", "Rater links", "Report"])
        with design:
            _design_tab(ws, db)
        with links:
            _raters_tab(db)
        with report:
            _report_tab(ws, db)
    except TagspaceError as err:
        show_error(err)


main(page_setup(__file__))
