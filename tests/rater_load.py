"""Drive many rater sessions at once through a running app: one headless Chromium, one browser context per rater.

Used by ``tests/test_listening_load.py`` (20 raters) and ``bench/bench_raters.py``
(more). Each rater opens its link, consents, and for every trial plays A and B
(muted; the test requires both to be played, not heard in full), clicks an
answer, and waits for the next trial (or "All done"). The time from the answer
click to the next trial's player being ready is recorded per trial.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

from tests.browser_support import ARTIFACTS, CHROMIUM_ARGS, chromium_path

PLAYER = "iframe[title*='tagspace_triplet_player']"

# The player of a trial not answered yet, ready to answer: returns its trial id (or "done").
_NEXT_TRIAL_JS = """(answered) => {
  const frames = document.querySelectorAll("%s");
  for (const f of frames) {
    const doc = f.contentDocument;
    const body = doc && doc.body;
    if (body && body.dataset.trial && !answered.includes(body.dataset.trial) && doc.querySelector("#answer-A"))
      return body.dataset.trial;
  }
  const main = frames.length ? null : document.querySelector("[data-testid='stMain']");
  return main && main.textContent.includes("All done") ? "done" : null;  // textContent: no layout
}""" % PLAYER

_PLAYER_DOC_JS = """(trial) => [...document.querySelectorAll("%s")].map(f => f.contentDocument)
  .find(d => d && d.body && d.body.dataset.trial === trial)""" % PLAYER

_PLAY_AB_JS = """(trial) => { const doc = (%s)(trial);
  for (const clip of ["A", "B"]) { const a = doc.querySelector("#audio-" + clip); a.muted = true; a.play(); } }""" % _PLAYER_DOC_JS

_READY_JS = """(trial) => { const doc = (%s)(trial);
  return !!doc && !doc.querySelector("#answer-A").disabled; }""" % _PLAYER_DOC_JS

_CLICK_JS = """([trial, side]) => (%s)(trial).querySelector("#answer-" + side).click()""" % _PLAYER_DOC_JS


@dataclass
class RaterRun:
    """What one rater did: the trials it answered (in order) and each answer's latency (s)."""

    link: str
    trials: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    error: str | None = None


async def _rate(browser, link: str, seed: int, timeout_ms: int, start_after_s: float) -> RaterRun:
    run = RaterRun(link)
    await asyncio.sleep(start_after_s)
    context = await browser.new_context(viewport={"width": 800, "height": 700}, reduced_motion="reduce")
    page = await context.new_page()
    try:
        await page.goto(link, timeout=timeout_ms, wait_until="commit")
        await page.get_by_role("button", name="I agree, start").click(timeout=timeout_ms)
        clicked_at = None
        while True:
            handle = await page.wait_for_function(_NEXT_TRIAL_JS, arg=run.trials, timeout=timeout_ms, polling=100)
            trial = await handle.json_value()
            if clicked_at is not None:
                run.latencies.append(time.perf_counter() - clicked_at)
            if trial == "done":
                break
            await page.evaluate(_PLAY_AB_JS, trial)
            await page.wait_for_function(_READY_JS, arg=trial, timeout=timeout_ms, polling=100)
            side = "AB"[(seed + len(run.trials)) % 2]
            clicked_at = time.perf_counter()
            await page.evaluate(_CLICK_JS, [trial, side])
            run.trials.append(trial)
    except Exception as err:  # reported per rater; the caller asserts none happened
        run.error = f"{type(err).__name__}: {str(err).splitlines()[0][:300]} (after {len(run.trials)} answers)"
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(ARTIFACTS / f"rater-load-{seed}.png"), full_page=True)
    finally:
        await context.close()
    return run


async def _run_all(links: list[str], timeout_ms: int, ramp_s: float) -> list[RaterRun]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            return list(await asyncio.gather(*(_rate(browser, link, i, timeout_ms, ramp_s * i / len(links))
                                               for i, link in enumerate(links))))
        finally:
            await browser.close()


def run_raters(links: list[str], timeout_ms: int = 180_000, ramp_s: float = 5.0) -> list[RaterRun]:
    """Run every rater link at once (in a thread of its own, so it never meets another event loop).

    Raters open their links spread over the first ``ramp_s`` seconds (as people do; opening
    twenty Streamlit pages in the same instant only measures page loads), then all rate at once.
    ``timeout_ms`` bounds each wait of one rater.
    """
    out: dict = {}

    def target():
        try:
            out["runs"] = asyncio.run(_run_all(links, timeout_ms, ramp_s))
        except BaseException as err:  # re-raised in the caller's thread
            out["error"] = err

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["runs"]
