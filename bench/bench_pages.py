"""Time to a rendered page, for every Tagspace page and for a bare two-page Streamlit app, in one run.

Usage::

    python bench/bench_pages.py [--workspace W] [--repeats 8] [--pages home results ...]
                                [--out bench/results/pages.txt]

The reference is a bare Streamlit app (``st.navigation`` pages with a title and a
line of text, and a bare sign-in page: a password form, then three tabs of a line
each) written into a temporary directory and served by a second ``streamlit run``
beside the app, with the same options and the same browser: what any Streamlit
page costs on this machine. For each page: *cold* is the first visit after
``streamlit run`` started (a fresh process: models, indexes and word vectors load
on this visit); *warm* is the median of later visits, each in a new tab of one
browser (a fresh Streamlit session, same process, caches hit; the browser's HTTP
cache is shared by its tabs, as in a visitor's browser; ``--no-browser-cache``
opens every visit in a new, empty browser context instead). Warm visits of the
page and of its reference alternate, so load on the machine hits both alike; the
ratio is the page's warm median over the reference's. The listening page is timed
signed in (the form, the password, the signed-in page): its reference is the bare
sign-in page, timed the same way. Time runs from navigation to the moment the
script has finished and the page shows content (the harness's 300 ms settle check
is not counted). Needs Debian's chromium and a built workspace (default: the demo
workspace).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import publish  # noqa: E402
from bench.stats import ratio_interval, verdict  # noqa: E402

from core.listening.researcher import PASSWORD_ENV  # noqa: E402
from core.paths import default_workspace  # noqa: E402
from tests.browser_support import CHROMIUM_ARGS, chromium_path, streamlit_server  # noqa: E402

PAGES = ("home", "map", "words", "similar", "search", "results", "listening")
PAGE_FILES = {p.stem for p in (ROOT / "pages").glob("*.py")}
PASSWORD = "bench-researcher-password"  # the listening page is timed signed in
SIGNED_IN = {"listening": "signin"}  # pages timed signed in, and their bare reference page

BARE_APP = '''import streamlit as st

def first():
    st.title("First page")
    st.write("A bare Streamlit page: the reference for the Tagspace pages.")

def second():
    st.title("Second page")
    st.write("Another bare page.")

def sign_in():
    st.title("Sign-in page")
    if not st.session_state.get("signed_in"):
        with st.form("login"):
            st.text_input("Researcher password", type="password")
            if st.form_submit_button("Sign in"):
                st.session_state["signed_in"] = True
                st.rerun()
        return
    for tab, name in zip(st.tabs(["Design", "Rater links", "Report"]), ("design", "links", "report")):
        tab.write(f"The {name} tab.")

st.set_page_config(page_title="bare", layout="wide")
st.navigation([st.Page(first, title="First", url_path="first", default=True),
               st.Page(second, title="Second", url_path="second"),
               st.Page(sign_in, title="Sign in", url_path="signin")]).run()
'''

RUNNING = ("() => { const s = document.querySelector(\"[data-testid='stStatusWidget']\");"
           " return !s || !s.innerText.includes('Running'); }")


def _finished(page, timeout_ms: int) -> None:
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stMain'] h1", timeout=timeout_ms)  # every page (and the bare one) has a title
    page.wait_for_function(RUNNING, timeout=timeout_ms)


def _sign_in(page, timeout_ms: int) -> None:
    """The listening page: the researcher's password, then the signed-in page (its tabs) finished."""
    page.get_by_label("Researcher password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("tab", name="Design").wait_for(timeout=timeout_ms)
    _finished(page, timeout_ms)


class Browser:
    """Where each visit opens: a new tab of one browser context, or (``fresh``) a new, empty context."""

    def __init__(self, browser, fresh: bool):
        self.browser, self.fresh = browser, fresh
        self.shared = None if fresh else browser.new_context(viewport={"width": 1400, "height": 1000})

    def new_tab(self):
        context = self.shared or self.browser.new_context(viewport={"width": 1400, "height": 1000})
        return context.new_page(), (context.close if self.fresh else lambda: None)


def visit(tabs: Browser, url: str, sign_in: bool = False, timeout_ms: int = 300_000) -> float:
    """Seconds from navigation to a finished, rendered page in a new tab.

    The moment counted is when the script is seen finished; the page is then watched for
    300 ms more, and a script that was still going (its status widget late) is waited for again.
    With ``sign_in`` it counts up to the signed-in page (sign-in form, password, second run).
    """
    page, close_context = tabs.new_tab()
    try:
        start = time.perf_counter()
        page.goto(url)
        _finished(page, timeout_ms)
        if sign_in:
            _sign_in(page, timeout_ms)
        elapsed = time.perf_counter() - start
        page.wait_for_timeout(300)
        if not page.evaluate(RUNNING):
            _finished(page, timeout_ms)
            elapsed = time.perf_counter() - start
        return elapsed
    finally:
        page.close()
        close_context()


def measure(tabs: Browser, workspace: Path, bare_url: str, repeats: int, pages=PAGES) -> tuple[list, dict]:
    """(page, cold, warm times) per page, and every warm visit of each bare reference page."""
    rows, bare = [], {"page": [], "signin": []}
    for name in pages:
        # a new app process per page, so each page's cold time includes its own loading
        try:
            with streamlit_server(workspace, env={PASSWORD_ENV: PASSWORD}) as url:
                if name not in PAGE_FILES:
                    # A fresh server shows "Page not found" for a sub-path no file in pages/ is named after
                    # until a session has run app.py (Streamlit issues 8860/9992): open the root first.
                    visit(tabs, url)
                target, signed = f"{url}/{name}", name in SIGNED_IN
                cold = visit(tabs, target, signed)
                warm = []
                for i in range(repeats):
                    if signed:
                        bare["signin"].append(visit(tabs, f"{bare_url}/{SIGNED_IN[name]}", sign_in=True))
                    else:
                        bare["page"].append(visit(tabs, f"{bare_url}/{('first', 'second')[i % 2]}"))
                    warm.append(visit(tabs, target, signed))
        except Exception as err:  # a page that does not finish is reported, and the other pages still run
            print(f"{name}: {type(err).__name__}: {str(err).splitlines()[0]}", file=sys.stderr)
            cold, warm = float("nan"), [float("nan")]
        rows.append((name, cold, warm))
    return rows, bare


def report(rows, bare: dict, workspace: str, repeats: int, fresh: bool) -> str:
    reference = {kind: statistics.median(times) for kind, times in bare.items() if times}
    where = ("each visit in a new, empty browser context (no browser cache)" if fresh
             else "each visit in a new tab of one browser (its HTTP cache shared)")
    lines = [f"Page render benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), workspace {workspace}; {where}",
             ""]
    for kind, label in (("page", "Bare Streamlit page"), ("signin", "Bare sign-in page, timed signed in")):
        if kind in reference:
            times = bare[kind]
            lines.append(f"{label} (same harness, same run): warm median {reference[kind]:.2f} s over {len(times)} "
                         f"visits (min {min(times):.2f}, max {max(times):.2f}).")
    lines += ["", "Ratio: the page's warm median over its reference's, with a 95% bootstrap interval (visits "
              "resampled); the target is met when the whole interval is at or under 1.2, not met when all of it "
              "is above, undecided otherwise.", "",
              f"| page | cold process (s) | warm (s, median of {repeats}) | reference | warm / reference "
              "| 95% interval | target <= 1.2x |", "|---|---:|---:|---|---:|---|---|"]
    for name, cold, warm in rows:
        kind = "signin" if name in SIGNED_IN else "page"
        w = statistics.median(warm)
        if math.isnan(w):
            lines.append(f"| {name} | did not finish | | | | | |")
            continue
        bounds = ratio_interval(warm, bare[kind])
        lines.append(f"| {name}{' (signed in)' if kind == 'signin' else ''} | {cold:.2f} | {w:.2f} | "
                     f"{'bare sign-in' if kind == 'signin' else 'bare page'} | {w / reference[kind]:.2f}x | "
                     f"[{bounds[0]:.2f}, {bounds[1]:.2f}] | {verdict(bounds, 1.2)} |")
    visits = {name: [round(t, 2) for t in warm] for name, _, warm in rows}
    visits.update({f"bare {kind}": [round(t, 2) for t in times] for kind, times in bare.items() if times})
    lines += ["", "Warm visits (s): " + json.dumps(visits)]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(default_workspace()))
    parser.add_argument("--repeats", type=int, default=8)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "pages.txt"))
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES), help="the pages to time")
    parser.add_argument("--no-browser-cache", action="store_true",
                        help="open every visit in a new, empty browser context (default: new tabs of one browser)")
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bare-app-") as tmp, sync_playwright() as p:
        script = Path(tmp) / "bare_app.py"
        script.write_text(BARE_APP)
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        tabs = Browser(browser, fresh=args.no_browser_cache)
        with streamlit_server(Path(args.workspace), script=script) as bare_url:
            visit(tabs, bare_url)  # its first visits (cold) are not counted
            visit(tabs, f"{bare_url}/signin", sign_in=True)
            rows, bare = measure(tabs, Path(args.workspace), bare_url, args.repeats, args.pages)
        browser.close()

    text = report(rows, bare, args.workspace, args.repeats, args.no_browser_cache)
    publish(text, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
