"""Warm render of the Compare page's views against a bare two-page Streamlit app, in one run, headless Chromium.

Usage::

    python bench/bench_compare_page.py [--workspace W] [--repeats 5]

The bare app (a title and a line of text on each of two ``st.navigation`` pages) is
served by the same harness (:mod:`tests.browser_support`) from the same repository
root, so both see the same ``.streamlit/config.toml``. Each view is visited once to
warm the process (models, indexes, maps, the neighbourhood comparison), then
``--repeats`` times in new tabs (fresh sessions); the median is compared with the
bare page's. Writes ``bench/results/compare_page.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_pages import visit  # noqa: E402
from core.paths import default_workspace  # noqa: E402
from core.workspace import Workspace  # noqa: E402
from tests.browser_support import CHROMIUM_ARGS, chromium_path, streamlit_server  # noqa: E402

BARE_APP = '''import streamlit as st

def first():
    st.title("Bare page")
    st.write("A line of text.")

def second():
    st.title("Second page")

st.navigation([st.Page(first, title="First", url_path="first", default=True),
               st.Page(second, title="Second", url_path="second")]).run()
'''
VIEWS = ("maps", "query", "metrics", "disagree")


def warm_median(browser, url: str, repeats: int) -> float:
    visit(browser, url)  # warm this view's caches
    return statistics.median(visit(browser, url) for _ in range(repeats))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(default_workspace()))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    ws = Workspace.open(args.workspace)
    names = ws.model_names()
    a, b = names[0], names[-1]
    track = ws.catalog.track_ids[0]
    rows = []
    with sync_playwright() as p, tempfile.TemporaryDirectory() as folder:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        bare_script = Path(folder) / "bare_app.py"
        bare_script.write_text(BARE_APP)
        with streamlit_server(Path(args.workspace), script=bare_script) as url:
            bare = warm_median(browser, f"{url}/first", args.repeats)
        with streamlit_server(Path(args.workspace)) as url:
            visit(browser, url)  # the root first: a fresh server answers sub-paths only after it
            for view in VIEWS:
                rows.append((view, warm_median(browser, f"{url}/compare?a={a}&b={b}&k=10&view={view}&track={track}",
                                               args.repeats)))
        browser.close()

    lines = [f"Compare page warm render, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), workspace {args.workspace} "
             f"({len(ws.catalog.track_ids)} tracks), models {a} vs {b}",
             "", f"| page | warm (s, median of {args.repeats}) | / bare page |", "|---|---:|---:|",
             f"| bare two-page app | {bare:.2f} | 1.00x |"]
    lines += [f"| compare, view={view} | {t:.2f} | {t / bare:.2f}x |" for view, t in rows]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "compare_page.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
