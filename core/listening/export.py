"""Export a listening test's trials, answers and plays to CSV and Parquet.

CSV files go through :func:`core.fileio.write_csv` (a text cell that a
spreadsheet would run as a formula is written as text), Parquet files through
:func:`core.fileio.write_atomic`; :func:`table_bytes` gives the same bytes for a
download button.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import ParameterError
from ..fileio import write_atomic, write_csv
from .db import ListeningDB, answers_frame, plays_frame, trials_frame

FORMATS = ("csv", "parquet")
TABLES = ("trials", "answers", "plays")


def listening_tables(db: ListeningDB, test_id: str) -> dict[str, pd.DataFrame]:
    """``{"trials", "answers", "plays": DataFrame}`` of one test.

    Raises
    ------
    ParameterError
        If the test does not exist (or has no trials).
    """
    tables = {"trials": trials_frame(db, test_id), "answers": answers_frame(db, test_id),
              "plays": plays_frame(db, test_id)}
    if tables["trials"].empty:
        raise ParameterError(f"unknown listening test {test_id!r} (or it has no trials)")
    return tables


def table_bytes(frame: pd.DataFrame, fmt: str) -> bytes:
    """One table as the bytes of a ``csv`` (formula-safe, as :func:`core.fileio.write_csv`) or ``parquet`` file."""
    if fmt == "csv":
        with tempfile.TemporaryDirectory() as tmp:
            return write_csv(frame, Path(tmp) / "table.csv").read_bytes()
    if fmt == "parquet":
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        return buf.getvalue()
    raise ParameterError(f"export format must be one of {FORMATS}, got {fmt!r}")


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
    tables = listening_tables(db, test_id)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, frame in tables.items():
        for fmt in formats:
            path = out / f"{test_id}_{name}.{fmt}"
            if fmt == "csv":
                write_csv(frame, path)
            else:
                write_atomic(path, lambda tmp, frame=frame: frame.to_parquet(tmp, index=False))
            written.append(path)
    return written
