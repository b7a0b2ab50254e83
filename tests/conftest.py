"""Shared fixtures. ``tiny_workspace`` builds the tiny demo once per test session.

Set ``TAGSPACE_TEST_WORKSPACE=/some/dir`` to keep and reuse a tiny workspace
between runs while developing (the build is resumable, so only missing steps run).
``postgres_server`` is a throwaway PostgreSQL server for the session (or a skip
with the reason); the listening tests' ``listening_db`` runs on it and on SQLite
(``tests/listening_support.py``).
"""

from __future__ import annotations

import atexit
import os
import sys
import urllib.request
from pathlib import Path

import pytest

from core.progress import silent
from core.workspace import Workspace
from tests.listening_support import listening_db, listening_ws  # noqa: F401 (fixtures of the listening tests)


@pytest.fixture()
def synthetic(tmp_path) -> dict:
    """The engine tests' synthetic workspace and fake models (``tests.fixtures.engine_fakes.make_synthetic``)."""
    from tests.fixtures.engine_fakes import make_synthetic

    return make_synthetic(tmp_path)


@pytest.fixture()
def synthetic_ws(tmp_path) -> Workspace:
    """The Muslse/MWE tests' synthetic workspace (``tests.fixtures.synthetic_workspace.make_workspace``)."""
    from tests.fixtures.synthetic_workspace import make_workspace

    return make_workspace(tmp_path / "ws")


@pytest.fixture(autouse=True)
def _keep_main_module():
    """Put ``sys.modules["__main__"]`` back after each test.

    AppTest runs a page as ``__main__`` and leaves it there; a process pool started later in the
    session (features, demo models, DDP ranks; spawn start method) would re-run that page in
    every worker instead of pytest's entry point.
    """
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory) -> Workspace:
    from core.demo.build import build_demo

    reuse = os.environ.get("TAGSPACE_TEST_WORKSPACE")
    root = Path(reuse) if reuse else tmp_path_factory.mktemp("tiny") / "ws"
    return build_demo(root, size="tiny", seed=0, progress=silent, log=lambda *a: None)


@pytest.fixture(scope="session")
def chromium():
    """A Playwright Chromium browser (Debian's), or skip with the reason."""
    from tests.browser_support import CHROMIUM_ARGS, chromium_path

    path = chromium_path()
    if path is None:
        pytest.skip("Debian chromium is not installed (make test installs it when run as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def app_url(tiny_workspace):
    """Base URL of ``streamlit run app.py`` serving the tiny workspace."""
    from tests.browser_support import streamlit_server

    with streamlit_server(tiny_workspace.root) as url:
        # A fresh server answers the first visit to a sub-path with "Page not found"
        # (Streamlit issues 8860/9992): open the root once, as `make run` users do.
        urllib.request.urlopen(url, timeout=30).read()
        yield url


_POSTGRES: dict = {}


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server for this test session (``tests/postgres_support.py``), or skip with the reason."""
    from tests.postgres_support import PostgresUnavailable, start_throwaway_postgres

    if "server" not in _POSTGRES:  # try once per session; a failure skips every PostgreSQL test with its reason
        try:
            _POSTGRES["server"] = start_throwaway_postgres()
            atexit.register(_POSTGRES["server"].stop)  # also when the session is interrupted
        except PostgresUnavailable as err:
            _POSTGRES["server"] = None
            _POSTGRES["reason"] = f"PostgreSQL tests skipped: {err}"
    if _POSTGRES["server"] is None:
        pytest.skip(_POSTGRES["reason"])
    yield _POSTGRES["server"]
    _POSTGRES.pop("server").stop()
