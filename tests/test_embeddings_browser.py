"""End-to-end: every page on a workspace whose only models are imported vectors (embedding-only models).

No page shows a traceback; uploads, zero-shot words and word search are off with the reason on screen;
subspace sliders, tag search, Results and the listening report's model scoring work.
"""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.projection import compute_projection
from core.evaluation.run import evaluate_workspace
from core.importers.embeddings import import_embeddings
from core.listening.access import create_raters
from core.listening.db import open_db, trials_frame
from core.listening.design import StudyDesign, create_test
from core.listening.session import give_consent, record_answer, start_session
from tests.browser_support import browser_page, open_app_page, screenshot, streamlit_server
from tests.embedding_support import SUBSPACES, copy_without_models, tag_vectors, track_vectors

pytestmark = pytest.mark.browser

PASSWORD = "embedding-only-researcher"
PLAYED = {"anchor": [{"heard_full": True, "listened_s": 1.0}], "A": [{"heard_full": True, "listened_s": 1.0}],
          "B": [{"heard_full": True, "listened_s": 1.0}]}


@pytest.fixture(scope="module")
def embedding_app(tiny_workspace, tmp_path_factory):
    ws = copy_without_models(tiny_workspace, tmp_path_factory.mktemp("embonly") / "ws")
    folder = ws.root.parent
    ids, vectors = track_vectors(ws)
    tags, tvec = tag_vectors(ws)
    np.save(folder / "tracks.npy", vectors)
    (folder / "ids.txt").write_text("\n".join(ids))
    np.save(folder / "tags.npy", tvec)
    (folder / "tags.txt").write_text("\n".join(tags))
    import_embeddings(ws, "imported", folder / "tracks.npy", folder / "ids.txt", terms=folder / "tags.npy",
                      term_ids=folder / "tags.txt", subspaces=SUBSPACES)
    import_embeddings(ws, "plain", folder / "tracks.npy", folder / "ids.txt")
    for name in ("imported", "plain"):
        compute_projection(ws, "model", name)
    evaluate_workspace(ws, n_triplets=2000)
    db = open_db(ws)
    test_id = create_test(db, ws, StudyDesign(name="imported", n_trials=3, dimensions=("genre",), n_catch=0,
                                              repeat_fraction=0.0, clip_seconds=1.0, seed=1))
    for rid, _ in create_raters(db, test_id, 2):  # both raters pick side A everywhere: agreement 1
        sid = start_session(db, test_id, rid)
        give_consent(db, sid)
        for trial_id in trials_frame(db, test_id)["trial_id"]:
            record_answer(db, sid, int(trial_id), "A", 900, PLAYED)
    db.dispose()
    with streamlit_server(ws.root, env={"TAGSPACE_RESEARCHER_PASSWORD": PASSWORD}) as url:
        yield url


@pytest.fixture()
def page(chromium):
    with browser_page(chromium) as page:
        yield page


def _no_traceback(page, name):
    page.wait_for_timeout(1500)
    screenshot(page, f"embedding-only-{name}")
    assert page.locator("[data-testid='stException']").count() == 0


@pytest.mark.parametrize("path", ["home", "map", "words", "similar", "search", "results"])
def test_every_page_renders_without_traceback(page, embedding_app, path):
    open_app_page(page, embedding_app, path)
    assert page.locator("h1").count() >= 1
    _no_traceback(page, path)


def test_similar_has_subspace_sliders_and_says_why_uploads_are_off(page, embedding_app):
    open_app_page(page, embedding_app, "similar", "?model=imported")
    page.get_by_text("Uploads are off").wait_for(timeout=60_000)
    assert page.get_by_text("cannot embed an uploaded clip").count() >= 1
    assert page.get_by_text("Upload a clip").count() == 0
    for name in ("genre", "mood", "instrument", "tempo"):
        page.locator("[data-testid='stSlider']").filter(has_text=name).get_by_role("slider").wait_for(timeout=60_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for(timeout=60_000)  # results of the default query
    _no_traceback(page, "similar-sliders")


def test_search_by_tag_works_and_zero_shot_is_explained(page, embedding_app):
    open_app_page(page, embedding_app, "search", "?model=imported&q=reel")
    page.get_by_text("Zero-shot words are off").wait_for(timeout=60_000)
    page.get_by_text("read as").first.wait_for(timeout=60_000)  # the tag was found and tracks ranked
    assert page.get_by_text("Upload a clip").count() == 0
    _no_traceback(page, "search")


def test_map_without_term_vectors_disables_word_search_with_the_reason(page, embedding_app):
    open_app_page(page, embedding_app, "map", "?model=plain")
    page.get_by_text("Word search off").wait_for(timeout=60_000)
    assert page.get_by_text("imported without term vectors").count() >= 1
    assert page.get_by_label("Find a word", exact=True).is_disabled()
    page.locator(".nsewdrag").first.wait_for(timeout=60_000)  # the map itself is drawn
    _no_traceback(page, "map-plain")


def test_results_show_the_imported_models_and_what_they_lack(page, embedding_app):
    open_app_page(page, embedding_app, "results")
    page.get_by_text("track triplets compare excerpts").first.wait_for(timeout=60_000)
    assert page.get_by_text("track-level vectors (imported)").count() >= 1
    _no_traceback(page, "results")


def test_listening_report_scores_imported_models_and_says_track_level(page, embedding_app):
    open_app_page(page, embedding_app, "listening")
    page.get_by_label("Researcher password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("tab", name="Report").click()
    page.get_by_text("Model-vs-human accuracy of the workspace's models").click()
    page.get_by_text("one vector per track: it stands for every excerpt").wait_for(timeout=60_000)
    _no_traceback(page, "listening-report")
