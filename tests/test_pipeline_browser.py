"""End-to-end: the app opened while a tiny demo build runs shows its progress, never an error.

The build is real (``build-demo --background``, as ``make run`` starts it) on a copy of the
tiny demo's catalog, audio and features, so only its later steps have work to do.
"""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from core.demo.build import start_background_build
from core.pipeline.status import is_active, read_status
from tests.browser_support import screenshot, streamlit_server, wait_for_app

pytestmark = pytest.mark.browser

COPIED = ("workspace.json", "catalog", "audio", "features", "build_report.json", "cache/corpus", "cache/numba")


@pytest.fixture()
def building(tiny_workspace, tmp_path):
    """A workspace whose background build is under way (models, maps, ... still to do)."""
    root = tmp_path / "ws"
    for rel in COPIED:
        source = tiny_workspace.root / rel
        if source.is_dir():
            shutil.copytree(source, root / rel)
        elif source.exists():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, root / rel)
    assert "in the background" in start_background_build(root, size="tiny")
    yield root
    status = read_status(root)
    if status and is_active(status):
        os.killpg(int(status["pid"]), signal.SIGTERM)  # the build this test started (its own session)
        deadline = time.monotonic() + 20
        while is_active(read_status(root)) and time.monotonic() < deadline:
            time.sleep(0.5)


def test_pages_show_the_build_progress_not_an_error(chromium, building):
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        with streamlit_server(building) as url:
            page.goto(url)
            wait_for_app(page)
            page.get_by_text("build-demo").first.wait_for(timeout=60_000)
            assert is_active(read_status(building)), "the build ended before the page was seen"
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.locator("[data-testid='stProgress']").count() >= 1
            screenshot(page, "build-progress-home")
            page.goto(f"{url}/map")
            wait_for_app(page)
            page.get_by_text("Waiting for step").first.wait_for(timeout=60_000)
            assert page.locator("[data-testid='stException']").count() == 0
            assert page.locator("[data-testid='stAlertContentError']").count() == 0
            screenshot(page, "build-progress-map")
    finally:
        context.close()
    assert not errors
