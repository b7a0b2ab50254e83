"""Two maps with one selection: the points both maps show, and each map's figure with the selection ringed.

A box or lasso on either map selects tracks; both maps then draw the same tracks
ringed, so the selection made in one model's map is seen in the other's. The
figures stay identical from rerun to rerun for one selection (Streamlit keeps a
chart's selection only while its figure is unchanged), and the selection itself
lives in the page's session, carried by track ids (``customdata``), never by
point indices, which plotly counts per trace.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..views.map import map_figure, map_trace_ids

#: Name of the trace that rings the selected tracks.
SELECTION_TRACE = "selected"


def shared_track_points(points_a: pd.DataFrame, points_b: pd.DataFrame, max_points: int | None = None,
                        seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The track points of both maps, restricted to the tracks both show (the same sample on both).

    Parameters
    ----------
    points_a, points_b : DataFrame
        :func:`core.views.map.map_points` frames (tag points are dropped).
    max_points : int, optional
        Keep at most this many tracks, drawn with ``seed`` (the same on both maps).
    """
    tracks_a = points_a[points_a["kind"] == "track"]
    tracks_b = points_b[points_b["kind"] == "track"]
    shared = sorted(set(tracks_a["id"]) & set(tracks_b["id"]))
    if max_points is not None and len(shared) > max_points:
        keep = np.sort(np.random.default_rng(seed).choice(len(shared), size=max_points, replace=False))
        shared = [shared[i] for i in keep]
    wanted = set(shared)
    return (tracks_a[tracks_a["id"].isin(wanted)].reset_index(drop=True),
            tracks_b[tracks_b["id"].isin(wanted)].reset_index(drop=True))


def linked_map_figure(points: pd.DataFrame, color_by: str, selected: list[str], title: str,
                      height: int = 480) -> go.Figure:
    """One model's map (:func:`core.views.map.map_figure`, tracks only) with ``selected`` tracks ringed."""
    fig = map_figure(points, color_by, show_tags=False)
    chosen = points[points["id"].isin(set(selected))]
    if len(chosen):
        fig.add_trace(go.Scattergl(
            x=chosen["x"], y=chosen["y"], mode="markers", name=SELECTION_TRACE,
            marker={"size": 14, "symbol": "circle-open", "color": "black", "line": {"width": 2}},
            customdata=chosen["id"], text=chosen["name"],
            hovertemplate="%{text}<br>%{customdata}<extra>selected</extra>"))
    fig.update_layout(height=height, title={"text": title, "x": 0.01}, showlegend=False,
                      margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def linked_map_trace_ids(points: pd.DataFrame, selected: list[str]) -> list[list[str]]:
    """The ids of each trace of :func:`linked_map_figure` (same arguments), point by point.

    A selection event names points by (trace, index within the trace): see
    :func:`core.views.map.map_trace_ids` and :func:`core.views.map.selected_ids`.
    """
    ids = map_trace_ids(points, show_tags=False)
    chosen = points[points["id"].isin(set(selected))]
    if len(chosen):
        ids.append(chosen["id"].tolist())
    return ids
