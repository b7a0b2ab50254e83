"""Serving settings: what `.streamlit/config.toml`, `.gitignore` and `make run` promise."""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_streamlit_config_hides_errors_and_the_toolbar_and_binds_to_localhost():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"  # uncaught errors: generic message, log has the rest
    assert config["client"]["toolbarMode"] == "minimal"  # no Deploy button
    assert config["server"]["address"] == "localhost"


def test_streamlit_secrets_are_never_committed():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    result = subprocess.run(["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=REPO)
    assert result.returncode == 0, ".streamlit/secrets.toml is not in .gitignore"


@pytest.mark.parametrize("args, address", [([], "localhost"), (["HOST=0.0.0.0"], "0.0.0.0")])
def test_make_run_binds_to_localhost_unless_told(args, address):
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL")}  # under `make test`
    dry = subprocess.run(["make", "-n", "-s", "run", *args], cwd=REPO, capture_output=True, text=True, check=True,
                         env=env)
    command = next(line for line in dry.stdout.splitlines() if "streamlit run" in line)
    assert f"--server.address {address} " in command
