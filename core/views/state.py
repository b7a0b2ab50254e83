"""A cheap key for "has this workspace changed?": what the pages cache their tables and figures by.

The app caches what it derives from a workspace (summary tables, track titles, map
points, figures) across reruns and sessions. The key is the size and modification
time of every file those derive from, read with a few ``stat`` calls, never the files'
contents: a rerun pays microseconds to know its cache is still right, and a catalog
imported, a model trained or an evaluation written while the app runs shows up on
the next rerun.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..workspace import MANIFEST, Workspace

#: Files (globs relative to the workspace root) whose change makes the pages' cached views stale.
STATE_GLOBS = (
    MANIFEST,
    "catalog/*",
    "evaluation.json",
    "models/*/config.json",
    "models/*/model.pt",
    "words/*.json",
    "embeddings/*/meta.json",
    "projections/*.json",
)


def workspace_state(ws: Workspace) -> str:
    """A short hash of the names, sizes and modification times of the files in :data:`STATE_GLOBS`.

    Parameters
    ----------
    ws : Workspace
        The open workspace.

    Returns
    -------
    str
        16 hex digits; equal for two calls exactly when no watched file was added, removed or rewritten
        (to the resolution of the file system's modification times).
    """
    digest = hashlib.sha256(str(ws.root).encode())
    for pattern in STATE_GLOBS:
        for path in sorted(Path(ws.root).glob(pattern)):
            try:
                stat = path.stat()
            except OSError:  # removed between the listing and the stat: the next call sees it gone
                continue
            digest.update(f"{path.relative_to(ws.root)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]
