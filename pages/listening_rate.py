"""Rater page: consent, optional headphone check, then one triplet trial at a time.

Reached by a rater link ``/?test=<test id>&rater=<token>``; the link grants
only that test. Everything is stored by ``core.listening.session`` the moment
it happens, so a reload or a dropped connection resumes at the next trial.
The player's value is checked by ``core.listening.rater_input`` first; an
answer the database did not take stays in the session with a Retry button.
"""

import streamlit as st

from core.errors import TagspaceError
from core.listening.access import AccessDenied, authenticate_rater
from core.listening.db import DatabaseUnavailable, get_test
from core.listening import player
from core.listening.design import model_versions
from core.listening.rater_input import MalformedReport, parse_player_report
from core.listening.session import (clip_data_url, give_consent, headphone_tone, headphone_trials, next_trial,
                                    question_text, record_answer, record_headphone_check, record_plays,
                                    session_info, start_session)
from pages._common import page_setup, show_error
from pages._listening import listening_db, mark_rater_session


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


def _save_answer(db, session_id: str, report) -> bool:
    """Store an answer; if the database does not answer, keep it in the session for a retry."""
    pending = f"pending-{session_id}"
    try:
        record_answer(db, session_id, report.trial_id, report.answer, report.response_ms, report.plays)
    except DatabaseUnavailable:
        st.session_state[pending] = report
        return False
    st.session_state.pop(pending, None)
    return True


def _retry_pending(db, session_id: str, trial_id: int) -> None:
    """Offer to send again an answer the database did not take."""
    report = st.session_state.get(f"pending-{session_id}")
    if report is None or report.trial_id != trial_id:
        return
    st.warning(f"Your answer ({report.answer}) is not saved yet: the server could not reach its database. "
               "Please retry.")
    if st.button("Retry saving my answer", type="primary") and _save_answer(db, session_id, report):
        st.rerun()


def _store_player_value(db, session_id: str, view, value) -> bool:
    """Check and store what the player last sent; True when it was an answer, now stored.

    Read before the trial is drawn, so that an answer shows the next trial in this same run.
    """
    if not value:
        return False
    try:
        report = parse_player_report(value, view.clip_seconds)
    except MalformedReport as err:
        show_error(err, "Please reload the page; your earlier answers are saved.")
        return False
    seen_key = f"seen-{session_id}"
    if report.trial_id != view.trial_id or st.session_state.get(seen_key) == (report.trial_id, report.seq):
        return False  # the answer of the previous trial, or a value already handled
    st.session_state[seen_key] = (report.trial_id, report.seq)
    if report.answer:
        return _save_answer(db, session_id, report)
    try:
        record_plays(db, session_id, view.trial_id, report.plays)
    except DatabaseUnavailable:
        pass  # the player sends every play again with the answer
    return False


def player_key(session_id: str) -> str:
    """One player per session: its iframe stays across trials (a new trial is new arguments)."""
    return f"player-{session_id}"


def _trial(ws, db, session_id: str) -> None:
    view = next_trial(db, session_id)
    if view is not None and _store_player_value(db, session_id, view, st.session_state.get(player_key(session_id))):
        view = next_trial(db, session_id)
    if view is None:
        st.success("All done. Thank you for your help!")
        return
    st.progress((view.index - 1) / view.total, text=f"Trial {view.index} of {view.total}")
    st.markdown(question_text(view.question))
    clips = {name: _clip(ws, str(ws.root), tid, start, view.clip_seconds) for name, (tid, start) in view.clips.items()}
    player.triplet_player(view.trial_id, clips, view.plays, view.must_play_both, key=player_key(session_id))
    _retry_pending(db, session_id, view.trial_id)


def main(ws) -> None:
    st.title("Listening test")
    params = st.query_params
    try:
        db = listening_db(ws)
        test_id = params.get("test", "")
        rater_id = authenticate_rater(db, test_id, params.get("rater", ""))
        mark_rater_session()
        test = get_test(db, test_id)
        known = f"session-{test_id}-{rater_id}"  # a rater's session id never changes: skip the lookup
        session_id = st.session_state.get(known) or start_session(db, test_id, rater_id, model_versions(ws))
        st.session_state[known] = session_id
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


main(page_setup(__file__))
