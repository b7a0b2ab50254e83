"""A researcher's own folder described by a CSV file with a header row.

Required columns: ``path`` (audio file relative to the audio root), ``track_id``,
``artist`` (used as artist id and name; empty means ``unknown``) and ``tags``:
``category:tag`` entries separated by ``;``, e.g. ``genre:Hip-Hop;mood:calm``,
with ``category`` one of :data:`core.catalog.CATEGORIES`. Optional columns:
``split`` (train/valid/test, on every row), ``bpm``, ``title``, ``duration`` (s),
``piece`` (the recording a clip was cut from: clips sharing it are not counted as
each other's relevant results in evaluation).

When ``bpm`` is given and no row has a ``tempo:`` tag, each track with a BPM
gets a derived ``slow`` (< 80), ``medium`` or ``fast`` (>= 120) tempo tag
(:func:`core.importers.common.add_tempo_tags`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..catalog import CATEGORIES, SPLITS, Catalog
from ..errors import DataError
from .common import (UNKNOWN_ARTIST, Log, Parsed, TrackRow, add_tempo_tags, assemble, check_audio, make_tag,
                     parse_float, read_csv_rows, read_splits, where)

REQUIRED = ("path", "track_id", "artist", "tags")
OPTIONAL = ("split", "bpm", "title", "duration", "piece")


def parse_csv(tags_path: str | os.PathLike) -> Parsed:
    """Read the CSV into records (no audio check); line-numbered :class:`DataError` on bad rows."""
    path = Path(tags_path)
    parsed = Parsed(source="csv", path=path)
    header, rows = read_csv_rows(path, REQUIRED)
    has_split = "split" in header
    for line, row in rows:
        tid = row["track_id"]
        if not tid or not row["path"]:
            raise DataError(f"{where(path, line)}: empty track_id or path")
        if tid in parsed.tracks:
            raise DataError(f"{where(path, line)}: track {tid!r} already listed on line {parsed.tracks[tid].line}")
        split = row.get("split") or None
        if has_split and split not in SPLITS:
            raise DataError(f"{where(path, line)}: split {row.get('split')!r} is not one of {SPLITS}")
        bpm = parse_float(row.get("bpm", ""), "bpm", path, line)
        if bpm == bpm and bpm <= 0:
            raise DataError(f"{where(path, line)}: bpm {row['bpm']!r} must be positive")
        artist = row["artist"] or UNKNOWN_ARTIST
        parsed.tracks[tid] = TrackRow(tid, line, artist_id=artist, artist_name=artist, title=row.get("title", ""),
                                      audio_path=row["path"], bpm=bpm, split=split, piece_id=row.get("piece", ""),
                                      duration=parse_float(row.get("duration", ""), "duration", path, line))
        for entry in row["tags"].split(";"):
            if not entry.strip():
                continue
            category, sep, tag = entry.partition(":")
            category = category.strip().lower()
            if not sep:
                raise DataError(f"{where(path, line)}: tag {entry.strip()!r} lacks a category; write category:tag "
                                f"with a category in {CATEGORIES}")
            if category not in CATEGORIES:
                raise DataError(f"{where(path, line)}: unknown category {category!r} in {entry.strip()!r}; "
                                f"use one of {CATEGORIES}")
            parsed.tags.append(make_tag(tid, tag, category, path, line))
    return parsed


def import_csv(tags_path: str | os.PathLike, audio_root: str | os.PathLike,
               splits: str | os.PathLike | None = None, seed: int = 0, skip_missing_audio: bool = False,
               log: Log = lambda message: None) -> Catalog:
    """Import a generic CSV (see the module docstring) and its audio folder into a catalog.

    Parameters
    ----------
    tags_path : path
        The CSV file.
    audio_root : path
        Folder the ``path`` column is relative to; paths may not leave it.
    splits : path, optional
        ``track_id,split`` file overriding the ``split`` column; without either,
        a seeded 70/15/15 split by artist.
    seed, skip_missing_audio, log
        As for :func:`core.importers.won_tsv.import_won`.
    """
    audio_root = Path(audio_root).expanduser()
    parsed = parse_csv(tags_path)
    added = add_tempo_tags(parsed)
    if added:
        log(f"derived {added} slow/medium/fast tempo tag(s) from the bpm column")
    check_audio(parsed, audio_root, skip_missing_audio, log)
    return assemble(parsed, read_splits(splits) if splits is not None else None, seed=seed, log=log)
