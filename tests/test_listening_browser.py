"""A full rater session in headless Chromium against ``streamlit run app.py``.

What is measured: the rater page's player reports the audio elements' ``play``
and ``ended`` events (see ``core/listening/player/index.html``); the test calls
``play()`` on the three audio elements in the page and waits until the player
shows every clip as heard in full, then clicks an answer. Answers, plays and
the resume after a reload are checked in the database, and the researcher
report page must show the answer count.
"""

from __future__ import annotations

import pytest

from core.listening.access import create_raters, rater_link
from core.listening.db import answers_frame, open_db, trials_frame
from core.listening.design import StudyDesign, create_test
from core.listening.session import next_trial, session_info, start_session
from tests.browser_support import screenshot, streamlit_server, wait_for_app
from tests.listening_support import make_workspace

pytestmark = pytest.mark.browser
PASSWORD = "correct horse"


def _player(page, trial_id: int):
    """The player iframe of this trial (the previous trial's may linger for a moment, before it)."""
    selector = "iframe[title*='tagspace_triplet_player']"
    page.wait_for_function(
        f"[...document.querySelectorAll(\"{selector}\")].some(f => f.contentDocument &&"
        f" f.contentDocument.querySelector(\"body[data-trial='{trial_id}'] #answer-A\"))", timeout=30_000)
    frame = page.locator(selector).last.content_frame
    frame.locator(f"body[data-trial='{trial_id}'] #answer-A").wait_for(timeout=30_000)
    return frame


def _play_all(frame) -> None:
    frame.locator("body").evaluate(
        "() => document.querySelectorAll('audio').forEach(a => { a.currentTime = 0; a.play(); })")
    for clip in ("anchor", "A", "B"):
        frame.locator(f"#status-{clip}").filter(has_text="heard in full").wait_for(timeout=20_000)


def _answer_one(page, db, sid, trials, index: int, total: int) -> None:
    page.get_by_text(f"Trial {index} of {total}").wait_for(timeout=30_000)
    view = next_trial(db, sid)
    frame = _player(page, view.trial_id)
    assert frame.locator("#answer-A").is_disabled()  # must play both first
    _play_all(frame)
    row = trials.loc[view.trial_id]
    if row["kind"] == "catch":  # pick the anchor copy
        side = row["song1_side"] if row["expected"] == "song1" else ("B" if row["song1_side"] == "A" else "A")
    else:
        side = "A" if index % 2 else "B"
    frame.locator(f"#answer-{side}").click()
    page.get_by_text(f"Trial {index + 1} of {total}" if index < total else "All done").wait_for(timeout=30_000)


def test_full_rater_session_with_reload_and_report(chromium, tmp_path, monkeypatch):
    monkeypatch.delenv("TAGSPACE_LISTENING_DB", raising=False)
    ws = make_workspace(tmp_path / "ws")
    db = open_db(ws)
    test_id = create_test(db, ws, StudyDesign(name="browser", n_trials=4, dimensions=("genre",), n_catch=1,
                                              repeat_fraction=0.25, clip_seconds=1.0, seed=4))
    trials = trials_frame(db, test_id).set_index("trial_id")
    (rid, token), = create_raters(db, test_id, 1)
    with streamlit_server(ws.root, env={"TAGSPACE_RESEARCHER_PASSWORD": PASSWORD}) as url:
        page = chromium.new_page()
        try:
            # the rater's first visit to a freshly started server
            page.goto(rater_link(url, test_id, token))
            wait_for_app(page)
            page.get_by_role("button", name="I agree, start").click()
            sid = start_session(db, test_id, rid)  # the page created it; this returns the same one
            total = session_info(db, sid)["total"]
            assert total == 6 and set(trials["kind"]) == {"main", "catch", "repeat"}
            for i in range(1, 4):
                _answer_one(page, db, sid, trials, i, total)
            page.reload()  # resumes at trial 4, without the consent screen
            wait_for_app(page)
            for i in range(4, total + 1):
                _answer_one(page, db, sid, trials, i, total)

            rows = session_info(db, sid)
            assert rows["answered"] == total and rows["consent_at"] is not None
            answers = answers_frame(db, test_id)
            assert len(answers) == total and answers["trial_id"].is_unique
            assert (answers[["plays_anchor", "plays_a", "plays_b"]] >= 1).all().all()
            assert answers[["full_anchor", "full_a", "full_b"]].all().all()
            assert (answers["response_ms"] > 0).all()
            catch = answers[answers["kind"] == "catch"]
            assert len(catch) == 1 and (catch["choice"] == catch["expected"]).all()

            page.goto(f"{url}/listening")
            wait_for_app(page)
            page.get_by_label("Researcher password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.get_by_role("tab", name="Report").click()
            answers_metric = page.locator("[data-testid='stMetric']").filter(has_text="Answers")
            answers_metric.filter(has_text=str(total)).wait_for(timeout=30_000)
            screenshot(page, "listening-report")
        except Exception:
            screenshot(page, "listening-failure")
            raise
        finally:
            page.close()
    db.dispose()
