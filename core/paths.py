"""Filesystem helpers: the default workspace location and root-confined paths."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataError

WORKSPACE_ENV = "TAGSPACE_WORKSPACE"


def cache_home() -> Path:
    """Directory for Tagspace's caches (``$XDG_CACHE_HOME/tagspace``)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "tagspace"


def default_workspace() -> Path:
    """The workspace used when none is given: ``$TAGSPACE_WORKSPACE`` or the demo."""
    env = os.environ.get(WORKSPACE_ENV)
    if env:
        return Path(env).expanduser()
    return cache_home() / "demo"


def confined_path(root: str | os.PathLike, relative: str | os.PathLike) -> Path:
    """Join ``relative`` to ``root`` and refuse any result outside ``root``.

    Parameters
    ----------
    root : path
        Directory that must contain the result.
    relative : path
        Path relative to ``root``. Absolute paths, ``..`` components and
        symbolic links are allowed only if the resolved result stays in ``root``.

    Returns
    -------
    Path
        The resolved absolute path.

    Raises
    ------
    DataError
        If the resolved path lies outside ``root``.
    """
    root_resolved = Path(root).expanduser().resolve()
    candidate = (root_resolved / Path(relative)).resolve()
    if candidate != root_resolved and root_resolved not in candidate.parents:
        raise DataError(
            f"path {str(relative)!r} points outside the data root {str(root_resolved)!r}; "
            "paths must stay inside it"
        )
    return candidate
