"""What a rater's browser sends is untrusted: malformed player values, plays caps, clamped times, database errors."""

from __future__ import annotations

import math
import random
import sqlite3

import pytest
from sqlalchemy import func, select

import core.listening.db as listening_db_module
from core.listening.access import create_raters
from core.listening.db import DatabaseUnavailable, answers, open_db, plays
from core.listening.design import StudyDesign, create_test
from core.listening.rater_input import (MAX_PLAYS_PER_CLIP, MAX_RESPONSE_MS, MalformedReport, PlayerReport,
                                        parse_player_report)
from core.listening.session import next_trial, record_answer, record_plays, start_session

PLAY = {"heard_full": True, "listened_s": 1.0}
GOOD = {"trial_id": 7, "seq": 3, "answer": "A", "response_ms": 1500, "plays": {"A": [PLAY], "B": [PLAY]}}


def _with(**changes):
    value = dict(GOOD)
    value.update(changes)
    return value


def _plays(**clips):
    return _with(plays={**GOOD["plays"], **clips})


def test_a_well_formed_report_is_parsed_and_clamped():
    report = parse_player_report(GOOD, clip_seconds=2.0)
    assert report == PlayerReport(trial_id=7, seq=3, answer="A", response_ms=1500, plays=GOOD["plays"])
    assert parse_player_report(_with(answer=None, response_ms=None, plays=None)).plays == {}
    assert parse_player_report(_with(response_ms=-40)).response_ms == 0
    assert parse_player_report(_with(response_ms=1e12)).response_ms == MAX_RESPONSE_MS
    assert parse_player_report(_with(response_ms=12.6)).response_ms == 13
    clamped = parse_player_report(_plays(A=[{"heard_full": False, "listened_s": 1e9}],
                                         B=[{"heard_full": False, "listened_s": -3}]), clip_seconds=2.0)
    assert clamped.plays["A"][0]["listened_s"] == 3.0 and clamped.plays["B"][0]["listened_s"] == 0.0


MALFORMED = {
    "not an object": (None, "expected an object"),
    "a list": ([1, 2], "expected an object"),
    "a string": ("A", "expected an object"),
    "unknown key": (_with(admin=True), "unknown field"),
    "missing seq": ({"trial_id": 1}, "missing"),
    "trial id as text": (_with(trial_id="7"), "trial_id must be a whole number"),
    "trial id as bool": (_with(trial_id=True), "trial_id must be a whole number"),
    "trial id as float": (_with(trial_id=7.0), "trial_id must be a whole number"),
    "negative seq": (_with(seq=-1), "seq must be in"),
    "huge seq": (_with(seq=2**40), "seq must be in"),
    "answer C": (_with(answer="C"), "'A' or 'B'"),
    "answer number": (_with(answer=1), "'A' or 'B'"),
    "answer list": (_with(answer=["A"]), "'A' or 'B'"),
    "response as text": (_with(response_ms="fast"), "response_ms must be a number"),
    "response NaN": (_with(response_ms=math.nan), "response_ms must be finite"),
    "response infinite": (_with(response_ms=math.inf), "response_ms must be finite"),
    "plays a list": (_with(plays=[PLAY]), "plays must be an object"),
    "unknown clip": (_plays(C=[PLAY]), "unknown clip"),
    "clip not a list": (_plays(A=PLAY), r"plays\[A\] must be a list"),
    "too many plays": (_plays(A=[PLAY] * (MAX_PLAYS_PER_CLIP + 1)), "at most"),
    "a million plays": (_plays(B=[PLAY] * 1_000_000), "at most"),
    "play not an object": (_plays(A=[1.0]), "exactly the keys"),
    "play missing a key": (_plays(A=[{"heard_full": True}]), "exactly the keys"),
    "play extra key": (_plays(A=[{**PLAY, "x": 1}]), "exactly the keys"),
    "heard_full as text": (_plays(A=[{"heard_full": "yes", "listened_s": 1}]), "heard_full must be true or false"),
    "listened as text": (_plays(A=[{"heard_full": True, "listened_s": "1"}]), "listened_s must be a number"),
    "listened infinite": (_plays(A=[{"heard_full": True, "listened_s": math.inf}]), "listened_s must be finite"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_reports_are_refused_naming_the_field(case):
    value, message = MALFORMED[case]
    with pytest.raises(MalformedReport, match=message) as err:
        parse_player_report(value, clip_seconds=3.0)
    assert str(err.value).startswith(("the player sent a malformed report", "answer side"))


def _random_json(rng: random.Random, depth: int = 0):
    kinds = ["none", "bool", "int", "float", "str"] + (["list", "dict"] if depth < 3 else [])
    kind = rng.choice(kinds)
    if kind == "none":
        return None
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "int":
        return rng.choice([0, 1, -1, 7, 2**31, 2**63])
    if kind == "float":
        return rng.choice([0.5, -2.0, 1e300, math.nan, math.inf])
    if kind == "str":
        return rng.choice(["", "A", "B", "anchor", "heard_full", "x" * 50])
    if kind == "list":
        return [_random_json(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    keys = ["trial_id", "seq", "answer", "response_ms", "plays", "anchor", "A", "B", "heard_full", "listened_s", "z"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randint(0, 5))}


def test_random_values_give_a_report_or_a_clear_error_never_another_exception():
    rng = random.Random(0)
    outcomes = {"report": 0, "refused": 0}
    for _ in range(3000):
        value = _random_json(rng)
        if isinstance(value, dict) and rng.random() < 0.5:  # often close to a real report
            value = {**_with(), **value}
        try:
            parse_player_report(value, clip_seconds=3.0)
            outcomes["report"] += 1
        except MalformedReport:
            outcomes["refused"] += 1
    assert outcomes["report"] > 0 and outcomes["refused"] > 0


# ------------------------------------------------------- in the database
def _session(db, ws, **kw):
    params = dict(name="input", n_trials=4, dimensions=("genre",), n_catch=0, repeat_fraction=0, clip_seconds=2.0)
    params.update(kw)
    test_id = create_test(db, ws, StudyDesign(**params))
    (rid, _), = create_raters(db, test_id, 1)
    sid = start_session(db, test_id, rid)
    return sid, next_trial(db, sid)


def _count(db, table, session_id):
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table).where(table.c.session_id == session_id)
                            ).scalar_one()


def test_malformed_plays_are_refused_before_any_write(listening_ws, listening_db):
    sid, view = _session(listening_db, listening_ws)
    for bad in ({"A": [{"listened_s": "x"}]}, {"A": [{"heard_full": True, "listened_s": None}]}, {"Z": []},
                {"A": "many"}, {"A": [PLAY] * (MAX_PLAYS_PER_CLIP + 1)}):
        with pytest.raises(MalformedReport):
            record_plays(listening_db, sid, view.trial_id, bad)
        with pytest.raises(MalformedReport):
            record_answer(listening_db, sid, view.trial_id, "A", 10, bad)
    with pytest.raises(MalformedReport):
        record_answer(listening_db, sid, view.trial_id, ["A"], 10, {"A": [PLAY], "B": [PLAY]})
    assert _count(listening_db, plays, sid) == 0 and _count(listening_db, answers, sid) == 0


def test_plays_per_clip_are_capped_and_response_time_clamped(listening_ws, listening_db):
    sid, view = _session(listening_db, listening_ws)
    full = {clip: [PLAY] * MAX_PLAYS_PER_CLIP for clip in ("anchor", "A", "B")}
    stored = record_plays(listening_db, sid, view.trial_id, full)  # the most one call can write
    assert all(len(stored[c]) == MAX_PLAYS_PER_CLIP for c in full)
    assert _count(listening_db, plays, sid) == 3 * MAX_PLAYS_PER_CLIP
    record_plays(listening_db, sid, view.trial_id, full)  # the same report again adds nothing
    assert _count(listening_db, plays, sid) == 3 * MAX_PLAYS_PER_CLIP
    row, _ = record_answer(listening_db, sid, view.trial_id, "B", 10**15, full)
    assert row["response_ms"] == MAX_RESPONSE_MS and row["plays_a"] == MAX_PLAYS_PER_CLIP
    view = next_trial(listening_db, sid)
    row, _ = record_answer(listening_db, sid, view.trial_id, "A", -5, {"A": [PLAY], "B": [PLAY]})
    assert row["response_ms"] == 0


def _lock_sqlite(ws) -> sqlite3.Connection:
    """Another writer holding the SQLite write lock (as a stuck process would)."""
    conn = sqlite3.connect(ws.listening_dir / "listening.db", isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_locked_database_stores_nothing_and_says_retry(listening_ws, monkeypatch):
    monkeypatch.setattr(listening_db_module, "BUSY_TIMEOUT_MS", 200)
    db = open_db(listening_ws)
    sid, view = _session(db, listening_ws)
    lock = _lock_sqlite(listening_ws)
    with pytest.raises(DatabaseUnavailable, match="please retry"):
        record_answer(db, sid, view.trial_id, "A", 900, {"A": [PLAY], "B": [PLAY]})
    with pytest.raises(DatabaseUnavailable, match="please retry"):
        record_plays(db, sid, view.trial_id, {"A": [PLAY]})
    lock.rollback()
    lock.close()
    assert _count(db, answers, sid) == 0 and _count(db, plays, sid) == 0
    row, created = record_answer(db, sid, view.trial_id, "A", 900, {"A": [PLAY], "B": [PLAY]})  # the retry
    assert created and row["response_ms"] == 900
    db.dispose()


# ------------------------------------------------------------- the page
def _rater_app(ws, monkeypatch):
    """The rater page in AppTest; the browser's player is replaced by values the test puts in session state."""
    from streamlit.testing.v1 import AppTest

    import core.listening.player as player

    monkeypatch.setattr(player, "triplet_player", lambda *a, **k: None)
    monkeypatch.setenv("TAGSPACE_WORKSPACE", str(ws.root))
    return AppTest.from_file("../pages/listening_rate.py", default_timeout=60)


def _started(ws, db, monkeypatch):
    """A two-trial test, its rater past the consent screen: ``(AppTest, session id)``."""
    test_id = create_test(db, ws, StudyDesign(name="p", n_trials=2, dimensions=("genre",), n_catch=0,
                                              repeat_fraction=0))
    (rid, token), = create_raters(db, test_id, 1)
    at = _rater_app(ws, monkeypatch)
    at.query_params.update({"test": test_id, "rater": token})
    at.run()
    at.button[0].click().run()  # consent
    return at, start_session(db, test_id, rid)


def _send(at, session_id, value):
    """What the player's iframe does: set the component's value, which reruns the page."""
    at.session_state[f"player-{session_id}"] = value
    at.run()


def test_rater_page_shows_malformed_values_as_messages(listening_ws, monkeypatch):
    monkeypatch.delenv("TAGSPACE_LISTENING_DB", raising=False)
    db = open_db(listening_ws)
    at, sid = _started(listening_ws, db, monkeypatch)
    trial_id = next_trial(db, sid).trial_id
    for bad in ([1], {"trial_id": trial_id, "seq": "1"}, {"trial_id": trial_id, "seq": 1, "answer": "A",
                                                          "plays": {"A": [{"listened_s": "x"}]}}):
        _send(at, sid, bad)
        assert not at.exception
        assert "malformed report" in at.error[0].value
        assert [p.proto.text for p in at.get("progress")] == ["Trial 1 of 2"]  # the trial is still shown
    assert _count(db, answers, sid) == 0 and _count(db, plays, sid) == 0
    _send(at, sid, {"trial_id": trial_id, "seq": 9, "answer": "B", "response_ms": 700,
                    "plays": {"A": [PLAY], "B": [PLAY]}})
    assert not at.exception and not at.error and _count(db, answers, sid) == 1
    assert [p.proto.text for p in at.get("progress")] == ["Trial 2 of 2"]  # the next trial, in the same run
    db.dispose()


def test_rater_page_keeps_an_answer_the_database_refused_and_retries(listening_ws, monkeypatch):
    monkeypatch.delenv("TAGSPACE_LISTENING_DB", raising=False)
    monkeypatch.setattr(listening_db_module, "BUSY_TIMEOUT_MS", 200)
    db = open_db(listening_ws)
    at, sid = _started(listening_ws, db, monkeypatch)
    first = next_trial(db, sid).trial_id
    lock = _lock_sqlite(listening_ws)
    _send(at, sid, {"trial_id": first, "seq": 1, "answer": "A", "response_ms": 1200,
                    "plays": {"A": [PLAY], "B": [PLAY]}})
    assert not at.exception and "please retry" in at.warning[0].value.lower()
    assert _count(db, answers, sid) == 0
    at.run()  # any other rerun: the answer is still held in the session
    assert "please retry" in at.warning[0].value.lower()
    next(b for b in at.button if b.label == "Retry saving my answer").click().run()
    assert "please retry" in at.warning[0].value.lower() and _count(db, answers, sid) == 0  # still locked
    lock.rollback()
    lock.close()
    next(b for b in at.button if b.label == "Retry saving my answer").click().run()
    assert not at.exception and not at.warning
    with db.read() as conn:
        stored = conn.execute(select(answers.c.trial_id, answers.c.side_chosen, answers.c.response_ms)
                              .where(answers.c.session_id == sid)).all()
    assert [tuple(r) for r in stored] == [(first, "A", 1200)]
    assert [p.proto.text for p in at.get("progress")] == ["Trial 2 of 2"]  # and the next trial is shown
    db.dispose()
