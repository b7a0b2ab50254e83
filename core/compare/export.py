"""A selection or a disagreement list as a table, a CSV file and an M3U playlist of the audio files."""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd

from ..errors import TagspaceError
from ..fileio import write_csv

TRACK_COLUMNS = ("track_id", "title", "artist", "tags")


def track_table(catalog, track_ids: list[str], scores: dict[str, list] | None = None) -> pd.DataFrame:
    """One row per track: ``track_id``, ``title``, ``artist``, ``tags`` (``category: tag; ...``), then ``scores``.

    Parameters
    ----------
    scores : dict of str to list, optional
        Extra columns, each one value per track (e.g. ``disagreement``).
    """
    tracks = catalog.tracks.set_index("track_id")
    artists = dict(zip(catalog.artists["artist_id"], catalog.artists["name"]))
    tags = catalog.track_tags[catalog.track_tags["track_id"].isin(set(track_ids))]
    by_track = (tags.sort_values(["category", "tag"]).assign(label=lambda f: f["category"] + ": " + f["tag"])
                .groupby("track_id")["label"].agg("; ".join).to_dict())
    frame = pd.DataFrame({
        "track_id": list(track_ids),
        "title": [tracks.at[t, "title"] if t in tracks.index else "" for t in track_ids],
        "artist": [artists.get(tracks.at[t, "artist_id"], "") if t in tracks.index else "" for t in track_ids],
        "tags": [by_track.get(t, "") for t in track_ids],
    })
    for name, values in (scores or {}).items():
        frame[name] = list(values)
    return frame


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The CSV file :func:`core.fileio.write_csv` writes (text cells safe from spreadsheet formulas), as bytes."""
    with tempfile.TemporaryDirectory() as folder:
        return write_csv(frame, Path(folder) / "export.csv").read_bytes()


def _one_line(text) -> str:
    return " ".join(str(text).split())  # a line break in a title would start a new playlist entry


def m3u_playlist(ws, frame: pd.DataFrame) -> str:
    """Extended M3U of the tracks of a :func:`track_table` (absolute paths of their audio files).

    Tracks whose audio path cannot be resolved inside the audio root are left out,
    with a comment line saying so.
    """
    durations = ws.catalog.tracks.set_index("track_id")["duration"].to_dict()
    lines = ["#EXTM3U"]
    for row in frame.itertuples():
        try:
            path = ws.audio_path(row.track_id)
        except TagspaceError as err:
            lines.append(f"# skipped {_one_line(row.track_id)}: {_one_line(err)}")
            continue
        seconds = durations.get(row.track_id, math.nan)
        seconds = int(round(seconds)) if isinstance(seconds, (int, float)) and math.isfinite(seconds) else -1
        name = " - ".join(_one_line(v) for v in (getattr(row, "artist", ""), row.title) if str(v).strip())
        lines += [f"#EXTINF:{seconds},{name or _one_line(row.track_id)}", str(path)]
    return "\n".join(lines) + "\n"
