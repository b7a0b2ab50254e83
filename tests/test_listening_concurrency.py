"""Concurrent raters, and a writer killed mid-session, lose no acknowledged answer (SQLite and PostgreSQL)."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import func, select, text

from core.listening.access import create_raters
from core.listening.db import answers, open_db
from core.listening.design import StudyDesign, create_test
from core.listening.session import next_trial, record_answer, session_info, start_session

REPO = Path(__file__).resolve().parents[1]
N_RATERS, N_TRIALS = 20, 50


def test_twenty_raters_fifty_trials_no_loss_no_duplicate(listening_ws, listening_db):
    """20 raters answer 50 trials each; every answer is also submitted by a concurrent twin
    (a double click / second tab), through a second connection pool (a second server process)."""
    test_id = create_test(listening_db, listening_ws, StudyDesign(
        name="load", n_trials=N_TRIALS, n_catch=0, repeat_fraction=0, must_play_both=False, seed=1))
    ids = [rid for rid, _ in create_raters(listening_db, test_id, N_RATERS)]
    other = open_db(listening_ws)
    sessions = [start_session(listening_db, test_id, rid) for rid in ids]
    start = threading.Barrier(2 * N_RATERS)
    results: dict[tuple[str, int], list[tuple[int, bool]]] = {}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def rater(k: int, twin: bool) -> None:
        try:
            pool, sid = (other if twin else listening_db), sessions[k]
            order = session_info(pool, sid)["trial_order"]
            start.wait()
            for i, tid in enumerate(order):
                side = "A" if (k + i + twin) % 2 else "B"  # the twin's click says the opposite
                row, created = record_answer(pool, sid, tid, side, response_ms=100 + i)
                with lock:
                    results.setdefault((sid, tid), []).append((row["answer_id"], created))
        except BaseException as err:  # collected and re-raised in the main thread
            errors.append(err)

    threads = [threading.Thread(target=rater, args=(k, twin)) for k in range(N_RATERS) for twin in (False, True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    assert len(results) == N_RATERS * N_TRIALS
    for key, got in results.items():  # both submissions acknowledged the same, single stored answer
        assert len(got) == 2 and got[0][0] == got[1][0] and sorted(c for _, c in got) == [False, True], key
    with listening_db.read() as conn:
        rows = conn.execute(select(answers.c.session_id, answers.c.trial_id, answers.c.answer_id)).all()
    assert len(rows) == N_RATERS * N_TRIALS
    assert len({(r.session_id, r.trial_id) for r in rows}) == len(rows)  # no duplicate
    assert {(r.session_id, r.trial_id): r.answer_id for r in rows} == {k: v[0][0] for k, v in results.items()}
    other.dispose()


WRITER = r"""
import sys, time
from core.workspace import Workspace
from core.listening.db import open_db
from core.listening.session import next_trial, record_answer, start_session
db = open_db(Workspace.open(sys.argv[1]))
sid = start_session(db, sys.argv[2], sys.argv[3])
print("SESSION", sid, flush=True)
while (view := next_trial(db, sid)) is not None:
    row, created = record_answer(db, sid, view.trial_id, "A", 10, {"A": [{"heard_full": True, "listened_s": 1}],
                                                                    "B": [{"heard_full": True, "listened_s": 1}]})
    print("ACK", view.trial_id, row["answer_id"], flush=True)
    time.sleep(0.01)
print("DONE", flush=True)
"""


def test_acknowledged_answers_survive_sigkill(listening_ws, listening_db):
    test_id = create_test(listening_db, listening_ws, StudyDesign(name="kill", n_trials=200, n_catch=0,
                                                                 repeat_fraction=0, seed=2))
    (rid, _), = create_raters(listening_db, test_id, 1)
    listening_db.dispose()
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(listening_ws.root), test_id, rid], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    acked = {}
    session_id = proc.stdout.readline().split()[1]
    for line in proc.stdout:
        kind, trial_id, answer_id = line.split()
        acked[int(trial_id)] = int(answer_id)
        if len(acked) == 40:
            proc.send_signal(signal.SIGKILL)  # mid-session, mid-write for all we know
            break
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    db = open_db(listening_ws)  # "restart": a fresh process-level pool on the same database
    with db.read() as conn:
        if db.dialect == "sqlite":
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        stored = dict(conn.execute(select(answers.c.trial_id, answers.c.answer_id)
                                   .where(answers.c.session_id == session_id)).all())
        total = conn.execute(select(func.count()).select_from(answers)).scalar_one()
    assert {t: stored.get(t) for t in acked} == acked
    assert 40 <= total < 200
    view = next_trial(db, session_id)  # and the session resumes after the last stored answer
    assert view is not None and view.trial_id not in stored and view.index == len(stored) + 1
    db.dispose()
