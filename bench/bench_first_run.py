"""A newcomer's first run: a fresh clone, `make run`, the first page, each page lighting up, the build per step.

    python bench/bench_first_run.py [--timeout-min 45] [--poll 30] [--first-page-only]
                                    [--out bench/results/first_run.txt]

What it does, in one run:

1. clones this repository (HEAD) into a temporary folder with ``../shared`` beside it, as CI does;
2. ``make install`` there, timed on its own (the target counts from after the installs);
3. ``make run`` with an empty workspace folder (``WORKSPACE=``) on a free port: the app starts while
   the default demo builds in the background;
4. headless Chromium opens Home as soon as the server answers: the seconds from ``make run`` to the
   first rendered page (target: within 3 minutes), and whether it shows the build's progress;
5. every ``--poll`` seconds it visits each page in a new tab and notes when it stops waiting for the
   build (it "lights up"), and any error element a page showed meanwhile;
6. once the build is done: its seconds per step (``build_report.json``; target: the whole default
   build within 10 minutes on 2 cores).

``--first-page-only`` stops after step 4 and one visit of every page (each should wait for the build,
showing its progress, without an error), and stops the build: the time to the first page in a
few minutes, without the build.

The visits cost the build some CPU (one headless tab every ``--poll`` seconds), so the build's time
here is an upper bound of a build nobody watches. Needs git, make, Debian's chromium.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import publish  # noqa: E402

from core.pipeline.status import is_active, read_status  # noqa: E402
from tests.browser_support import CHROMIUM_ARGS, chromium_path, free_port, wait_for_health  # noqa: E402

PAGES = ("home", "map", "words", "similar", "search", "compare", "results", "listening")
WAITING = ("The workspace is being built", "Building the workspace")
#: A page is shown: its title, or (a page waiting for the build, which has none) the build's progress.
SHOWN = ("() => { const m = document.querySelector(\"[data-testid='stMain']\");"
         " return !!m && (!!m.querySelector('h1') || m.innerText.includes('being built')"
         " || m.innerText.includes('Building the workspace')); }")
FINISHED = ("() => { const s = document.querySelector(\"[data-testid='stStatusWidget']\");"
            " return !s || !s.innerText.includes('Running'); }")


def _look(browser, url: str) -> dict:
    """One visit in a fresh tab: whether the page waits for the build, and the errors it shows."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    try:
        page.goto(url)
        page.wait_for_function(SHOWN, timeout=120_000)
        page.wait_for_function(FINISHED, timeout=120_000)
        page.wait_for_timeout(300)
        text = page.locator("[data-testid='stMain']").inner_text()
        errors = page.locator("[data-testid='stException']").count()
        return {"waiting": any(w in text for w in WAITING), "errors": errors,
                "progress": any(w in text for w in WAITING)}
    except Exception as err:  # noqa: BLE001 (a page that never renders is a finding, not a crash of the bench)
        return {"waiting": True, "errors": 1, "progress": False, "failure": f"{type(err).__name__}: {err}"[:200]}
    finally:
        context.close()


def _stop(proc: subprocess.Popen, workspace: Path) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    status = read_status(workspace)
    if is_active(status) and status.get("pid"):  # the background build, in its own session
        try:
            os.kill(int(status["pid"]), signal.SIGTERM)
        except OSError:
            pass


def first_run(args) -> str:
    from playwright.sync_api import sync_playwright

    tmp = Path(tempfile.mkdtemp(prefix="first-run-"))
    clone, workspace = tmp / "main", tmp / "workspace"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    (tmp / "shared").symlink_to((ROOT.parent / "shared").resolve())
    start = time.perf_counter()
    subprocess.run(["make", "-C", str(clone), "install"], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    install_s = time.perf_counter() - start

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "make-run.log", "w")
    t0 = time.perf_counter()
    proc = subprocess.Popen(["make", "-C", str(clone), "run", f"WORKSPACE={workspace}", f"PORT={port}",
                             "HOST=127.0.0.1"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    lit: dict[str, float] = {}
    waited: dict[str, float] = {}  # first seen waiting for the build (its progress shown, no error)
    errors: dict[str, list[str]] = {}
    try:
        wait_for_health(url, proc, 600, "make run")
        server_s = time.perf_counter() - t0
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            home = _look(browser, url)
            first_page_s = time.perf_counter() - t0
            print(f"first page after {first_page_s:.1f} s: {home}", file=sys.stderr, flush=True)
            deadline = t0 + args.timeout_min * 60
            while time.perf_counter() < deadline:
                if args.first_page_only and lit.keys() | errors.keys() | waited.keys() >= set(PAGES):
                    break
                for name in PAGES:
                    if name in lit:
                        continue
                    seen = _look(browser, f"{url}/{name}")
                    if seen["errors"]:
                        errors.setdefault(name, []).append(
                            f"{time.perf_counter() - t0:.0f} s: {seen.get('failure', 'an error element')}")
                    if not seen["waiting"] and not seen["errors"]:
                        lit[name] = time.perf_counter() - t0
                        print(f"{name} lit up after {lit[name]:.0f} s", file=sys.stderr, flush=True)
                    elif seen["waiting"] and not seen["errors"]:
                        waited.setdefault(name, time.perf_counter() - t0)
                status = read_status(workspace) or {}
                if status.get("state") in ("done", "failed", "stopped") and len(lit) == len(PAGES):
                    break
                if not args.first_page_only:
                    time.sleep(args.poll)
            browser.close()
    finally:
        _stop(proc, workspace)
        log.close()
    status = read_status(workspace) or {}
    report = {}
    if (workspace / "build_report.json").is_file():
        report = json.loads((workspace / "build_report.json").read_text())["timings"].get("build-demo", {})
    build_s = report.get("total_seconds")
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()
    lines = [f"First run on a fresh clone of {head}, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
             f"{os.cpu_count()} cores",
             "",
             f"make install (fresh .venv, packages from this machine's mirror): {install_s:.0f} s (not counted below)",
             f"make run -> server answering: {server_s:.1f} s",
             f"make run -> first page rendered (Home): {first_page_s:.1f} s; shows the build's progress: "
             f"{home['progress']}; errors: {home['errors']}   target <= 180 s: "
             f"{'met' if first_page_s <= 180 and not home['errors'] else 'not met'}",
             "", f"pages lit up (no longer waiting for the build), polled every {args.poll} s, seconds after make run:"]
    for name in PAGES:
        if name in lit:
            lines.append(f"  {name:<10} {lit[name]:7.0f}")
        elif name in waited:
            lines.append(f"  {name:<10}   waiting for the build with its progress (seen {waited[name]:.0f} s after make run)")
        else:
            lines.append(f"  {name:<10}   never (within {args.timeout_min} min)")
    lines.append(f"error elements seen on a page meanwhile: {json.dumps(errors) if errors else 'none'}")
    lines += ["", f"build state at the end: {status.get('state', 'unknown')}; default build per step "
              f"(seconds, build_report.json, cores {report.get('cores', '?')}):"]
    for step, seconds in report.get("steps", {}).items():
        lines.append(f"  {step:<10} {seconds:7.1f}")
    if build_s is not None:
        lines.append(f"  {'total':<10} {build_s:7.1f}   target <= 600 s: {'met' if build_s <= 600 else 'not met'}")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout-min", type=float, default=45.0, help="give up on the build after this long")
    parser.add_argument("--poll", type=float, default=30.0, help="seconds between rounds of page visits")
    parser.add_argument("--first-page-only", action="store_true",
                        help="visit every page once after the first, then stop (the build is not waited for)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "first_run.txt"))
    args = parser.parse_args()
    if chromium_path() is None:
        print("chromium is not installed: `apt-get install chromium`", file=sys.stderr)
        return 1
    publish(first_run(args), Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
