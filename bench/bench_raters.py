"""Many simultaneous raters through one ``streamlit run``: answer-to-next-trial latency, and nothing lost.

Usage::

    python bench/bench_raters.py [--raters 40] [--trials 10] [--clip-seconds 0.5]

A synthetic workspace (sine tones) and one listening test with ``--trials`` trials
per rater are made in a temporary directory; one app process serves it. First a
single rater answers alone (the reference, same process), then ``--raters``
raters at once, each a browser context in one headless Chromium
(``tests/rater_load.py``): open the link, consent, and per trial play A and B
(muted), answer, wait for the next trial. Latency runs from the answer click to
the next trial's player being ready (or "All done"). The database is checked
afterwards: answers stored, lost (clicked but not stored) and duplicated.
CPU seconds of the app process and of Chromium are read from ``/proc``.
Prints a table and writes it to ``bench/results/raters.txt``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.listening.access import create_raters, rater_link  # noqa: E402
from core.listening.db import answers, open_db, sessions  # noqa: E402
from core.listening.design import StudyDesign, create_test  # noqa: E402
from tests.browser_support import chromium_path, streamlit_server  # noqa: E402
from tests.listening_support import make_workspace  # noqa: E402
from tests.rater_load import run_raters  # noqa: E402


class CpuMeter:
    """CPU seconds per process kind (``streamlit``, ``chromium``), sampled from /proc every 0.5 s."""

    def __init__(self):
        self.seen: dict[tuple[str, str], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self):
        tick = os.sysconf("SC_CLK_TCK")
        while not self._stop.is_set():
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                kind = "chromium" if "chromium" in cmd else "streamlit" if "streamlit run" in cmd else None
                if kind:
                    self.seen[(kind, pid)] = (int(fields[11]) + int(fields[12])) / tick
            self._stop.wait(0.5)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for (kind, _), seconds in self.seen.items():
            out[kind] = out.get(kind, 0.0) + seconds
        return out


def stored_answers(db) -> list[tuple[str, int]]:
    """Every stored answer as ``(rater_id, trial_id)``."""
    query = select(sessions.c.rater_id, answers.c.trial_id).join(sessions,
                                                                 sessions.c.session_id == answers.c.session_id)
    with db.read() as conn:
        return [(r.rater_id, r.trial_id) for r in conn.execute(query)]


def run(db, url: str, test_id: str, n: int) -> dict:
    """``n`` raters at once; latencies, wall time, and the database check."""
    raters = create_raters(db, test_id, n)
    start = time.perf_counter()
    runs = run_raters([rater_link(url, test_id, token) for _, token in raters], timeout_ms=600_000)
    wall = time.perf_counter() - start
    mine = {rid for rid, _ in raters}
    rows = [r for r in stored_answers(db) if r[0] in mine]
    clicked = {(rid, int(t)) for (rid, _), r in zip(raters, runs) for t in r.trials}
    latencies = [x for r in runs for x in r.latencies]
    return {"raters": n, "wall": wall, "clicked": len(clicked), "stored": len(rows),
            "lost": len(clicked - set(rows)), "duplicates": len(rows) - len(set(rows)),
            "errors": [r.error for r in runs if r.error], "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)), "n_latencies": len(latencies)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raters", type=int, default=40)
    parser.add_argument("--trials", type=int, default=10, help="trials per rater")
    parser.add_argument("--clip-seconds", type=float, default=0.5)
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    os.environ.pop("TAGSPACE_LISTENING_DB", None)
    with tempfile.TemporaryDirectory() as tmp:
        ws = make_workspace(Path(tmp) / "ws")
        db = open_db(ws)
        test_id = create_test(db, ws, StudyDesign(
            name="bench", n_trials=2 * args.trials, dimensions=("genre",), trials_per_rater=args.trials, n_catch=0,
            repeat_fraction=0, clip_seconds=args.clip_seconds, must_play_both=True, seed=0))
        with streamlit_server(ws.root) as url, CpuMeter() as cpu:
            alone = run(db, url, test_id, 1)
            before = cpu.totals()
            crowd = run(db, url, test_id, args.raters)
            after = cpu.totals()
        db.dispose()
    cpu_crowd = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in after}
    lines = [f"Rater load benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores "
             f"({platform.processor() or platform.machine()}), load average at the end "
             f"{os.getloadavg()[0]:.1f}; {args.trials} trials per rater, {args.clip_seconds} s clips, SQLite",
             "", "| raters at once | answers clicked | stored | lost | duplicates | p50 click->next trial (s) "
             "| p95 (s) | p50 / alone | wall (s) |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in (alone, crowd):
        lines.append(f"| {r['raters']} | {r['clicked']} | {r['stored']} | {r['lost']} | {r['duplicates']} | "
                     f"{r['p50']:.2f} | {r['p95']:.2f} | {r['p50'] / alone['p50']:.1f}x | {r['wall']:.0f} |")
    lines.append("")
    lines.append(f"CPU seconds during the {args.raters}-rater run: app process {cpu_crowd.get('streamlit', 0):.0f}, "
                 f"Chromium {cpu_crowd.get('chromium', 0):.0f} (per answer: "
                 f"{cpu_crowd.get('streamlit', 0) / max(crowd['stored'], 1):.2f} s app, "
                 f"{cpu_crowd.get('chromium', 0) / max(crowd['stored'], 1):.2f} s browser)")
    errors = alone["errors"] + crowd["errors"]
    if errors:
        lines.append(f"rater errors: {len(errors)}, first: {errors[0]}")
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "raters.txt"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text + "\n")
    return 0 if not errors and not crowd["lost"] and not crowd["duplicates"] else 1


if __name__ == "__main__":
    sys.exit(main())
