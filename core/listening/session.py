"""The rater's flow: session, consent, headphone check, one trial at a time, answers.

A rater has one session per test: opening the link again (a reload, a dropped
connection) returns the same session and the first trial it has not answered.
Every play and every answer is committed before the function recording it
returns. Clips are named by what the rater sees: ``anchor``, ``A`` and ``B``;
``song1_side`` says which side shows the trial's song1.

How plays are measured: the rater page's player counts, for each clip, every
``play`` event of the browser's audio element and whether that play reached
the clip's end having listened (time advancing at normal pace, not seeking) to
at least 90% of the clip ("heard in full"). It reports all plays so far when a
play ends (:func:`record_plays` stores them, so they count after a reload) and
with the answer (:func:`record_answer` stores them first).
What the player sends is checked by :mod:`core.listening.rater_input` first
(at most :data:`~core.listening.rater_input.MAX_PLAYS_PER_CLIP` plays per clip
are stored, so one call writes a bounded number of rows).

Writes lock the session's row first (``SELECT ... FOR UPDATE`` on PostgreSQL;
SQLite's ``BEGIN IMMEDIATE`` already serialises writers), so two tabs of one
rater take turns instead of racing on the same plays and answer.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import secrets
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from .. import __version__
from ..errors import ParameterError
from .db import ListeningDB, answers, dumps, get_test, now_iso, plays, sessions, tests, trials
from .rater_input import CLIPS, MAX_PLAYS_PER_CLIP, check_plays, check_side, clamp_response_ms
#: Woods et al. (2017) headphone screening: six trials, pass with at least five right.
HEADPHONE_TRIALS = 6
HEADPHONE_PASS = 5


@dataclass(frozen=True)
class TrialView:
    """What the rater page shows for one trial.

    ``clips`` maps ``anchor``/``A``/``B`` to ``(track_id, start_s)``;
    ``plays`` holds the plays already recorded per clip (after a reload).
    """

    trial_id: int
    index: int
    total: int
    question: str
    clip_seconds: float
    must_play_both: bool
    clips: dict
    plays: dict


def _trial_order(conn, test: dict, session_id: str) -> list[int]:
    """The trial ids of a new session: least-rated main trials, all catches, their repeats."""
    rows = conn.execute(select(trials.c.trial_id, trials.c.kind, trials.c.repeat_of)
                        .where(trials.c.test_id == test["test_id"]).order_by(trials.c.position)).all()
    usage = {r.trial_id: 0 for r in rows if r.kind == "main"}
    for (order,) in conn.execute(select(sessions.c.trial_order).where(sessions.c.test_id == test["test_id"])):
        for tid in json.loads(order):
            if tid in usage:
                usage[tid] += 1
    seed = int(hashlib.sha256(session_id.encode()).hexdigest()[:12], 16)
    rng = np.random.default_rng([int(test["seed"]), seed])
    keys, tiebreak = list(usage), rng.permutation(len(usage))
    ranked = sorted(range(len(keys)), key=lambda i: (usage[keys[i]], tiebreak[i]))
    chosen = [keys[i] for i in ranked[: test["trials_per_rater"]]]
    chosen_set = set(chosen)
    ids = chosen + [r.trial_id for r in rows if r.kind == "catch"]
    ids += [r.trial_id for r in rows if r.kind == "repeat" and r.repeat_of in chosen_set]
    order = [ids[i] for i in rng.permutation(len(ids))]
    for r in rows:  # a repeat always comes after the trial it repeats
        if r.kind == "repeat" and r.trial_id in order:
            i, j = order.index(r.trial_id), order.index(r.repeat_of)
            if i < j:
                order[i], order[j] = order[j], order[i]
    return [int(t) for t in order]


def start_session(db: ListeningDB, test_id: str, rater_id: str, model_versions: dict | None = None) -> str:
    """The rater's session for a test, created (with its trial order) on first call.

    Parameters
    ----------
    model_versions : dict, optional
        ``{model: version}`` at session start (see
        :func:`core.listening.design.model_versions`); copied into every answer.

    Returns
    -------
    str
        The session id (the same one on every later call: resuming).
    """
    test = get_test(db, test_id)
    mine = (sessions.c.rater_id == rater_id) & (sessions.c.test_id == test_id)
    with db.read() as conn:  # every page run resumes here, without taking the write lock
        row = conn.execute(select(sessions.c.session_id).where(mine)).first()
    if row is not None:
        return row.session_id
    try:
        with db.write() as conn:
            # new sessions of one test take turns, so each sees the trial usage of the others
            conn.execute(select(tests.c.test_id).where(tests.c.test_id == test_id).with_for_update())
            row = conn.execute(select(sessions.c.session_id).where(mine)).first()
            if row is not None:
                return row.session_id
            session_id = "s-" + secrets.token_hex(8)
            conn.execute(insert(sessions).values(
                session_id=session_id, rater_id=rater_id, test_id=test_id, started_at=now_iso(),
                trial_order=dumps(_trial_order(conn, test, session_id)), app_version=__version__,
                model_versions=dumps(model_versions or {})))
            return session_id
    except IntegrityError:  # another server process created it at the same moment
        with db.read() as conn:
            return conn.execute(select(sessions.c.session_id).where(mine)).scalar_one()


def session_info(db: ListeningDB, session_id: str) -> dict:
    """The ``sessions`` row (``trial_order`` decoded) plus ``answered`` and ``total``."""
    with db.read() as conn:
        row = conn.execute(select(sessions).where(sessions.c.session_id == session_id)).mappings().first()
        if row is None:
            raise ParameterError(f"unknown session {session_id!r}")
        n = conn.execute(select(func.count()).select_from(answers)
                         .where(answers.c.session_id == session_id)).scalar_one()
    out = dict(row)
    out["trial_order"] = json.loads(out["trial_order"])
    out["answered"], out["total"] = int(n), len(out["trial_order"])
    return out


def give_consent(db: ListeningDB, session_id: str) -> None:
    """Record the rater's consent (the first time only)."""
    with db.write() as conn:
        conn.execute(update(sessions).where((sessions.c.session_id == session_id)
                                            & sessions.c.consent_at.is_(None)).values(consent_at=now_iso()))


# ---------------------------------------------------------- headphone check
def headphone_trials(seed: int, n: int = HEADPHONE_TRIALS) -> list[list[str]]:
    """Orders of the three tones per trial: ``in_phase``, ``antiphase``, ``quiet`` (the answer)."""
    rng = np.random.default_rng(seed)
    kinds = ["in_phase", "antiphase", "quiet"]
    return [[kinds[i] for i in rng.permutation(3)] for _ in range(n)]


def headphone_tone(kind: str, sr: int = 22050, seconds: float = 1.0) -> bytes:
    """One tone of the Woods et al. (2017) screening as stereo WAV bytes.

    200 Hz with 100 ms ramps; ``antiphase`` has the right channel inverted (it
    cancels on loudspeakers, so only headphone listeners hear it at full level),
    ``quiet`` is 6 dB softer. Raters pick the softest tone.
    """
    import soundfile as sf

    if kind not in ("in_phase", "antiphase", "quiet"):
        raise ParameterError(f"unknown headphone-check tone {kind!r}")
    t = np.arange(int(sr * seconds)) / sr
    ramp = np.minimum(1.0, np.minimum(t, seconds - t) / 0.1)
    tone = 0.3 * np.sin(2 * np.pi * 200 * t) * ramp
    if kind == "quiet":
        tone = tone * 10 ** (-6 / 20)
    right = -tone if kind == "antiphase" else tone
    buf = io.BytesIO()
    sf.write(buf, np.stack([tone, right], axis=1).astype(np.float32), sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()


def record_headphone_check(db: ListeningDB, session_id: str, orders: list[list[str]], picks: list[int]) -> bool:
    """Score the screening (a pick is the index of the tone judged softest); store and return pass/fail."""
    if len(picks) != len(orders):
        raise ParameterError(f"expected {len(orders)} headphone-check answers, got {len(picks)}")
    score = sum(order[p] == "quiet" for order, p in zip(orders, picks))
    passed = score >= HEADPHONE_PASS * len(orders) / HEADPHONE_TRIALS
    with db.write() as conn:
        conn.execute(update(sessions).where(sessions.c.session_id == session_id)
                     .values(headphone_score=int(score), headphone_passed=bool(passed)))
    return bool(passed)


# ------------------------------------------------------------------ trials
def question_text(question: str) -> str:
    """What the rater is asked, for a test's ``question``."""
    if question == "overall":
        return "Which clip, A or B, sounds more similar to the reference?"
    return f"Considering **{question}** only: which clip, A or B, is more similar to the reference?"


def clip_data_url(ws, track_id: str, start: float, length: float) -> str:
    """A trial clip as a ``data:audio/wav;base64,...`` URL (cut on the server, sample-accurate)."""
    from ..audio import excerpt_bytes, audio_duration

    path = ws.audio_path(track_id)
    end = min(start + length, audio_duration(path))
    return "data:audio/wav;base64," + base64.b64encode(excerpt_bytes(path, start, end)).decode("ascii")


def _plays_by_clip(conn, session_id: str, trial_id: int) -> dict:
    rows = conn.execute(select(plays.c.clip, plays.c.play_index, plays.c.heard_full, plays.c.listened_s)
                        .where((plays.c.session_id == session_id) & (plays.c.trial_id == trial_id))
                        .order_by(plays.c.clip, plays.c.play_index)).all()
    out = {c: [] for c in CLIPS}
    for r in rows:
        out[r.clip].append({"heard_full": bool(r.heard_full), "listened_s": float(r.listened_s)})
    return out


def next_trial(db: ListeningDB, session_id: str) -> TrialView | None:
    """The session's first unanswered trial, or None when all are answered."""
    info = session_info(db, session_id)
    with db.read() as conn:
        done = set(conn.execute(select(answers.c.trial_id).where(answers.c.session_id == session_id)).scalars())
        pending = [t for t in info["trial_order"] if t not in done]
        if not pending:
            return None
        tr = conn.execute(select(trials).where(trials.c.trial_id == pending[0])).mappings().one()
        test = conn.execute(select(tests.c.question, tests.c.must_play_both)
                            .where(tests.c.test_id == info["test_id"])).one()
        recorded = _plays_by_clip(conn, session_id, tr["trial_id"])
    song1, song2 = (tr["song1_id"], tr["song1_start"]), (tr["song2_id"], tr["song2_start"])
    a, b = (song1, song2) if tr["song1_side"] == "A" else (song2, song1)
    return TrialView(trial_id=int(tr["trial_id"]), index=len(done) + 1, total=info["total"],
                     question=test.question, clip_seconds=float(tr["clip_seconds"]),
                     must_play_both=bool(test.must_play_both),
                     clips={"anchor": (tr["anchor_id"], float(tr["anchor_start"])), "A": a, "B": b},
                     plays=recorded)


def _store_plays(conn, session_id: str, trial_id: int, reported: dict) -> None:
    stored = _plays_by_clip(conn, session_id, trial_id)
    for clip, items in reported.items():
        for index, p in enumerate(items[:MAX_PLAYS_PER_CLIP]):
            if index < len(stored[clip]):
                old = stored[clip][index]
                full, listened = old["heard_full"] or p["heard_full"], max(old["listened_s"], p["listened_s"])
                if (full, listened) != (old["heard_full"], old["listened_s"]):
                    conn.execute(update(plays).where(
                        (plays.c.session_id == session_id) & (plays.c.trial_id == trial_id)
                        & (plays.c.clip == clip) & (plays.c.play_index == index))
                        .values(heard_full=full, listened_s=listened))
            else:
                conn.execute(insert(plays).values(session_id=session_id, trial_id=trial_id, clip=clip,
                                                  play_index=index, heard_full=p["heard_full"],
                                                  listened_s=p["listened_s"], recorded_at=now_iso()))


def _session_trial(conn, session_id: str, trial_id: int):
    """The session row, locked for this transaction; raises unless ``trial_id`` is one of its trials."""
    sess = conn.execute(select(sessions.c.trial_order, sessions.c.model_versions, sessions.c.test_id)
                        .where(sessions.c.session_id == session_id).with_for_update()).first()
    if sess is None:
        raise ParameterError(f"unknown session {session_id!r}")
    if trial_id not in json.loads(sess.trial_order):
        raise ParameterError(f"trial {trial_id} is not part of session {session_id}")
    return sess


def record_plays(db: ListeningDB, session_id: str, trial_id: int, reported: dict) -> dict:
    """Store the plays a player reports (idempotent; a play's index is its identity).

    Parameters
    ----------
    reported : dict
        ``{clip: [{"heard_full": bool, "listened_s": float}, ...]}``, all plays
        of each clip so far in order (checked by
        :func:`~core.listening.rater_input.check_plays`). Plays already stored
        are kept; their ``heard_full``/``listened_s`` only grow.

    Returns
    -------
    dict
        The stored plays per clip after the update.

    Raises
    ------
    MalformedReport
        If ``reported`` is not well-formed.
    DatabaseUnavailable
        If the database did not answer (nothing stored).
    """
    reported = check_plays(reported)
    for attempt in range(2):
        try:
            with db.write() as conn:
                _session_trial(conn, session_id, trial_id)
                _store_plays(conn, session_id, trial_id, reported)
                return _plays_by_clip(conn, session_id, trial_id)
        except IntegrityError:  # a concurrent report of the same play (another tab) was stored first
            if attempt:
                raise


def _existing_answer(conn, session_id: str, trial_id: int):
    return conn.execute(select(answers).where((answers.c.session_id == session_id)
                                              & (answers.c.trial_id == trial_id))).mappings().first()


def record_answer(db: ListeningDB, session_id: str, trial_id: int, side: str, response_ms: int | None = None,
                  reported_plays: dict | None = None) -> tuple[dict, bool]:
    """Store an answer, committed before returning; a second submission returns the first.

    Parameters
    ----------
    side : {'A', 'B'}
        The side the rater picked as more similar to the anchor.
    response_ms : int, optional
        Time from the trial being shown to the answer, measured by the player
        (clamped to ``[0, MAX_RESPONSE_MS]``).
    reported_plays : dict, optional
        Plays to store first (as in :func:`record_plays`).

    Returns
    -------
    (dict, bool)
        The stored ``answers`` row, and True if this call created it (False for
        a double submission, which changes nothing).

    Raises
    ------
    ParameterError
        Unknown side/session/trial, malformed plays
        (:class:`~core.listening.rater_input.MalformedReport`), or the test
        requires both candidates to be played and one was not.
    DatabaseUnavailable
        If the database did not answer: nothing was stored; submit again.
    """
    side = check_side(side)
    response_ms = clamp_response_ms(response_ms)
    reported = check_plays(reported_plays)
    for attempt in range(2):
        try:
            return _insert_answer(db, session_id, trial_id, side, response_ms, reported)
        except IntegrityError:  # a concurrent submission (another tab, another server process) won the race
            with db.read() as conn:
                existing = _existing_answer(conn, session_id, trial_id)
            if existing is not None:
                return dict(existing), False
            if attempt:  # the conflict was on a play row twice: give up rather than loop
                raise


def _insert_answer(db: ListeningDB, session_id: str, trial_id: int, side: str, response_ms: int | None,
                   reported: dict) -> tuple[dict, bool]:
    with db.read() as conn:  # a double click usually stops here, without taking the write lock
        existing = _existing_answer(conn, session_id, trial_id)
    if existing is not None:
        return dict(existing), False
    with db.write() as conn:
        sess = _session_trial(conn, session_id, trial_id)  # locks the session: its other writes wait
        existing = _existing_answer(conn, session_id, trial_id)
        if existing is not None:
            return dict(existing), False
        tr = conn.execute(select(trials.c.song1_side).where(trials.c.trial_id == trial_id)).one()
        must_play = conn.execute(select(tests.c.must_play_both)
                                 .where(tests.c.test_id == sess.test_id)).scalar_one()
        _store_plays(conn, session_id, trial_id, reported)
        stored = _plays_by_clip(conn, session_id, trial_id)
        if must_play and not (stored["A"] and stored["B"]):
            raise ParameterError("play both candidates (A and B) before answering")
        conn.execute(insert(answers).values(
            session_id=session_id, trial_id=trial_id, side_chosen=side, song1_side=tr.song1_side,
            choice="song1" if side == tr.song1_side else "song2",
            response_ms=response_ms,
            plays_anchor=len(stored["anchor"]), plays_a=len(stored["A"]), plays_b=len(stored["B"]),
            full_anchor=any(p["heard_full"] for p in stored["anchor"]),
            full_a=any(p["heard_full"] for p in stored["A"]),
            full_b=any(p["heard_full"] for p in stored["B"]),
            app_version=__version__, model_versions=sess.model_versions, answered_at=now_iso()))
        return dict(_existing_answer(conn, session_id, trial_id)), True
