"""Shared fixtures. ``tiny_workspace`` builds the tiny demo once per test session.

Set ``TAGSPACE_TEST_WORKSPACE=/some/dir`` to keep and reuse a tiny workspace
between runs while developing (the build is resumable, so only missing steps run).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.progress import silent
from core.workspace import Workspace


@pytest.fixture(scope="session")
def tiny_workspace(tmp_path_factory) -> Workspace:
    from core.demo.build import build_demo

    reuse = os.environ.get("TAGSPACE_TEST_WORKSPACE")
    root = Path(reuse) if reuse else tmp_path_factory.mktemp("tiny") / "ws"
    return build_demo(root, size="tiny", seed=0, progress=silent, log=lambda *a: None)
