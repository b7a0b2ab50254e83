"""20 raters at once through one ``streamlit run``: every answer stored once (none lost, none twice).

Each rater is a browser context in one headless Chromium (``tests/rater_load.py``)
answering 10 trials of 0.5-s clips; the test must play both candidates, so
every trial plays A and B before answering. The database is then checked
against what each browser clicked. ``bench/bench_raters.py`` runs more raters
and reports answer-to-next-trial latency.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.listening.access import create_raters, rater_link
from core.listening.db import answers, open_db, sessions
from core.listening.design import StudyDesign, create_test
from tests.browser_support import chromium_path, streamlit_server
from tests.listening_support import make_workspace

pytestmark = pytest.mark.browser
N_RATERS, TRIALS_PER_RATER = 20, 10


def test_twenty_simultaneous_raters_lose_and_duplicate_nothing(tmp_path, monkeypatch):
    if chromium_path() is None:
        pytest.skip("Debian chromium is not installed (make test installs it when run as root)")
    from tests.rater_load import run_raters

    monkeypatch.delenv("TAGSPACE_LISTENING_DB", raising=False)
    ws = make_workspace(tmp_path / "ws")
    db = open_db(ws)
    test_id = create_test(db, ws, StudyDesign(name="load", n_trials=2 * TRIALS_PER_RATER, dimensions=("genre",),
                                              trials_per_rater=TRIALS_PER_RATER, n_catch=0, repeat_fraction=0,
                                              clip_seconds=0.5, must_play_both=True, seed=5))
    raters = create_raters(db, test_id, N_RATERS)
    with streamlit_server(ws.root) as url:
        runs = run_raters([rater_link(url, test_id, token) for _, token in raters])
    assert [r.error for r in runs] == [None] * N_RATERS
    assert all(len(r.trials) == TRIALS_PER_RATER and len(set(r.trials)) == TRIALS_PER_RATER for r in runs)
    with db.read() as conn:
        rows = conn.execute(select(sessions.c.rater_id, answers.c.trial_id, answers.c.answer_id)
                            .join(sessions, sessions.c.session_id == answers.c.session_id)).all()
    stored: dict[str, list[int]] = {}
    for row in rows:
        stored.setdefault(row.rater_id, []).append(row.trial_id)
    assert len(rows) == N_RATERS * TRIALS_PER_RATER  # none lost ...
    assert len({(r.rater_id, r.trial_id) for r in rows}) == len(rows)  # ... none twice
    for (rater_id, _), run in zip(raters, runs):  # and exactly the trials each browser answered
        assert sorted(stored[rater_id]) == sorted(int(t) for t in run.trials)
    db.dispose()
