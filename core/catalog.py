"""The catalog: tracks, artists, tags with categories, and the train/valid/test split.

A catalog is three tables held as pandas DataFrames and stored as Parquet files:

``tracks``
    ``track_id`` (str, unique), ``artist_id`` (str), ``title`` (str),
    ``audio_path`` (str, relative to the workspace's audio root), ``duration``
    (float, seconds; NaN if unknown), ``split`` (``train``/``valid``/``test``),
    ``bpm`` (float, NaN if unknown), ``source`` (str, e.g. ``demo``, ``won_tsv``),
    ``piece_id`` (str: the piece or recording the clip was cut from; clips that share
    it are never each other's relevant results in evaluation; a catalog without the
    column gets each track as its own piece).
``artists``
    ``artist_id`` (str, unique), ``name`` (str).
``track_tags``
    ``track_id``, ``tag`` (normalised), ``original_tag`` (as found in the source),
    ``category`` (one of :data:`CATEGORIES`), ``score`` (float, 0-100).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import DataError, ParameterError

#: Categories a tag can belong to. The first four are Lee et al.'s similarity
#: dimensions; the others appear in the Won et al. (MSD500) tag file.
CATEGORIES = ("genre", "mood", "instrument", "tempo", "location", "language", "other")
SIMILARITY_DIMENSIONS = ("genre", "mood", "instrument", "tempo")
SPLITS = ("train", "valid", "test")

TRACK_COLUMNS = {
    "track_id": str, "artist_id": str, "title": str, "audio_path": str,
    "duration": float, "split": str, "bpm": float, "source": str, "piece_id": str,
}
ARTIST_COLUMNS = {"artist_id": str, "name": str}
TAG_COLUMNS = {"track_id": str, "tag": str, "original_tag": str, "category": str, "score": float}

_FILES = {"tracks": "tracks.parquet", "artists": "artists.parquet", "track_tags": "track_tags.parquet"}


def _typed(frame: pd.DataFrame, columns: dict, table: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"catalog table {table!r} lacks column(s) {missing}")
    out = frame[list(columns)].copy()
    for name, kind in columns.items():
        out[name] = out[name].astype(float) if kind is float else out[name].astype(str)
    return out.reset_index(drop=True)


def _with_pieces(tracks: pd.DataFrame) -> pd.DataFrame:
    """Tracks with a ``piece_id``: a missing column or an empty value means the track is its own piece."""
    tracks = tracks.copy()
    if "piece_id" not in tracks.columns:
        tracks["piece_id"] = tracks["track_id"] if "track_id" in tracks.columns else []
    piece = tracks["piece_id"]
    empty = piece.isna() | (piece.astype(str).str.strip() == "")
    tracks.loc[empty, "piece_id"] = tracks.loc[empty, "track_id"]
    return tracks


@dataclass
class Catalog:
    """Tracks, artists and tags of one workspace. See the module docstring."""

    tracks: pd.DataFrame
    artists: pd.DataFrame
    track_tags: pd.DataFrame

    def __post_init__(self) -> None:
        self.tracks = _typed(_with_pieces(self.tracks), TRACK_COLUMNS, "tracks")
        self.artists = _typed(self.artists, ARTIST_COLUMNS, "artists")
        # row order of tags carries no meaning: keep one canonical order so equal catalogs
        # have equal fingerprints however they were assembled
        self.track_tags = (_typed(self.track_tags, TAG_COLUMNS, "track_tags")
                           .sort_values(["track_id", "category", "tag"], kind="stable").reset_index(drop=True))
        self.validate()

    # ------------------------------------------------------------------ checks
    def validate(self) -> None:
        """Raise :class:`DataError` if the tables are inconsistent."""
        dup = self.tracks["track_id"][self.tracks["track_id"].duplicated()]
        if len(dup):
            raise DataError(f"duplicate track ids in catalog: {sorted(set(dup))[:5]}")
        bad_split = set(self.tracks["split"]) - set(SPLITS)
        if bad_split:
            raise DataError(f"unknown split(s) {sorted(bad_split)}; use one of {SPLITS}")
        bad_cat = set(self.track_tags["category"]) - set(CATEGORIES)
        if bad_cat:
            raise DataError(f"unknown tag categories {sorted(bad_cat)}; use one of {CATEGORIES}")
        unknown = set(self.track_tags["track_id"]) - set(self.tracks["track_id"])
        if unknown:
            raise DataError(f"tags refer to unknown track ids: {sorted(unknown)[:5]}")
        no_artist = set(self.tracks["artist_id"]) - set(self.artists["artist_id"])
        if no_artist:
            raise DataError(f"tracks refer to unknown artist ids: {sorted(no_artist)[:5]}")
        # one category per tag keeps tag vocabularies unambiguous
        per_tag = self.track_tags.groupby("tag")["category"].nunique()
        if (per_tag > 1).any():
            raise DataError(f"tags in more than one category: {list(per_tag[per_tag > 1].index[:5])}")

    # ------------------------------------------------------------------ access
    @property
    def track_ids(self) -> list[str]:
        return self.tracks["track_id"].tolist()

    def categories(self) -> list[str]:
        """Categories that have at least one tag, in :data:`CATEGORIES` order."""
        used = set(self.track_tags["category"])
        return [c for c in CATEGORIES if c in used]

    def tags(self, category: str | None = None) -> list[str]:
        """Sorted distinct tags, optionally of one category."""
        frame = self.track_tags
        if category is not None:
            if category not in CATEGORIES:
                raise ParameterError(f"unknown category {category!r}; use one of {CATEGORIES}")
            frame = frame[frame["category"] == category]
        return sorted(frame["tag"].unique().tolist())

    def tag_categories(self) -> dict[str, str]:
        """Map each tag to its category."""
        pairs = self.track_tags[["tag", "category"]].drop_duplicates()
        return dict(zip(pairs["tag"], pairs["category"]))

    def split_ids(self, split: str) -> list[str]:
        if split not in SPLITS:
            raise ParameterError(f"unknown split {split!r}; use one of {SPLITS}")
        return self.tracks.loc[self.tracks["split"] == split, "track_id"].tolist()

    def train_valid_ids(self, purpose: str) -> tuple[list[str], list[str]]:
        """Train and valid track ids; :class:`DataError` naming ``purpose`` if either split is empty."""
        train_ids, valid_ids = self.split_ids("train"), self.split_ids("valid")
        if not train_ids or not valid_ids:
            raise DataError(f"the catalog needs train and valid tracks to {purpose}")
        return train_ids, valid_ids

    def piece_ids(self, track_ids: list[str]) -> np.ndarray:
        """The ``piece_id`` of each track (object array, in the order given)."""
        return self.tracks.set_index("track_id")["piece_id"].reindex(list(track_ids)).to_numpy()

    def tags_of(self, track_id: str) -> dict[str, list[str]]:
        """Tags of one track grouped by category."""
        rows = self.track_tags[self.track_tags["track_id"] == track_id]
        return {cat: sorted(g["tag"].tolist()) for cat, g in rows.groupby("category")}

    def tag_matrix(self, track_ids: list[str] | None = None, tags: list[str] | None = None) -> np.ndarray:
        """Binary (n_tracks, n_tags) float32 matrix; rows follow ``track_ids``, columns ``tags``."""
        track_ids = self.track_ids if track_ids is None else list(track_ids)
        tags = self.tags() if tags is None else list(tags)
        row = {t: i for i, t in enumerate(track_ids)}
        col = {t: j for j, t in enumerate(tags)}
        out = np.zeros((len(track_ids), len(tags)), dtype=np.float32)
        for tid, tag in zip(self.track_tags["track_id"], self.track_tags["tag"]):
            i, j = row.get(tid), col.get(tag)
            if i is not None and j is not None:
                out[i, j] = 1.0
        return out

    def tracks_with_all_categories(self, categories: list[str] | None = None) -> int:
        """Number of tracks having at least one tag in every category used."""
        categories = self.categories() if categories is None else categories
        if not categories:
            return 0
        per_track = self.track_tags.groupby("track_id")["category"].agg(set)
        need = set(categories)
        return int(sum(need <= cats for cats in per_track))

    def fingerprint(self) -> str:
        """Hash of the catalog content; caches derived from it are keyed by this."""
        h = hashlib.sha256()
        for name in _FILES:
            frame = getattr(self, name)
            h.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
        return h.hexdigest()[:16]

    # -------------------------------------------------------------- save/load
    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        for name, filename in _FILES.items():
            tmp = directory / (filename + ".tmp")
            getattr(self, name).to_parquet(tmp, index=False)
            tmp.replace(directory / filename)  # atomic: never a half-written catalog

    @classmethod
    def load(cls, directory: str | Path) -> "Catalog":
        directory = Path(directory)
        tables = {}
        for name, filename in _FILES.items():
            path = directory / filename
            if not path.exists():
                raise DataError(f"catalog file missing: {path}. Run `python -m core import` or `build-demo`.")
            try:
                tables[name] = pd.read_parquet(path)
            except Exception as err:  # pyarrow raises several types for damaged files
                raise DataError(f"{path}: not a readable Parquet table ({err})") from err
        try:
            return cls(**tables)
        except DataError as err:
            raise DataError(f"{directory}: {err}") from err

    @classmethod
    def empty(cls) -> "Catalog":
        return cls(pd.DataFrame(columns=list(TRACK_COLUMNS)), pd.DataFrame(columns=list(ARTIST_COLUMNS)),
                   pd.DataFrame(columns=list(TAG_COLUMNS)))
