"""Small synthetic workspace and the database fixtures of the listening-test tests.

The workspace has 12 four-second sine-tone tracks with genre/mood/instrument/tempo
tags and BPMs: enough for every trial source, and built in well under a second.
``listening_db`` runs each test that uses it twice: on SQLite (the workspace's
file) and on a fresh database of the session's throwaway PostgreSQL server
(``postgres_server`` in ``conftest.py``; skipped with the reason when there is
none). For PostgreSQL it also sets ``$TAGSPACE_LISTENING_DB``, so every
``open_db(ws)`` of the test, the CLI and subprocesses reach the same database.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.catalog import Catalog
from core.listening.db import open_db
from core.workspace import Workspace

SR = 22050
GENRES, MOODS, INSTRUMENTS = ("rock", "jazz", "pop"), ("happy", "sad"), ("piano", "guitar")


def make_workspace(root: Path, n_tracks: int = 12, seconds: float = 4.0) -> Workspace:
    """A workspace with ``n_tracks`` sine tones and four tag categories."""
    ws = Workspace.create(root, name="listening-test")
    (ws.audio_root).mkdir(parents=True, exist_ok=True)
    tracks, tags = [], []
    t = np.arange(int(SR * seconds)) / SR
    for i in range(n_tracks):
        tid = f"t{i:02d}"
        sf.write(ws.audio_root / f"{tid}.wav", (0.2 * np.sin(2 * np.pi * 220 * (1 + i / 12) * t)).astype(np.float32), SR)
        tracks.append({"track_id": tid, "artist_id": f"a{i % 4}", "title": f"tone {i}", "audio_path": f"{tid}.wav",
                       "duration": seconds, "split": "train", "bpm": 80.0 + 20 * (i % 4), "source": "test"})
        for cat, tag in (("genre", GENRES[i % 3]), ("mood", MOODS[i % 2]), ("instrument", INSTRUMENTS[(i // 2) % 2]),
                         ("tempo", "fast" if i % 4 >= 2 else "slow")):
            tags.append({"track_id": tid, "tag": tag, "original_tag": tag, "category": cat, "score": 100.0})
    artists = pd.DataFrame({"artist_id": [f"a{k}" for k in range(4)], "name": [f"Artist {k}" for k in range(4)]})
    ws.save_catalog(Catalog(pd.DataFrame(tracks), artists, pd.DataFrame(tags)))
    return ws


@pytest.fixture
def listening_ws(tmp_path, monkeypatch) -> Workspace:
    monkeypatch.delenv("TAGSPACE_LISTENING_DB", raising=False)
    return make_workspace(tmp_path / "ws")


@pytest.fixture(params=["sqlite", "postgresql"])
def listening_db(request, listening_ws, monkeypatch):
    """An open, migrated listening database on each backend (see the module docstring)."""
    name = None
    if request.param == "postgresql":
        server = request.getfixturevalue("postgres_server")
        name = server.create_database()
        monkeypatch.setenv("TAGSPACE_LISTENING_DB", server.url(name))
    db = open_db(listening_ws)
    yield db
    db.dispose()
    if name is not None:
        server.drop_database(name)
