"""What the importers share: line-numbered errors, audio lookup, splits, tempo tags, assembly.

Every importer parses its source into :class:`TrackRow` and :class:`TagRow`
records (each remembering the line it came from) and hands them to
:func:`assemble`, which checks them across lines and builds the
:class:`~core.catalog.Catalog`.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from ..audio import AUDIO_EXTENSIONS, audio_duration
from ..catalog import SPLITS, Catalog
from ..errors import AudioError, DataError, ParameterError
from ..paths import confined_path
from ..tags import normalize_tag, tempo_class

#: Artist id given to tracks whose artist the source does not name.
UNKNOWN_ARTIST = "unknown"
#: Fractions of artists in train / valid / test (Won et al.: 70/15/15 by artist).
SPLIT_FRACTIONS = (0.70, 0.15, 0.15)

#: Longest line a tag, split or artist file may have (bytes).
MAX_LINE_BYTES = 1 << 16

Log = Callable[[str], None]


def where(path: str | os.PathLike, line: int | None) -> str:
    """``file:line`` prefix of an error message."""
    return f"{path}:{line}" if line is not None else str(path)


@dataclass
class TrackRow:
    """One track as parsed from a source; ``line`` is where it first appeared."""

    track_id: str
    line: int
    artist_id: str = UNKNOWN_ARTIST
    artist_name: str = ""
    title: str = ""
    audio_path: str = ""  # relative to the audio root
    duration: float = math.nan
    bpm: float = math.nan
    split: str | None = None
    piece_id: str = ""  # the source piece/recording; "" = the track itself


@dataclass
class TagRow:
    track_id: str
    tag: str  # normalised
    original_tag: str
    category: str
    line: int
    score: float = 100.0


@dataclass
class Parsed:
    """Everything an importer read from its source."""

    source: str  # catalog ``source`` value, e.g. "won_tsv"
    path: Path  # the tag file, for messages
    tracks: dict[str, TrackRow] = field(default_factory=dict)
    tags: list[TagRow] = field(default_factory=list)


def read_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, text without the line break)`` for each line of a UTF-8 text file.

    A line longer than :data:`MAX_LINE_BYTES` is an error (read no further: a binary
    file or a file without line breaks is never held in memory whole).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"file not found: {path}")
    with open(path, "rb") as f:
        for number, raw in enumerate(iter(lambda: f.readline(MAX_LINE_BYTES + 1), b""), start=1):
            if len(raw) > MAX_LINE_BYTES:
                raise DataError(f"{where(path, number)}: line longer than {MAX_LINE_BYTES:,} bytes; "
                                "is this really a tag file?")
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as err:
                raise DataError(f"{where(path, number)}: not valid UTF-8 ({err.reason}); save the file as UTF-8") from err
            yield number, text.rstrip("\r\n")


def read_csv_rows(path: str | os.PathLike, required: tuple[str, ...]) -> tuple[list[str], Iterator[tuple[int, dict]]]:
    """Header and ``(line, row dict)`` pairs of a CSV file with a header row.

    Column names are matched case-insensitively after stripping spaces.

    Raises
    ------
    DataError
        If the file is missing, empty or lacks one of the ``required`` columns.
    """
    path = Path(path)
    lines = (text + "\n" for _, text in read_lines(path))
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise DataError(f"{path} is empty; expected a header row with columns {list(required)}") from None
    except csv.Error as err:
        raise DataError(f"{where(path, 1)}: not a CSV header ({err})") from None
    missing = [c for c in required if c not in header]
    if missing:
        found = header if len(header) <= 20 else header[:20] + [f"... {len(header)} columns"]
        raise DataError(f"{where(path, 1)}: missing column(s) {missing}; the header must name {list(required)} "
                        f"(found {found})")

    def rows() -> Iterator[tuple[int, dict]]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as err:
                raise DataError(f"{where(path, reader.line_num)}: not a CSV row ({err})") from None
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                raise DataError(f"{where(path, line)}: {len(values)} fields, the header has {len(header)}")
            yield line, {h: v.strip() for h, v in zip(header, values)}

    return header, rows()


def parse_float(text: str, what: str, path: Path, line: int, allow_empty: bool = True) -> float:
    """``float(text)``, NaN for an empty field, or a line-numbered :class:`DataError`."""
    if text.strip() == "" and allow_empty:
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise DataError(f"{where(path, line)}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise DataError(f"{where(path, line)}: {what} {text!r} is not a finite number")
    return value


def make_tag(track_id: str, raw_tag: str, category: str, path: Path, line: int, score: float = 100.0) -> TagRow:
    """A :class:`TagRow` with the tag normalised (line-numbered error if nothing is left)."""
    try:
        tag = normalize_tag(raw_tag)
    except ParameterError as err:
        raise DataError(f"{where(path, line)}: {err}") from None
    return TagRow(track_id, tag, raw_tag.strip(), category, line, score)


# ----------------------------------------------------------------- audio files
def check_audio(parsed: Parsed, audio_root: Path, skip_missing: bool = False,
                log: Log = lambda message: None) -> None:
    """Check every track's audio file and fill unknown durations from the file header.

    Tracks whose audio is missing or undecodable raise a line-numbered
    :class:`DataError`, or are dropped (and logged) if ``skip_missing``. A path
    escaping the audio root is always an error, never skipped.
    """
    missing = []
    for tid, track in list(parsed.tracks.items()):
        if not track.audio_path:
            message = (f"{where(parsed.path, track.line)}: no audio file named {tid!r} with an extension "
                       f"in {AUDIO_EXTENSIONS} under {audio_root}")
        else:
            try:
                full = confined_path(audio_root, track.audio_path)
            except DataError as err:
                raise DataError(f"{where(parsed.path, track.line)}: {err}") from None
            if full.is_file():
                # store the normalised relative form ("./a/../b.wav" -> "b.wav")
                track.audio_path = full.relative_to(audio_root.resolve()).as_posix()
                if math.isfinite(track.duration):
                    continue
                try:  # reads the header only (well under 1 ms a file)
                    track.duration = audio_duration(full)
                    continue
                except AudioError as err:
                    message = f"{where(parsed.path, track.line)}: {err}"
            else:
                message = (f"{where(parsed.path, track.line)}: audio file {track.audio_path!r} "
                           f"not found under {audio_root}")
        if not skip_missing:
            raise DataError(message + " (pass --skip-missing-audio to import the other tracks)")
        missing.append(tid)
    for tid in missing:
        del parsed.tracks[tid]
    if missing:
        log(f"skipped {len(missing)} track(s) without readable audio, e.g. {missing[:3]}")


def index_audio_by_stem(audio_root: Path) -> dict[str, str]:
    """Map file stem -> path relative to ``audio_root`` for every supported audio file below it.

    When one stem has several extensions the first in
    :data:`core.audio.AUDIO_EXTENSIONS` order wins (lossless before lossy).

    Raises
    ------
    DataError
        If the root is not a directory, or one stem with the same extension lies
        in two folders (the track id would be ambiguous).
    """
    if not audio_root.is_dir():
        raise DataError(f"audio root {audio_root} is not a directory")
    rank = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}
    found: dict[str, tuple[int, str]] = {}
    for folder, _, files in os.walk(audio_root):
        for name in files:
            stem, ext = os.path.splitext(name)
            if ext.lower() not in rank:
                continue
            rel = os.path.relpath(os.path.join(folder, name), audio_root)
            key = (rank[ext.lower()], rel)
            if stem in found and found[stem][0] == key[0]:
                raise DataError(f"audio files {found[stem][1]!r} and {rel!r} both match track id {stem!r}; "
                                "keep one of them")
            if stem not in found or key < found[stem]:
                found[stem] = key
    return {stem: rel for stem, (_, rel) in found.items()}


# ---------------------------------------------------------------------- splits
def read_mapping(path: str | os.PathLike, what: str, n_values: tuple[int, int]) -> dict[str, tuple[int, list[str]]]:
    """Read a two-or-more-column file (tab- or comma-separated, optional header ``track_id,...``).

    Returns track id -> (line, remaining fields). ``n_values`` bounds the number of fields after the id.
    """
    path = Path(path)
    out: dict[str, tuple[int, list[str]]] = {}
    for line, text in read_lines(path):
        if not text.strip():
            continue
        fields = [f.strip() for f in (text.split("\t") if "\t" in text else next(csv.reader([text])))]
        if line == 1 and fields[0].lower() == "track_id":
            continue
        values = fields[1:]
        if not n_values[0] <= len(values) <= n_values[1]:
            raise DataError(f"{where(path, line)}: expected track_id and {n_values[0]}-{n_values[1]} "
                            f"{what} field(s), found {len(fields)} field(s)")
        if fields[0] in out:
            raise DataError(f"{where(path, line)}: track {fields[0]!r} listed twice (first on line {out[fields[0]][0]})")
        out[fields[0]] = (line, values)
    if not out:
        raise DataError(f"{path}: empty; expected lines of track_id and {what}")
    return out


def read_splits(path: str | os.PathLike) -> dict[str, str]:
    """Track id -> split from a ``track_id,split`` file (split one of train/valid/test)."""
    out = {}
    for tid, (line, (split,)) in read_mapping(path, "split", (1, 1)).items():
        if split not in SPLITS:
            raise DataError(f"{where(path, line)}: unknown split {split!r}; use one of {SPLITS}")
        out[tid] = split
    return out


def read_artists(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """Track id -> (artist id, artist name) from a ``track_id,artist_id[,artist_name]`` file."""
    out = {}
    for tid, (line, values) in read_mapping(path, "artist", (1, 2)).items():
        if not values[0]:
            raise DataError(f"{where(path, line)}: empty artist id")
        out[tid] = (values[0], values[1] if len(values) > 1 and values[1] else values[0])
    return out


def split_by_artist(track_artists: dict[str, str], seed: int = 0,
                    fractions: tuple[float, float, float] = SPLIT_FRACTIONS) -> dict[str, str]:
    """Seeded train/valid/test split in which no artist spans two splits.

    Artists are shuffled and cut 70/15/15 (Won et al.). Tracks of the
    unknown artist are split one by one, since they share no known artist.

    Parameters
    ----------
    track_artists : dict
        Track id -> artist id.
    seed : int
        Same seed and same input, same split.

    Returns
    -------
    dict
        Track id -> ``"train"`` | ``"valid"`` | ``"test"``.
    """
    units: dict[str, list[str]] = {}
    for tid, artist in sorted(track_artists.items()):
        units.setdefault(f"track:{tid}" if artist == UNKNOWN_ARTIST else f"artist:{artist}", []).append(tid)
    keys = sorted(units)
    np.random.default_rng(seed).shuffle(keys)
    n = len(keys)
    n_train = int(round(fractions[0] * n))
    n_valid = int(round(fractions[1] * n))
    out = {}
    for i, key in enumerate(keys):
        split = "train" if i < n_train else "valid" if i < n_train + n_valid else "test"
        for tid in units[key]:
            out[tid] = split
    return out


# ------------------------------------------------------------------- assembly
def add_tempo_tags(parsed: Parsed) -> int:
    """Add ``slow``/``medium``/``fast`` tempo tags from known BPMs, if the source has no tempo tags.

    Derived tags are added only when the source gives no tempo-category tag at
    all, so a source's own tempo vocabulary is never mixed with the derived one.

    Returns
    -------
    int
        Number of tags added.
    """
    if any(t.category == "tempo" for t in parsed.tags):
        return 0
    added = 0
    for track in parsed.tracks.values():
        if math.isfinite(track.bpm) and track.bpm > 0:
            parsed.tags.append(TagRow(track.track_id, tempo_class(track.bpm), f"{track.bpm:g} bpm",
                                      "tempo", track.line))
            added += 1
    return added


def assemble(parsed: Parsed, splits: dict[str, str] | None = None, seed: int = 0,
             log: Log = lambda message: None) -> Catalog:
    """Check the parsed records across lines and build the catalog.

    Parameters
    ----------
    parsed : Parsed
    splits : dict, optional
        Track id -> split (e.g. from :func:`read_splits`); tracks it does not
        list are dropped (and counted in the log). Default: each track's own
        ``split`` if the source gave one for every track, else :func:`split_by_artist`.
    seed : int
        Seed of the by-artist split.
    log : callable
        Receives one-line notes (what was dropped or derived).
    """
    path = parsed.path
    if not parsed.tracks:
        raise DataError(f"{path}: no tracks to import")
    first_category: dict[str, TagRow] = {}
    for row in parsed.tags:
        seen = first_category.setdefault(row.tag, row)
        if seen.category != row.category:
            raise DataError(f"{where(path, row.line)}: tag {row.tag!r} has category {row.category!r}, but line "
                            f"{seen.line} gave it {seen.category!r}; a tag must have one category")
    tracks = parsed.tracks
    if splits is not None:
        kept = {tid: t for tid, t in tracks.items() if tid in splits}
        if len(kept) < len(tracks):
            log(f"dropped {len(tracks) - len(kept)} track(s) not listed in the split file")
        if not kept:
            raise DataError(f"{path}: no track is listed in the split file; check that the track ids match")
        tracks = kept
        assignment = {tid: splits[tid] for tid in tracks}
    elif all(t.split for t in tracks.values()):
        assignment = {tid: t.split for tid, t in tracks.items()}
    else:
        assignment = split_by_artist({tid: t.artist_id for tid, t in tracks.items()}, seed=seed)

    track_frame = pd.DataFrame([{
        "track_id": t.track_id, "artist_id": t.artist_id, "title": t.title or t.track_id,
        "audio_path": t.audio_path, "duration": t.duration, "split": assignment[t.track_id],
        "bpm": t.bpm, "source": parsed.source, "piece_id": t.piece_id} for t in tracks.values()])
    artists: dict[str, str] = {}
    for t in tracks.values():
        artists.setdefault(t.artist_id, t.artist_name or t.artist_id)
    artist_frame = pd.DataFrame({"artist_id": list(artists), "name": list(artists.values())})
    best: dict[tuple[str, str], TagRow] = {}
    for row in parsed.tags:
        if row.track_id in tracks:
            key = (row.track_id, row.tag)
            if key not in best or row.score > best[key].score:
                best[key] = row
    tag_frame = pd.DataFrame([{"track_id": r.track_id, "tag": r.tag, "original_tag": r.original_tag,
                               "category": r.category, "score": r.score} for r in best.values()],
                             columns=["track_id", "tag", "original_tag", "category", "score"])
    return Catalog(track_frame, artist_frame, tag_frame)
