"""MTG-Jamendo autotagging TSV (``autotagging.tsv`` and its subsets and split files).

Tab-separated with a header line; from the sixth field on, every field is one tag::

    TRACK_ID <TAB> ARTIST_ID <TAB> ALBUM_ID <TAB> PATH <TAB> DURATION <TAB> TAGS...
    track_0000214  artist_000014  album_000031  14/214.mp3  124.6  genre---punkrock  mood/theme---energetic

Tag prefixes map to categories by :data:`JAMENDO_PREFIXES`; the tag after the
prefix is normalised (the prefixed form is kept as ``original_tag``). ``PATH`` is
relative to the audio root; when it names ``x.mp3`` and only the dataset's
low-quality ``x.low.mp3`` exists, that file is used. Jamendo has no scores: every
tag gets 100.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..catalog import Catalog
from ..errors import DataError
from ..paths import confined_path
from .common import (Log, Parsed, TrackRow, assemble, check_audio, make_tag, parse_float, read_lines,
                     read_splits, where)

JAMENDO_PREFIXES = {"genre": "genre", "instrument": "instrument", "mood/theme": "mood"}
HEADER = ("TRACK_ID", "ARTIST_ID", "ALBUM_ID", "PATH", "DURATION", "TAGS")
SEPARATOR = "---"


def parse_jamendo(tags_path: str | os.PathLike) -> Parsed:
    """Read the TSV into records (no audio check); line-numbered :class:`DataError` on bad lines."""
    path = Path(tags_path)
    parsed = Parsed(source="jamendo", path=path)
    lines = read_lines(path)
    header_line = next(((n, t) for n, t in lines if t.strip()), None)
    if header_line is None:
        raise DataError(f"{path} is empty; expected the header {' '.join(HEADER)}")
    header = [h.strip().upper() for h in header_line[1].split("\t")]
    missing = [h for h in HEADER if h not in header]
    if header[: len(HEADER)] != list(HEADER):
        problem = f"missing {missing}" if missing else f"found {header[: len(HEADER)]}"
        raise DataError(f"{where(path, header_line[0])}: header must start with the tab-separated columns "
                        f"{list(HEADER)}; {problem}")
    for line, text in lines:
        if not text.strip():
            continue
        fields = [f.strip() for f in text.split("\t")]
        if len(fields) < len(HEADER):
            raise DataError(f"{where(path, line)}: {len(fields)} field(s), expected at least {len(HEADER)} "
                            "(five columns and one or more tags)")
        tid, artist, _album, rel, duration_text = fields[:5]
        if not tid or not artist or not rel:
            raise DataError(f"{where(path, line)}: empty TRACK_ID, ARTIST_ID or PATH")
        if tid in parsed.tracks:
            raise DataError(f"{where(path, line)}: track {tid!r} already listed on line {parsed.tracks[tid].line}")
        duration = parse_float(duration_text, "DURATION", path, line)
        parsed.tracks[tid] = TrackRow(tid, line, artist_id=artist, artist_name=artist, audio_path=rel,
                                      duration=duration)
        for field in fields[5:]:
            if not field:
                continue
            prefix, sep, tag = field.partition(SEPARATOR)
            if not sep or prefix not in JAMENDO_PREFIXES:
                raise DataError(f"{where(path, line)}: tag {field!r} has an unknown category; expected a prefix "
                                f"in {[p + SEPARATOR for p in JAMENDO_PREFIXES]}")
            row = make_tag(tid, tag, JAMENDO_PREFIXES[prefix], path, line)
            row.original_tag = field
            parsed.tags.append(row)
    return parsed


def _prefer_low_quality(parsed: Parsed, audio_root: Path) -> None:
    """Point ``x.mp3`` at ``x.low.mp3`` when only the low-quality download is present."""
    for track in parsed.tracks.values():
        rel = track.audio_path
        if not rel.endswith(".mp3") or rel.endswith(".low.mp3"):
            continue
        try:
            if not confined_path(audio_root, rel).is_file() and confined_path(audio_root, rel[:-4] + ".low.mp3").is_file():
                track.audio_path = rel[:-4] + ".low.mp3"
        except DataError:
            continue  # check_audio reports the escape with its line number


def import_jamendo(tags_path: str | os.PathLike, audio_root: str | os.PathLike,
                   splits: str | os.PathLike | None = None, seed: int = 0, skip_missing_audio: bool = False,
                   log: Log = lambda message: None) -> Catalog:
    """Import an MTG-Jamendo autotagging TSV and its audio folder into a catalog.

    Parameters
    ----------
    tags_path : path
        ``autotagging.tsv`` or any file of the same format.
    audio_root : path
        Folder holding the ``PATH`` entries (``00/``, ``01/``, ...).
    splits : path, optional
        ``track_id,split`` file; without it a seeded 70/15/15 split by ``ARTIST_ID``.
    seed, skip_missing_audio, log
        As for :func:`core.importers.won_tsv.import_won`.
    """
    audio_root = Path(audio_root).expanduser()
    parsed = parse_jamendo(tags_path)
    _prefer_low_quality(parsed, audio_root)
    check_audio(parsed, audio_root, skip_missing_audio, log)
    return assemble(parsed, read_splits(splits) if splits is not None else None, seed=seed, log=log)
