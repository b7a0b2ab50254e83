"""Lee et al.'s dim-sim human ratings: read the clean/raw files, score models on them.

Both files have the columns of :data:`COLUMNS` (CSV with a header, or JSON as
a list of records or a column mapping). The raw files hold vote counts per
triplet; the clean file keeps triplets with agreement >= 0.9 and 0/1 votes.
A model predicts song1 when ``sim(anchor, song1) > sim(anchor, song2)`` on the
clips' excerpts (the file's start offsets and clip lengths); its model-vs-human
accuracy is scored against the majority vote (``song1_vote > song2_vote``;
ties are left out).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError
from ..fileio import read_json
from .scoring import ACCURACY_COLUMNS, VECTOR_LEVELS, model_vs_human_accuracy

COLUMNS = ("triplet_id", "anchor_id", "anchor_start_seconds", "anchor_start_samples", "song1_id",
           "song1_start_seconds", "song1_start_samples", "song2_id", "song2_start_seconds",
           "song2_start_samples", "sampling_rate", "clip_lengths_seconds", "clip_lengths_samples",
           "song1_vote", "song2_vote")
_FLOATS = ("anchor_start_seconds", "song1_start_seconds", "song2_start_seconds", "clip_lengths_seconds")
_INTS = ("anchor_start_samples", "song1_start_samples", "song2_start_samples", "sampling_rate",
         "clip_lengths_samples", "song1_vote", "song2_vote")


def read_dimsim(path: str | os.PathLike) -> pd.DataFrame:
    """Read a dim-sim CSV or JSON file.

    Returns
    -------
    pandas.DataFrame
        The :data:`COLUMNS`, ids as strings, times as floats, counts as ints.

    Raises
    ------
    DataError
        Missing file or column, non-numeric or negative values, no rows.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"dim-sim file not found: {path}")
    try:
        if path.suffix.lower() == ".json":
            raw = read_json(path)
            if not isinstance(raw, (list, dict)):
                raise DataError(f"{path}: expected a JSON list of triplets or an object of columns")
            frame = pd.DataFrame(raw if isinstance(raw, list) else {k: pd.Series(v) for k, v in raw.items()})
        else:
            frame = pd.read_csv(path, dtype=str)
    except (ValueError, json.JSONDecodeError, pd.errors.ParserError) as err:
        reason = " ".join(str(err).split())  # pandas' messages span lines
        raise DataError(f"{path}: not a readable dim-sim CSV/JSON file ({reason})") from err
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing dim-sim column(s) {missing}")
    if frame.empty:
        raise DataError(f"{path}: no triplets")
    out = frame[list(COLUMNS)].copy()
    for col in ("triplet_id", "anchor_id", "song1_id", "song2_id"):
        out[col] = out[col].astype(str).str.strip()
    try:
        for col in _FLOATS:
            out[col] = pd.to_numeric(out[col]).astype(float)
        for col in _INTS:
            values = pd.to_numeric(out[col]).astype(float)
            if not np.allclose(values, np.round(values)):
                raise ValueError(f"column {col} must hold whole numbers")
            out[col] = values.round().astype(int)
    except (ValueError, TypeError) as err:
        raise DataError(f"{path}: non-numeric value ({err})") from err
    if (out[list(_FLOATS)] < 0).any().any() or (out[["song1_vote", "song2_vote"]] < 0).any().any():
        raise DataError(f"{path}: negative offsets, clip lengths or votes")
    if (out["clip_lengths_seconds"] <= 0).any():
        raise DataError(f"{path}: clip lengths must be positive")
    return out.reset_index(drop=True)


def human_votes(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``n_votes``, ``agreement`` (majority share) and ``majority`` (``song1``/``song2``/None on ties)."""
    out = frame.copy()
    v1, v2 = out["song1_vote"].to_numpy(), out["song2_vote"].to_numpy()
    n = v1 + v2
    out["n_votes"] = n
    out["agreement"] = np.where(n > 0, np.maximum(v1, v2) / np.maximum(n, 1), np.nan)
    out["majority"] = np.where(v1 > v2, "song1", np.where(v2 > v1, "song2", None))
    return out


def as_triplets(frame: pd.DataFrame) -> pd.DataFrame:
    """The columns :func:`core.listening.scoring.model_vs_human_accuracy` reads, labelled by majority."""
    votes = human_votes(frame)
    return pd.DataFrame({
        "anchor_id": votes["anchor_id"], "anchor_start": votes["anchor_start_seconds"],
        "song1_id": votes["song1_id"], "song1_start": votes["song1_start_seconds"],
        "song2_id": votes["song2_id"], "song2_start": votes["song2_start_seconds"],
        "clip_seconds": votes["clip_lengths_seconds"], "label": votes["majority"],
        "agreement": votes["agreement"], "triplet_id": votes["triplet_id"],
    })


def score_dimsim(frame: pd.DataFrame, embedders: dict, threshold: float | None = None) -> pd.DataFrame:
    """Model-vs-human accuracy on a dim-sim file.

    Parameters
    ----------
    frame : DataFrame
        From :func:`read_dimsim`.
    embedders : dict
        ``{model name: ExcerptEmbedder}`` (see :mod:`core.listening.scoring`).
    threshold : float, optional
        Keep triplets whose agreement is at least this (Lee et al.: 0.9).

    Returns
    -------
    DataFrame
        One row per model and space (``full`` and each subspace): ``model``,
        ``space``, ``n``, ``correct``, ``accuracy``, ``ci_low``, ``ci_high``,
        ``vectors`` (excerpts embedded, or an embedding-only model's track-level vectors).
    """
    triplets = as_triplets(frame)
    if threshold is not None:
        triplets = triplets[triplets["agreement"] >= threshold]
    rows = []
    for name, embedder in embedders.items():
        for row in model_vs_human_accuracy(triplets, embedder):
            rows.append({"model": name, **row, "vectors": VECTOR_LEVELS[embedder.level]})
    return pd.DataFrame(rows, columns=["model", *ACCURACY_COLUMNS, "vectors"])
