"""Rater page: consent, optional headphone check, then one triplet trial at a time.

Reached by a rater link ``/?test=<test id>&rater=<token>``; the link grants
only that test. Everything is stored by ``core.listening.session`` the moment
it happens, so a reload or a dropped connection resumes at the next trial.
"""

import streamlit as st

from core.errors import TagspaceError
from core.listening.access import AccessDenied, authenticate_rater
from core.listening.db import open_db
from core.listening.design import model_versions
from core.listening.player import triplet_player
from core.listening.session import (clip_data_url, get_test, give_consent, headphone_tone, headphone_trials,
                                    next_trial, question_text, record_answer, record_headphone_check,
                                    record_plays, session_info, start_session)
from core.workspace import Workspace
from pages._common import show_error, workspace


@st.cache_resource(show_spinner=False)
def _db(root: str):
    return open_db(Workspace.open(root))


@st.cache_data(max_entries=512, show_spinner=False)
def _clip(_ws, root: str, track_id: str, start: float, length: float) -> str:
    return clip_data_url(_ws, track_id, start, length)


def _consent(db, session_id: str) -> None:
    st.subheader("Welcome, and thank you for taking part")
    st.markdown(
        "In each trial you hear a **reference** clip and two clips, **A** and **B**. "
        "Choose the one that sounds more similar to the reference. There are no right or wrong answers.\n\n"
        "- Please use headphones in a quiet place.\n"
        "- Your answers are stored under an anonymous id, with how often you played each clip and how long "
        "you took; nothing else about you is recorded.\n"
        "- You can stop at any time; opening your link again continues where you left off.")
    if st.button("I agree, start", type="primary"):
        give_consent(db, session_id)
        st.rerun()


def _headphone_check(db, session_id: str, seed: int) -> None:
    st.subheader("Headphone check")
    st.markdown("Each row has three tones. Pick the **softest** one.")
    orders = headphone_trials(seed)
    picks = []
    with st.form("headphones"):
        for i, order in enumerate(orders):
            cols = st.columns(4)
            for j, kind in enumerate(order):
                cols[j].audio(headphone_tone(kind), format="audio/wav")
            picks.append(cols[3].radio(f"Softest in row {i + 1}", (1, 2, 3), horizontal=True, key=f"hp{i}"))
        if st.form_submit_button("Continue"):
            record_headphone_check(db, session_id, orders, [p - 1 for p in picks])
            st.rerun()


def _trial(ws, db, session_id: str) -> None:
    view = next_trial(db, session_id)
    if view is None:
        st.success("All done. Thank you for your help!")
        return
    st.progress((view.index - 1) / view.total, text=f"Trial {view.index} of {view.total}")
    st.markdown(question_text(view.question))
    clips = {name: _clip(ws, str(ws.root), tid, start, view.clip_seconds) for name, (tid, start) in view.clips.items()}
    value = triplet_player(view.trial_id, clips, view.plays, view.must_play_both,
                           key=f"player-{session_id}-{view.trial_id}")
    if not value or value.get("trial_id") != view.trial_id:
        return
    seen_key = f"seen-{session_id}-{view.trial_id}"
    if st.session_state.get(seen_key) == value.get("seq"):
        return
    st.session_state[seen_key] = value.get("seq")
    if value.get("answer"):
        record_answer(db, session_id, view.trial_id, value["answer"], value.get("response_ms"), value.get("plays"))
        st.rerun()
    else:
        record_plays(db, session_id, view.trial_id, value.get("plays") or {})


def main() -> None:
    st.title("Listening test")
    ws = workspace()
    params = st.query_params
    try:
        db = _db(str(ws.root))
        test_id = params.get("test", "")
        rater_id = authenticate_rater(db, test_id, params.get("rater", ""))
        test = get_test(db, test_id)
        session_id = start_session(db, test_id, rater_id, model_versions(ws))
        info = session_info(db, session_id)
        if info["consent_at"] is None:
            _consent(db, session_id)
        elif test["headphone_check"] and info["headphone_passed"] is None:
            _headphone_check(db, session_id, int(test["seed"]))
        else:
            _trial(ws, db, session_id)
    except AccessDenied as err:
        show_error(err, "Please use the exact link you were given.")
    except TagspaceError as err:
        show_error(err)


main()
