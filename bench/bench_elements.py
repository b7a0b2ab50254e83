"""What one Streamlit element adds to a page's render time in the browser, against a bare page, in one run.

Usage::

    python bench/bench_elements.py [--repeats 12] [--out bench/results/elements.txt]

The pages bench (``bench/bench_pages.py``) holds each Tagspace page to 1.2x a bare
Streamlit page. This bench asks what that budget buys: a bare page (a title and a line
of text) and the same page plus one kind of element Tagspace's pages use, each kind
alone, served by one ``streamlit run`` and visited by the same harness as the pages
bench (a new tab of one browser per visit, its HTTP cache shared; from navigation to
the script seen finished). Visits of every variant alternate, so load on the machine
hits them alike. Each row: the variant's warm median, its ratio to the bare page with a
95% bootstrap interval, and the milliseconds it adds. The script of every variant runs
in a few milliseconds on the server (no data is read), so what a row adds is the
element's cost in the browser and on the wire. Needs Debian's chromium.
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

from bench.bench_pages import Browser, visit  # noqa: E402
from bench.report import publish  # noqa: E402
from bench.stats import ratio_interval  # noqa: E402

from tests.browser_support import CHROMIUM_ARGS, chromium_path, streamlit_server  # noqa: E402

#: Variant -> what it adds to the bare page (the app below draws it).
VARIANTS = {
    "bare": "nothing (the reference)",
    "metrics": "4 st.metric in 4 columns (Home's counts)",
    "markdown_tables": "3 Markdown tables of 6 rows (Home's small tables)",
    "headings": "6 subheaders with a caption each",
    "lines": "30 lines of st.write",
    "columns": "st.columns(2) with a line in each",
    "expander": "a collapsed st.expander with a line",
    "inputs": "st.text_input and st.number_input (Home's track filter)",
    "slider": "3 st.slider (Similar's weights)",
    "radio": "a horizontal st.radio",
    "tabs": "st.tabs with 2 tabs, a line in each",
    "dataframe": "st.dataframe of 10 rows, 3 columns",
    "two_dataframes": "2 st.dataframe of 10 rows",
    "data_editor": "st.data_editor of 5 rows",
    "audio": "st.audio of a 3 s WAV",
    "plotly": "st.plotly_chart of two points (WebGL, as the Map draws)",
}

APP = '''import io
import numpy as np
import pandas as pd
import soundfile as sf
import streamlit as st

def first():
    v = st.query_params.get("v", "bare")
    st.title("First page")
    st.write("A bare Streamlit page.")
    table = pd.DataFrame({"rank": range(1, 11), "id": [f"track-{i}" for i in range(10)],
                          "score": np.linspace(1, 0, 10)})
    if v == "metrics":
        for i, col in enumerate(st.columns(4)):
            col.metric(f"Count {i}", 100 + i)
    elif v == "markdown_tables":
        for _ in range(3):
            st.markdown("| name | n |\\n|---|---:|\\n" + "\\n".join(f"| tag {i} | {i} |" for i in range(6)))
    elif v == "headings":
        for i in range(6):
            st.subheader(f"Section {i}")
            st.caption("A caption under it.")
    elif v == "lines":
        for i in range(30):
            st.write(f"Line {i}.")
    elif v == "columns":
        left, right = st.columns(2)
        left.write("Left.")
        right.write("Right.")
    elif v == "expander":
        with st.expander("More"):
            st.write("Inside.")
    elif v == "inputs":
        st.text_input("Filter")
        st.number_input("Page", min_value=1, max_value=10, value=1)
    elif v == "slider":
        for name in ("genre", "mood", "tempo"):
            st.slider(name, 0.0, 1.0, 0.5)
    elif v == "radio":
        st.radio("Source", ["Catalog track", "Upload a clip"], horizontal=True)
    elif v == "tabs":
        for tab, name in zip(st.tabs(["One", "Two"]), ("one", "two")):
            tab.write(f"Tab {name}.")
    elif v == "dataframe":
        st.dataframe(table, hide_index=True)
    elif v == "two_dataframes":
        st.dataframe(table, hide_index=True)
        st.dataframe(table, hide_index=True)
    elif v == "data_editor":
        st.data_editor(table.head(5), hide_index=True)
    elif v == "audio":
        buffer = io.BytesIO()
        sf.write(buffer, np.zeros(3 * 22050, dtype=np.float32), 22050, format="WAV")
        st.audio(buffer.getvalue(), format="audio/wav")
    elif v == "plotly":
        import plotly.graph_objects as go
        st.plotly_chart(go.Figure([go.Scattergl(x=[0.0, 1.0], y=[0.0, 1.0], mode="markers")]))

def second():
    st.title("Second page")

st.set_page_config(page_title="elements", layout="wide")
st.navigation([st.Page(first, title="First", url_path="first", default=True),
               st.Page(second, title="Second", url_path="second")]).run()
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "elements.txt"))
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    with tempfile.TemporaryDirectory(prefix="elements-app-") as tmp, sync_playwright() as p:
        script = Path(tmp) / "elements_app.py"
        script.write_text(APP)
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        tabs = Browser(browser, fresh=False)
        with streamlit_server(Path(tmp), script=script) as url:
            for v in VARIANTS:  # first visits load each element's code: not counted
                visit(tabs, f"{url}/first?v={v}")
            for _ in range(args.repeats):
                for v in VARIANTS:
                    times[v].append(visit(tabs, f"{url}/first?v={v}"))
        browser.close()

    bare = statistics.median(times["bare"])
    lines = [f"Element cost benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
             f"({platform.processor() or platform.machine()}); each visit in a new tab of one browser "
             "(its HTTP cache shared)", "",
             f"Bare page (a title and a line): warm median {bare:.2f} s over {args.repeats} visits. "
             f"The pages' target, 1.2x, leaves {0.2 * bare * 1000:.0f} ms for everything a page adds.", "",
             "In brackets: 95% bootstrap interval of the ratio (visits resampled).", "",
             f"| added to the bare page | warm (s, median of {args.repeats}) | / bare | 95% interval | adds (ms) |",
             "|---|---:|---:|---|---:|"]
    for v, what in VARIANTS.items():
        w = statistics.median(times[v])
        low, high = ratio_interval(times[v], times["bare"])
        lines.append(f"| {what} | {w:.2f} | {w / bare:.2f}x | [{low:.2f}, {high:.2f}] | {(w - bare) * 1000:+.0f} |")
    publish("\n".join(lines), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
