"""Run the app with ``streamlit run`` and drive it in Debian's headless Chromium.

No browser is downloaded: Playwright launches ``/usr/bin/chromium``. Tests that
need it skip with a visible reason when it is missing.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 "--autoplay-policy=no-user-gesture-required"]


def chromium_path() -> str | None:
    """Path of the system Chromium, or None."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_log(url: str) -> Path:
    """The log file (stdout and stderr) of the server :func:`streamlit_server` started at ``url``."""
    return ARTIFACTS / f"streamlit-{url.rsplit(':', 1)[1]}.log"


def wait_for_health(url: str, proc: subprocess.Popen, timeout: float, what: str = "streamlit") -> None:
    """Wait until the Streamlit server at ``url`` answers its health check; raise if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")
        time.sleep(0.3)


@contextmanager
def streamlit_server(workspace: Path, env: dict | None = None, timeout: float = 90.0, script: Path | None = None):
    """Start ``streamlit run app.py`` (or ``script``) from the repository on a free localhost port; yield its URL.

    The server runs in the repository root, so ``.streamlit/config.toml`` applies to ``script`` too.
    """
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = open(ARTIFACTS / f"streamlit-{port}.log", "w")
    cmd = [sys.executable, "-m", "streamlit", "run", str(script or REPO / "app.py"),
           "--server.headless", "true", "--server.fileWatcherType", "none",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--", "--workspace", str(workspace)]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(url, proc, timeout, f"streamlit (see {log.name})")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextmanager
def browser_page(chromium, width: int = 1400, height: int = 1000):
    """A page in a browser context of its own (closed after), its uncaught script errors in ``page.errors``."""
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.errors = []
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()


def open_app_page(page, url: str, path: str, query: str = "", timeout_ms: int = 60_000) -> None:
    """Open ``url/path?query`` and wait for the finished page with app.py's own sidebar navigation."""
    page.goto(f"{url}/{path}{query}")
    wait_for_app(page)
    page.locator("[data-testid='stSidebar']").get_by_text("Similar").wait_for(timeout=timeout_ms)


def wait_for_app(page, timeout_ms: int = 60_000) -> None:
    """Wait until the page has content and the Streamlit script has finished running."""
    page.wait_for_selector("[data-testid='stApp']", timeout=timeout_ms)
    page.wait_for_selector("[data-testid='stMain'] [data-testid='stElementContainer']", timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector(\"[data-testid='stStatusWidget']\")"
        " || !document.querySelector(\"[data-testid='stStatusWidget']\").innerText.includes('Running')",
        timeout=timeout_ms,
    )
    page.wait_for_timeout(300)


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
