"""Time to a rendered page, for every Tagspace page and for a bare two-page Streamlit app, in one run.

Usage::

    python bench/bench_pages.py [--workspace W] [--repeats 5] [--pages home results ...]
                                [--out bench/results/pages.txt]

The reference is a bare Streamlit app (two ``st.navigation`` pages, a title and a
line of text each) written into a temporary directory and served by a second
``streamlit run`` beside the app, with the same options and the same browser: what
any Streamlit page costs on this machine. For each page: *cold* is the first
visit after ``streamlit run`` started (a fresh process: models, indexes and word
vectors load on this visit); *warm* is the median of later visits in new browser
tabs (fresh sessions, same process, caches hit). Warm visits of the page and of
the bare app alternate, so load on the machine hits both alike; the ratio is the
page's warm median over the bare app's. Time runs from navigation to the moment
the script has finished and the page shows content (the harness's 300 ms settle
check is not counted). Needs Debian's chromium and a built workspace (default:
the demo workspace).
"""

from __future__ import annotations

import argparse
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

from core.listening.researcher import PASSWORD_ENV  # noqa: E402
from core.paths import default_workspace  # noqa: E402
from tests.browser_support import CHROMIUM_ARGS, chromium_path, streamlit_server  # noqa: E402

PAGES = ("home", "map", "words", "similar", "search", "results", "listening")
PAGE_FILES = {p.stem for p in (ROOT / "pages").glob("*.py")}
PASSWORD = "bench-researcher-password"  # the listening page is timed signed in

BARE_APP = '''import streamlit as st

def first():
    st.title("First page")
    st.write("A bare Streamlit page: the reference for the Tagspace pages.")

def second():
    st.title("Second page")
    st.write("Another bare page.")

st.set_page_config(page_title="bare", layout="wide")
st.navigation([st.Page(first, title="First", url_path="first", default=True),
               st.Page(second, title="Second", url_path="second")]).run()
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


def visit(browser, url: str, timeout_ms: int = 300_000) -> float:
    """Seconds from navigation to a finished, rendered page in a fresh tab.

    The moment counted is when the script is seen finished; the page is then watched for
    300 ms more, and a script that was still going (its status widget late) is waited for again.
    The listening page counts up to the signed-in page (sign-in form, password, second run).
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url)
        _finished(page, timeout_ms)
        if url.endswith("/listening"):
            _sign_in(page, timeout_ms)
        elapsed = time.perf_counter() - start
        page.wait_for_timeout(300)
        if not page.evaluate(RUNNING):
            _finished(page, timeout_ms)
            elapsed = time.perf_counter() - start
        return elapsed
    finally:
        context.close()


def measure(browser, workspace: Path, bare_url: str, repeats: int, pages=PAGES) -> tuple[list, list[float]]:
    """(page, cold, warm times) per page, and every warm visit of the bare app."""
    rows, bare = [], []
    for name in pages:
        # a new app process per page, so each page's cold time includes its own loading
        try:
            with streamlit_server(workspace, env={PASSWORD_ENV: PASSWORD}) as url:
                if name not in PAGE_FILES:
                    # A fresh server shows "Page not found" for a sub-path no file in pages/ is named after
                    # until a session has run app.py (Streamlit issues 8860/9992): open the root first.
                    visit(browser, url)
                target = f"{url}/{name}"
                cold = visit(browser, target)
                warm = []
                for i in range(repeats):
                    bare.append(visit(browser, f"{bare_url}/{('first', 'second')[i % 2]}"))
                    warm.append(visit(browser, target))
        except Exception as err:  # a page that does not finish is reported, and the other pages still run
            print(f"{name}: {type(err).__name__}: {str(err).splitlines()[0]}", file=sys.stderr)
            cold, warm = float("nan"), [float("nan")]
        rows.append((name, cold, warm))
    return rows, bare


def report(rows, bare: list[float], workspace: str, repeats: int) -> str:
    reference = statistics.median(bare)
    lines = [f"Page render benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), workspace {workspace}",
             "", f"Bare two-page Streamlit app (same harness, same run): warm median {reference:.2f} s "
             f"over {len(bare)} visits (min {min(bare):.2f}, max {max(bare):.2f}).",
             "", f"| page | cold process (s) | warm (s, median of {repeats}) | warm / bare | target <= 1.2x |",
             "|---|---:|---:|---:|---|"]
    for name, cold, warm in rows:
        w = statistics.median(warm)
        ratio = w / reference
        lines.append(f"| {name} | {cold:.2f} | {w:.2f} | {ratio:.2f}x | {'yes' if ratio <= 1.2 else 'no'} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(default_workspace()))
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "pages.txt"))
    parser.add_argument("--pages", nargs="+", choices=PAGES, default=list(PAGES), help="the pages to time")
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bare-app-") as tmp, sync_playwright() as p:
        script = Path(tmp) / "bare_app.py"
        script.write_text(BARE_APP)
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        with streamlit_server(Path(args.workspace), script=script) as bare_url:
            visit(browser, bare_url)  # its first visit (cold) is not counted
            rows, bare = measure(browser, Path(args.workspace), bare_url, args.repeats, args.pages)
        browser.close()

    text = report(rows, bare, args.workspace, args.repeats)
    publish(text, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
