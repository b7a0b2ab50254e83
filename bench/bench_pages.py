"""Time to first render of each page, in a cold and a warm app process, in headless Chromium.

Usage::

    python bench/bench_pages.py [--workspace W] [--repeats 3]

For each page: *cold* is the first visit after ``streamlit run`` started (a fresh
process: models, indexes and word vectors load on this visit); *warm* is the
median of later visits in new browser tabs (fresh sessions, same process, caches
hit). Time runs from navigation to the moment the script has finished and the
page shows content. Needs Debian's chromium and a built workspace (default: the
demo workspace). Prints one table and writes it to ``bench/results/pages.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.paths import default_workspace  # noqa: E402
from tests.browser_support import CHROMIUM_ARGS, chromium_path, streamlit_server, wait_for_app  # noqa: E402

PAGES = ("home", "map", "words", "similar", "search", "results", "listening")


def visit(browser, url: str) -> float:
    """Seconds from navigation to a finished, rendered page in a fresh tab."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        start = time.perf_counter()
        page.goto(url)
        wait_for_app(page, timeout_ms=300_000)
        return time.perf_counter() - start
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workspace", default=str(default_workspace()))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        for name in PAGES:
            # a new app process per page, so each page's cold time includes its own loading
            with streamlit_server(Path(args.workspace)) as url:
                target = f"{url}/{name}"
                cold = visit(browser, target)
                warm = statistics.median(visit(browser, target) for _ in range(args.repeats))
            rows.append((name, cold, warm))
        browser.close()

    lines = [f"Page render benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} cores ({platform.processor() or platform.machine()}), workspace {args.workspace}",
             "", f"| page | cold process (s) | warm (s, median of {args.repeats}) | cold / warm |",
             "|---|---:|---:|---:|"]
    lines += [f"| {n} | {c:.2f} | {w:.2f} | {c / w:.1f}x |" for n, c, w in rows]
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "pages.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
