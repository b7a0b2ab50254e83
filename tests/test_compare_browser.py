"""End-to-end: the Compare page on the tiny demo in headless Chromium.

A box drawn on map A rings the same tracks on map B; one query lists both models'
results; a listening test is created from the disagreement triplets (after the
researcher signs in) and lands in the listening database with both models' margins.
"""

from __future__ import annotations

import json
import urllib.request

import pytest

from core.listening.db import list_tests, open_db, trials_frame
from tests.browser_support import browser_page, screenshot, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def compare_url(tiny_workspace):
    with streamlit_server(tiny_workspace.root, env={"TAGSPACE_RESEARCHER_PASSWORD": PASSWORD}) as url:
        urllib.request.urlopen(url, timeout=30).read()  # the first visit to a fresh server: the root
        yield url


@pytest.fixture()
def page(chromium, compare_url):
    with browser_page(chromium, 1500, 1100) as page:
        yield page
    assert not page.errors, page.errors


def _box(page, drag, fraction: float) -> None:
    """Drag a box from the top-left corner over ``fraction`` of the plot's width and its full height."""
    box = drag.bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * fraction / 2, box["y"] + box["height"] / 2, steps=10)
    page.mouse.move(box["x"] + box["width"] * fraction, box["y"] + box["height"] - 2, steps=10)
    page.mouse.up()


RINGED = """(index) => {
    const plot = document.querySelectorAll('.js-plotly-plot')[index];
    if (!plot || !plot.data) return null;
    const ring = plot.data.find(t => t.name === 'selected');
    return ring ? Array.from(ring.customdata).sort() : [];
}"""


def test_compare_links_maps_runs_a_query_and_creates_a_listening_test(page, compare_url, tiny_workspace):
    names = tiny_workspace.model_names()
    a, b = names[0], names[-1]
    page.goto(f"{compare_url}/compare?a={a}&b={b}&k=5&view=maps")
    wait_for_app(page)
    page.locator(".nsewdrag").first.wait_for(timeout=60_000)
    assert page.locator(".js-plotly-plot").count() == 2
    assert page.evaluate(RINGED, 1) == []  # nothing ringed before a selection
    total = int(page.get_by_text("tracks on both maps").inner_text().split()[0])

    _box(page, page.locator(".nsewdrag").first, 0.5)  # the left half of map A
    heading = page.get_by_text("selected on map A")
    heading.wait_for(timeout=60_000)
    n = int(heading.inner_text().split()[0])
    assert 1 <= n < total
    page.wait_for_function(f"() => ({RINGED})(1) && ({RINGED})(1).length === {n}", timeout=30_000)
    ringed_b, ringed_a = page.evaluate(RINGED, 1), page.evaluate(RINGED, 0)
    assert ringed_b == ringed_a and len(ringed_b) == n  # the same tracks ringed on map B as selected on A
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "compare-linked-maps")

    page.get_by_text("One query, two lists").click()
    wait_for_app(page)
    page.get_by_text("Overlap (Jaccard@5)").wait_for(timeout=60_000)
    assert page.get_by_text("Rank correlation (Spearman)").count() >= 1
    assert "view=query" in page.url
    players = page.locator("audio").count()  # the query's own player
    table = page.locator("[data-testid='stDataFrame']").first.bounding_box()
    page.mouse.click(table["x"] + 16, table["y"] + 35 + 17)  # tick the first result row of model A's list
    page.wait_for_function(f"() => document.querySelectorAll('audio').length > {players}", timeout=30_000)
    screenshot(page, "compare-query")

    page.get_by_text("Disagreements", exact=True).click()
    wait_for_app(page)
    page.get_by_text("Triplets with opposite judgements").wait_for(timeout=120_000)
    page.get_by_label("Researcher password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    wait_for_app(page)
    before = {t["test_id"] for t in list_tests(open_db(tiny_workspace))}
    button = page.get_by_role("button", name="Create a listening test from 10 triplet(s)")
    button.wait_for(timeout=60_000)
    button.click()
    page.get_by_text("Created listening test").wait_for(timeout=60_000)
    screenshot(page, "compare-listening-test")
    db = open_db(tiny_workspace)
    try:
        created = [t for t in list_tests(db) if t["test_id"] not in before]
        assert len(created) == 1 and created[0]["source"] == "disagreement"
        trials = trials_frame(db, created[0]["test_id"])
        main = trials[trials["kind"] == "main"]
        assert len(main) == 10 and (trials["kind"] == "catch").sum() == 2
        for origin in main["origin"].map(json.loads):
            assert origin["models"] == [a, b]
            assert origin["margin"][a] > 0 > origin["margin"][b]  # song1 is A's pick, song2 B's
    finally:
        db.dispose()
