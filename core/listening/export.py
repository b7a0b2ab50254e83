"""Export a listening test's trials, answers and plays to CSV and Parquet."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
from sqlalchemy import select

from ..errors import ParameterError
from .analysis import answers_frame
from .db import ListeningDB, plays, sessions
from .design import trials_frame

FORMATS = ("csv", "parquet")


def plays_frame(db: ListeningDB, test_id: str) -> pd.DataFrame:
    """Every recorded play of a test (one row per play of a clip)."""
    query = (select(plays, sessions.c.rater_id).join(sessions, sessions.c.session_id == plays.c.session_id)
             .where(sessions.c.test_id == test_id).order_by(plays.c.play_id))
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in plays.columns] + ["rater_id"])


def export_test(db: ListeningDB, test_id: str, out_dir: str | os.PathLike,
                formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """Write ``<test>_trials``, ``<test>_answers`` and ``<test>_plays`` in each format.

    Returns
    -------
    list of Path
        The files written.
    """
    bad = set(formats) - set(FORMATS)
    if bad or not formats:
        raise ParameterError(f"export formats must be among {FORMATS}, got {list(formats)}")
    tables = {"trials": trials_frame(db, test_id), "answers": answers_frame(db, test_id),
              "plays": plays_frame(db, test_id)}
    if tables["trials"].empty:
        raise ParameterError(f"unknown listening test {test_id!r} (or it has no trials)")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        for fmt in formats:
            path = out / f"{test_id}_{name}.{fmt}"
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            written.append(path)
    return written
