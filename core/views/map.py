"""The joint tag/audio map: point frames, colouring, the plotly figure and selections.

The figure must be identical from rerun to rerun (same data, same order) or
Streamlit resets the selection, so everything here is deterministic.
"""

from __future__ import annotations

import numpy as np
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
        return tracks["artist_id"].reindex(track_ids).map(names).fillna("?").tolist()
    if color_by == "split":
        return tracks["split"].reindex(track_ids).tolist()
    category = "genre" if color_by == "category" else color_by
    tags = catalog.track_tags[catalog.track_tags["category"] == category]
    if category == "tempo":  # the coarse class reads better than exact BPM
        coarse = tags[tags["tag"].isin(["slow", "medium", "fast"])]
        tags = coarse if len(coarse) else tags
    first = tags.sort_values("tag").groupby("track_id")["tag"].first()
    return first.reindex(track_ids).fillna("(none)").tolist()


def _track_groups(points: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The track points by colour label, in trace order (labels sorted): one WebGL trace each."""
    tracks = points[points["kind"] == "track"]
    return [(str(label), group) for label, group in tracks.groupby("label", sort=True)]


def map_figure(points: pd.DataFrame, color_by: str, highlight: dict | None = None,
               shade_preservation: bool = False, show_tags: bool = True) -> go.Figure:
    """Scatter of tracks (coloured, WebGL) and tags (labelled markers) in one 2-D space.

    Track traces carry no ids (at 100,000 points they would double what the browser
    receives): a selection's (trace, point index) pairs are mapped back to ids with
    :func:`map_trace_ids`. Tags and the query star carry theirs in ``customdata``.

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
    show_tags : bool
        Draw the tag points (one trace after the track traces).
    """
    fig = go.Figure()
    for label, group in _track_groups(points):
        opacity = (0.15 + 0.85 * group["preservation"].to_numpy()) if shade_preservation else 0.85
        fig.add_trace(go.Scattergl(
            x=group["x"].to_numpy(np.float32), y=group["y"].to_numpy(np.float32), mode="markers", name=label,
            marker={"size": 8 if len(points) <= 20_000 else 4, "opacity": opacity},
            text=group["name"].to_numpy(),
            hovertemplate="%{text}<extra>" + label + "</extra>",
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


def map_trace_ids(points: pd.DataFrame, highlight: dict | None = None, show_tags: bool = True) -> list[list[str]]:
    """The ids of each trace of :func:`map_figure` (same arguments), point by point.

    Streamlit's plotly selection gives each point as (``curve_number``, ``point_index``):
    the trace and the point's position within that trace. ``map_trace_ids(...)[c][i]``
    is that point's id.
    """
    ids = [group["id"].tolist() for _, group in _track_groups(points)]
    tags = points[points["kind"] == "tag"]
    if show_tags and len(tags):
        ids.append(tags["id"].tolist())
    if highlight:
        ids.append(["query"])
    return ids


def selected_ids(event, trace_ids: list[list[str]] | None = None) -> list[str]:
    """Ids of the points selected in a ``st.plotly_chart(on_select="rerun")`` event.

    Point indices are per trace: with ``trace_ids`` (:func:`map_trace_ids`) a point's
    (``curve_number``, ``point_index``) gives its id; a point without them (or without
    ``trace_ids``) is read from its ``customdata`` (tags as ``tag:<tag>``, the query star
    as ``query``). Order kept, duplicates dropped; a point that names no known id is skipped.
    """
    if not event:
        return []
    selection = event.get("selection", event) if isinstance(event, dict) else getattr(event, "selection", {})
    points = selection.get("points", []) if isinstance(selection, dict) else getattr(selection, "points", [])
    ids: dict[str, None] = {}
    for p in points:
        value = _point_id(p, trace_ids)
        if isinstance(value, str):
            ids.setdefault(value)
    return list(ids)


def _point_id(point: dict, trace_ids: list[list[str]] | None):
    curve, index = point.get("curve_number"), point.get("point_index")
    if trace_ids is not None and isinstance(curve, int) and isinstance(index, int):
        if 0 <= curve < len(trace_ids) and 0 <= index < len(trace_ids[curve]):
            return trace_ids[curve][index]
        return None
    cd = point.get("customdata")
    return cd[0] if isinstance(cd, (list, tuple)) else cd


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
