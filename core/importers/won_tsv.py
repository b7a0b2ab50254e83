"""Won et al. (2021) ``track_tags.tsv`` with an audio folder whose files are named by track id.

The TSV is headerless, tab-separated, one annotation per line::

    song_id <TAB> original_tag <TAB> cleaned_tag <TAB> tag_category <TAB> score

``cleaned_tag`` (Won et al.'s grouped tag) is normalised with
:func:`core.tags.normalize_tag` and becomes the catalog ``tag``;
``original_tag`` is kept beside it. Lines with ``score < min_score`` are
dropped (Won et al. keep scores >= 50); a track left with no tag is not imported.

Categories map onto :data:`core.catalog.CATEGORIES` by :data:`WON_CATEGORIES`
(case-insensitive). MSD500 uses ``genre``, ``mood``, ``instrument``,
``location``, ``language``, ``activity`` and ``decade``; the last two, which
have no Tagspace category, go to ``other``.

Audio: any file below the audio root whose stem is the song id (``TRXXX.mp3``,
``a/b/TRXXX.wav``, ...). Artists are unknown unless an artist file is given
(see :func:`core.importers.common.read_artists`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ..catalog import Catalog
from ..errors import DataError, ParameterError
from .common import (UNKNOWN_ARTIST, Log, Parsed, TrackRow, assemble, check_audio, index_audio_by_stem,
                     make_tag, parse_float, read_artists, read_lines, read_splits, where)

#: Won et al.'s category names (lower case) -> Tagspace category.
WON_CATEGORIES = {
    "genre": "genre", "style": "genre",
    "mood": "mood", "mood/character": "mood", "character": "mood", "mood/theme": "mood", "theme": "mood",
    "instrument": "instrument", "instruments": "instrument",
    "tempo": "tempo",
    "location": "location", "origin": "location",
    "language": "language", "language/origin": "language",
    "activity": "other", "decade": "other", "era": "other", "other": "other",
}
DEFAULT_MIN_SCORE = 50.0
N_COLUMNS = 5


def parse_won(tags_path: str | os.PathLike, min_score: float = DEFAULT_MIN_SCORE) -> Parsed:
    """Read the TSV into records (no audio lookup); line-numbered :class:`DataError` on bad lines."""
    path = Path(tags_path)
    parsed = Parsed(source="won_tsv", path=path)
    for line, text in read_lines(path):
        if not text.strip():
            continue
        fields = text.split("\t")
        if len(fields) != N_COLUMNS:
            raise DataError(f"{where(path, line)}: {len(fields)} tab-separated column(s), expected {N_COLUMNS} "
                            "(song_id, original_tag, cleaned_tag, tag_category, score)")
        song_id, original, cleaned, category, score_text = (f.strip() for f in fields)
        if not song_id:
            raise DataError(f"{where(path, line)}: empty song_id")
        score = parse_float(score_text, "score", path, line, allow_empty=False)
        if not 0 <= score <= 100:
            raise DataError(f"{where(path, line)}: score {score_text!r} is outside 0-100")
        mapped = WON_CATEGORIES.get(category.lower())
        if mapped is None:
            raise DataError(f"{where(path, line)}: unknown tag category {category!r}; known: {sorted(WON_CATEGORIES)}")
        if score < min_score:
            continue
        tag = make_tag(song_id, cleaned or original, mapped, path, line, score)
        tag.original_tag = original or cleaned
        parsed.tags.append(tag)
        parsed.tracks.setdefault(song_id, TrackRow(song_id, line))
    return parsed


def import_won(tags_path: str | os.PathLike, audio_root: str | os.PathLike, min_score: float = DEFAULT_MIN_SCORE,
               artists: str | os.PathLike | None = None, splits: str | os.PathLike | None = None, seed: int = 0,
               skip_missing_audio: bool = False, log: Log = lambda message: None) -> Catalog:
    """Import Won et al.'s ``track_tags.tsv`` and an audio folder into a catalog.

    Parameters
    ----------
    tags_path : path
        The headerless TSV (see the module docstring).
    audio_root : path
        Folder searched recursively for ``<song_id>.{wav,flac,ogg,mp3}``.
    min_score : float in [0, 100]
        Keep annotations with ``score >= min_score``.
    artists : path, optional
        ``track_id,artist_id[,artist_name]`` file; without it every artist is ``unknown``.
    splits : path, optional
        ``track_id,split`` file; without it a seeded 70/15/15 split by artist
        (tracks of unknown artist are split one by one).
    seed : int
        Seed of the split.
    skip_missing_audio : bool
        Drop tracks without audio (logged) instead of raising.
    log : callable
        Receives one-line notes.

    Returns
    -------
    Catalog
    """
    if not 0 <= min_score <= 100:
        raise ParameterError(f"min_score must be in 0-100, got {min_score}")
    audio_root = Path(audio_root).expanduser()
    parsed = parse_won(tags_path, min_score)
    if not parsed.tracks:
        raise DataError(f"{tags_path}: no annotation has score >= {min_score:g}")
    index = index_audio_by_stem(audio_root)
    artist_map = read_artists(artists) if artists is not None else {}
    for tid, track in parsed.tracks.items():
        track.audio_path = index.get(tid, "")
        track.artist_id, track.artist_name = artist_map.get(tid, (UNKNOWN_ARTIST, "unknown artist"))
    check_audio(parsed, audio_root, skip_missing_audio, log)
    return assemble(parsed, read_splits(splits) if splits is not None else None, seed=seed, log=log)
