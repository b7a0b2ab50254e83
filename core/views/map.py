"""The joint tag/audio map: point frames, colouring, the plotly figure and selections.

The figure must be identical from rerun to rerun (same data, same order) or
Streamlit resets the selection, so everything here is deterministic.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..catalog import Catalog
from ..errors import ParameterError

COLOR_BY = ("genre", "mood", "instrument", "tempo", "artist", "split", "category")


def track_labels(catalog: Catalog, track_ids: list[str], color_by: str) -> list[str]:
    """One colour label per track: its first tag of a category, its artist, or its split."""
    if color_by not in COLOR_BY:
        raise ParameterError(f"cannot colour by {color_by!r}; choose one of {COLOR_BY}")
    tracks = catalog.tracks.set_index("track_id")
    if color_by == "artist":
        names = dict(zip(catalog.artists["artist_id"], catalog.artists["name"]))
        return [names.get(tracks.at[t, "artist_id"], "?") for t in track_ids]
    if color_by == "split":
        return [tracks.at[t, "split"] for t in track_ids]
    category = "genre" if color_by == "category" else color_by
    tags = catalog.track_tags[catalog.track_tags["category"] == category]
    if category == "tempo":  # the coarse class reads better than exact BPM
        coarse = tags[tags["tag"].isin(["slow", "medium", "fast"])]
        tags = coarse if len(coarse) else tags
    first = tags.sort_values("tag").groupby("track_id")["tag"].first()
    return [first.get(t, "(none)") for t in track_ids]


def map_figure(points: pd.DataFrame, color_by: str, highlight: dict | None = None,
               shade_preservation: bool = False, show_tags: bool = True) -> go.Figure:
    """Scatter of tracks (coloured) and tags (labelled markers) in one 2-D space.

    Parameters
    ----------
    points : DataFrame
        Columns ``id``, ``kind`` (``track``/``tag``), ``x``, ``y``, ``label`` (colour
        label for tracks, category for tags), ``name`` (hover text) and
        ``preservation`` (0-1 neighbourhood-preservation score).
    color_by : str
        Legend title.
    highlight : dict, optional
        ``{"x": float, "y": float, "text": str}``: a query word's landing point.
    shade_preservation : bool
        Make poorly preserved points transparent, so the map shows where it misleads.
    """
    fig = go.Figure()
    tracks = points[points["kind"] == "track"]
    for label in sorted(tracks["label"].unique()):
        group = tracks[tracks["label"] == label]
        opacity = (0.15 + 0.85 * group["preservation"].to_numpy()) if shade_preservation else 0.85
        fig.add_trace(go.Scattergl(
            x=group["x"], y=group["y"], mode="markers", name=str(label),
            marker={"size": 8, "opacity": opacity},
            customdata=group["id"], text=group["name"],
            hovertemplate="%{text}<br>%{customdata}<extra>" + str(label) + "</extra>",
        ))
    tags = points[points["kind"] == "tag"]
    if show_tags and len(tags):
        fig.add_trace(go.Scatter(
            x=tags["x"], y=tags["y"], mode="markers+text", name="tags",
            marker={"symbol": "diamond", "size": 9, "color": "black"},
            text=tags["name"], textposition="top center", textfont={"size": 10},
            customdata=tags["id"], hovertemplate="tag %{text}<extra></extra>",
        ))
    if highlight:
        fig.add_trace(go.Scatter(
            x=[highlight["x"]], y=[highlight["y"]], mode="markers+text", name="query",
            marker={"symbol": "star", "size": 22, "color": "red", "line": {"width": 1, "color": "white"}},
            text=[highlight["text"]], textposition="bottom center", customdata=["query"],
        ))
    fig.update_layout(
        dragmode="select", clickmode="event+select", height=640, legend_title_text=color_by,
        margin={"l": 10, "r": 10, "t": 30, "b": 10}, uirevision="map",
        xaxis={"showticklabels": False, "title": None}, yaxis={"showticklabels": False, "title": None},
    )
    return fig


def selected_ids(event) -> list[str]:
    """Ids of the points selected in a ``st.plotly_chart(on_select="rerun")`` event.

    Point indices are per trace, so ids travel in ``customdata`` (tags as
    ``tag:<tag>``, the query star as ``query``); order kept, duplicates dropped.
    """
    if not event:
        return []
    selection = event.get("selection", event) if isinstance(event, dict) else getattr(event, "selection", {})
    points = selection.get("points", []) if isinstance(selection, dict) else getattr(selection, "points", [])
    ids = []
    for p in points:
        cd = p.get("customdata")
        value = cd[0] if isinstance(cd, (list, tuple)) else cd
        if isinstance(value, str) and value not in ids:
            ids.append(value)
    return ids


def map_points(projection_frame: pd.DataFrame, catalog: Catalog, color_by: str) -> pd.DataFrame:
    """Points for :func:`map_figure` from a projection's frame (``id, kind, category, x, y, preservation``).

    Tag points get the id ``tag:<tag>`` so a selection can tell them from tracks.
    """
    frame = projection_frame.copy()
    is_track = frame["kind"] == "track"
    track_ids = frame.loc[is_track, "id"].tolist()
    titles = dict(zip(catalog.tracks["track_id"], catalog.tracks["title"]))
    frame["label"] = ""
    frame.loc[is_track, "label"] = track_labels(catalog, track_ids, color_by)
    frame.loc[~is_track, "label"] = frame.loc[~is_track, "category"].fillna("tag")
    frame["name"] = frame["id"]
    frame.loc[is_track, "name"] = [titles.get(t, t) for t in track_ids]
    frame.loc[~is_track, "id"] = "tag:" + frame.loc[~is_track, "id"]
    return frame[["id", "kind", "x", "y", "label", "name", "preservation"]].reset_index(drop=True)


def split_selection(ids: list[str]) -> tuple[list[str], list[str]]:
    """Selected ids as (track ids, tags)."""
    tracks = [i for i in ids if not i.startswith("tag:") and i != "query"]
    tags = [i[4:] for i in ids if i.startswith("tag:")]
    return tracks, tags
