"""End-to-end: ``streamlit run app.py`` on the tiny workspace, driven in headless Chromium.

Screenshots of every page land in ``test-artifacts/``.
"""

from __future__ import annotations

import json

import pytest

from tests.browser_support import browser_page, open_app_page, screenshot, wait_for_app

pytestmark = pytest.mark.browser

PAGES = ("home", "map", "words", "similar", "search", "compare", "results")


@pytest.fixture()
def page(chromium, app_url):
    with browser_page(chromium) as page:
        yield page


def _open(page, app_url, path, query=""):
    open_app_page(page, app_url, path, query)
    assert page.locator("[data-testid='stSidebarNav']").count() == 0  # not Streamlit's listing of pages/


RESULT_IDS = """() => Array.from(document.querySelectorAll("[data-testid='stDataFrame'] td"))
    .map(td => td.textContent).filter(text => /^demo-\\d+$/.test(text))"""


def _result_ids(page, before=None) -> list[str]:
    """Track ids in the result table's cells (its accessible copy); waits until they differ from ``before``."""
    if before is None:
        page.wait_for_function(f"() => ({RESULT_IDS})().length > 0", timeout=60_000)
    else:
        # a table being redrawn reads as empty for a moment: wait for a full, different list
        page.wait_for_function(f"(before) => {{ const ids = ({RESULT_IDS})(); "
                               f"return ids.length > 0 && JSON.stringify(ids) !== before; }}",
                               arg=json.dumps(before), timeout=30_000)
    return page.evaluate(RESULT_IDS)


def _model(ws, family, variant_prefix=""):
    for name in ws.model_names():
        config = json.loads((ws.models_dir / name / "config.json").read_text())
        if config["family"] == family and config["variant"].startswith(variant_prefix):
            return name
    raise AssertionError(f"the tiny demo has no {family} {variant_prefix} model")


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders(page, app_url, path):
    _open(page, app_url, path)
    assert page.locator("[data-testid='stException']").count() == 0
    assert page.locator("h1").count() >= 1
    page.wait_for_timeout(1500)  # let data grids and charts draw before the screenshot
    screenshot(page, f"page-{path}")


def test_map_box_selection_lists_tracks_with_players(page, app_url, tiny_workspace):
    _open(page, app_url, "map", "?color=instrument")
    drag = page.locator(".nsewdrag").first
    drag.wait_for(timeout=30_000)
    box = drag.bounding_box()
    page.mouse.move(box["x"] + 5, box["y"] + 5)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=12)
    page.mouse.move(box["x"] + box["width"] - 5, box["y"] + box["height"] - 5, steps=12)
    page.mouse.up()
    page.get_by_text("selected track(s)").wait_for(timeout=30_000)
    page.locator("audio").first.wait_for(timeout=30_000)
    n = int(page.get_by_text("selected track(s)").inner_text().split()[0])
    # players arrive one element at a time: wait for all of them (or fail after 30 s)
    page.wait_for_function("n => document.querySelectorAll('audio').length >= n", arg=min(n, 20), timeout=30_000)
    assert n >= 1 and page.locator("audio").count() >= min(n, 20)
    screenshot(page, "map-selection")


def test_audio_plays(page, app_url):
    _open(page, app_url, "home")
    page.get_by_text("Select rows").first.wait_for(timeout=60_000)  # the track table is there
    wait_for_app(page)
    audio = page.locator("audio").first
    for _ in range(3):  # tables above may still be settling their height: measure, tick, check
        tracks = page.locator("[data-testid='stDataFrame']").last
        tracks.scroll_into_view_if_needed()  # below the fold: a click needs it in the viewport
        page.wait_for_timeout(500)
        box = tracks.bounding_box()
        page.mouse.click(box["x"] + 16, box["y"] + 35 + 17)  # tick the first track: its player appears
        page.wait_for_timeout(1000)  # the rerun the tick starts
        wait_for_app(page)
        if page.locator("audio").count():
            break
        screenshot(page, "home-tick-missed")  # the run ended without a player: the click missed the box
    audio.wait_for(timeout=30_000)
    state = audio.evaluate("""async (a) => {
        a.muted = true;
        await a.play();
        await new Promise(r => setTimeout(r, 500));
        return {duration: a.duration, error: a.error && a.error.code, time: a.currentTime};
    }""")
    assert state["error"] is None
    assert state["duration"] > 1.0
    assert state["time"] > 0.0


def test_weight_slider_changes_ranking(page, app_url, tiny_workspace):
    lee = _model(tiny_workspace, "lee", "disentangled")
    track = tiny_workspace.catalog.track_ids[0]
    _open(page, app_url, "similar", f"?model={lee}&track={track}&w=genre:1,mood:0,instrument:0,tempo:0,track:0")

    before = _result_ids(page)
    slider = page.locator("[data-testid='stSlider']").filter(has_text="genre").get_by_role("slider")
    slider.focus()
    page.keyboard.press("Home")  # genre weight 1 -> 0
    wait_for_app(page)
    slider = page.locator("[data-testid='stSlider']").filter(has_text="tempo").get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")  # tempo weight 0 -> 1
    wait_for_app(page)
    page.wait_for_function("() => location.search.includes('tempo%3A1') || location.search.includes('tempo:1')",
                           timeout=30_000)
    after = _result_ids(page, before)
    assert len(before) >= 5 and before != after and track not in before
    screenshot(page, "similar-weights")


def test_word_comparison(page, app_url):
    _open(page, app_url, "words")
    box = page.get_by_label("Word or phrase")
    box.fill("metal")
    box.press("Enter")
    wait_for_app(page)
    page.get_by_text("looked up as").first.wait_for(timeout=30_000)
    assert page.get_by_text("Neighbour overlap").count() == 1
    screenshot(page, "words-metal")


def test_upload_a_clip_and_reweight(page, app_url, tiny_workspace, tmp_path):
    """Query by an uploaded clip in the browser; a slider move re-ranks (AppTest counts its decodes)."""
    import numpy as np
    import soundfile as sf

    clip = tmp_path / "my clip.wav"
    sf.write(clip, np.random.default_rng(3).normal(scale=0.1, size=(3 * 44100, 2)).astype(np.float32), 44100)
    lee = _model(tiny_workspace, "lee", "disentangled")
    _open(page, app_url, "similar", f"?model={lee}&w=genre:1,mood:0,instrument:0,tempo:0,track:0")
    page.get_by_text("Upload a clip").click()
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(clip))
    wait_for_app(page)
    before = _result_ids(page)
    slider = page.locator("[data-testid='stSlider']").filter(has_text="tempo").get_by_role("slider")
    slider.focus()
    page.keyboard.press("End")  # tempo weight 0 -> 1
    wait_for_app(page)
    slider = page.locator("[data-testid='stSlider']").filter(has_text="genre").get_by_role("slider")
    slider.focus()
    page.keyboard.press("Home")  # genre weight 1 -> 0
    wait_for_app(page)
    page.wait_for_function("() => location.search.includes('genre%3A0') || location.search.includes('genre:0')",
                           timeout=30_000)
    after = _result_ids(page, before)
    assert len(before) >= 5 and before != after
    assert page.locator("[data-testid='stException']").count() == 0 and not page.errors
    screenshot(page, "similar-upload")


def test_an_uploaded_clip_outlives_a_switch_of_tabs(page, app_url, tiny_workspace, tmp_path):
    """Search's tabs are lazy (a closed tab's widgets are gone): the clip and the source choice are kept."""
    import numpy as np
    import soundfile as sf

    clip = tmp_path / "kept clip.wav"
    sf.write(clip, np.random.default_rng(5).normal(scale=0.1, size=3 * 22050).astype(np.float32), 22050)
    _open(page, app_url, "search", f"?model={_model(tiny_workspace, 'mwe')}")
    page.get_by_role("tab", name="Auto-tagging").click()
    wait_for_app(page)
    page.get_by_text("Upload a clip").click()
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(clip))
    wait_for_app(page)
    tags = page.locator("[data-testid='stDataFrame']")
    tags.wait_for(timeout=60_000)
    page.get_by_role("tab", name="Text → tracks").click()
    wait_for_app(page)
    assert tags.count() == 0  # the auto-tagging tab is closed: its table is gone
    page.get_by_role("tab", name="Auto-tagging").click()
    wait_for_app(page)
    page.get_by_text("uploaded before").wait_for(timeout=30_000)
    assert page.get_by_text("kept clip.wav").count() >= 1
    tags.wait_for(timeout=60_000)  # the kept clip is tagged again, with no new upload
    page.get_by_role("button", name="Forget this clip").click()
    wait_for_app(page)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stDataFrame']\")", timeout=30_000)
    assert page.get_by_text("uploaded before").count() == 0
    assert page.locator("[data-testid='stException']").count() == 0 and not page.errors


def test_results_draw_error_bars(page, app_url):
    _open(page, app_url, "results", "?section=all")
    page.locator(".js-plotly-plot").first.wait_for(timeout=120_000)  # about twenty charts: slow on a busy machine
    page.locator("path.xerror").first.wait_for(state="attached", timeout=120_000)
    # this workspace's bars carry error bars (the 95% intervals); the published bars (another dataset) carry none
    bars_with_errors = page.locator(".js-plotly-plot").filter(has=page.locator(".barlayer")).filter(
        has=page.locator("path.xerror"))
    theirs = page.locator(".js-plotly-plot").filter(has_text="another dataset")
    assert bars_with_errors.count() >= 3 and theirs.count() >= 1
    assert theirs.locator("path.xerror").count() == 0 and theirs.locator("path.yerror").count() == 0
    # the paired comparisons: a forest plot with error bars, and the verdicts in a table
    forest = page.locator(".js-plotly-plot").filter(has_text="A - B")
    assert forest.locator("path.xerror").count() >= 1
    page.get_by_text("not distinguishable").first.wait_for(state="attached", timeout=30_000)
    assert page.locator("[data-testid='stException']").count() == 0
    screenshot(page, "results-error-bars")
