"""The map at 100,000 tracks: a box selection, given per trace as Streamlit reports it, maps back to the right ids."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.views.map import map_figure, map_trace_ids, selected_ids, split_selection

N_TRACKS = 100_000


def _points(n: int = N_TRACKS, seed: int = 0) -> pd.DataFrame:
    """Tracks in 13 colour groups, shuffled (so a trace's points are not contiguous rows), and five tags."""
    rng = np.random.default_rng(seed)
    labels = np.array([f"genre {i:02d}" for i in range(13)])[rng.integers(0, 13, n)]
    tracks = pd.DataFrame({"id": [f"track-{i:06d}" for i in rng.permutation(n)], "kind": "track",
                           "x": rng.normal(size=n), "y": rng.normal(size=n), "label": labels,
                           "name": [f"Song {i}" for i in range(n)], "preservation": rng.uniform(size=n)})
    tags = pd.DataFrame({"id": [f"tag:t{i}" for i in range(5)], "kind": "tag", "x": rng.normal(size=5),
                         "y": rng.normal(size=5), "label": "genre", "name": [f"t{i}" for i in range(5)],
                         "preservation": 1.0})
    return pd.concat([tracks, tags], ignore_index=True)


def _box_event(figure, x0: float, x1: float, y0: float, y1: float) -> dict:
    """What Streamlit returns for a box selection: each point inside as (curve_number, point_index) of its trace."""
    points = []
    for curve, trace in enumerate(figure.data):
        x, y = np.asarray(trace.x, dtype=float), np.asarray(trace.y, dtype=float)
        inside = np.flatnonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
        points += [{"curve_number": curve, "point_number": int(i), "point_index": int(i),
                    "x": float(x[i]), "y": float(y[i])} for i in inside]
    return {"selection": {"points": points, "box": [{"x": [x0, x1], "y": [y0, y1]}], "lasso": []}}


def test_a_box_on_a_100k_map_selects_exactly_the_tracks_inside():
    points = _points()
    figure = map_figure(points, "genre")
    trace_ids = map_trace_ids(points)
    assert sum(len(t.x) for t in figure.data) == len(points)  # every track drawn: no sampling
    assert [len(ids) for ids in trace_ids] == [len(t.x) for t in figure.data]

    box = (-0.5, 0.25, 0.1, 0.9)
    event = _box_event(figure, *box)
    tracks, tags = split_selection(selected_ids(event, trace_ids))

    x0, x1, y0, y1 = box
    inside = points[(points["kind"] == "track") & points["x"].between(x0, x1) & points["y"].between(y0, y1)]
    assert len(inside) > 1000  # a selection spanning every trace
    assert set(tracks) == set(inside["id"]) and len(tracks) == len(inside)
    expected_tags = points[(points["kind"] == "tag") & points["x"].between(x0, x1) & points["y"].between(y0, y1)]
    assert tags == [t[4:] for t in expected_tags["id"]]


def test_track_traces_carry_no_ids_and_a_stale_index_selects_nothing():
    points = _points(2_000, seed=1)
    figure = map_figure(points, "genre", highlight={"x": 0.0, "y": 0.0, "text": "jazz"})
    trace_ids = map_trace_ids(points, highlight={"x": 0.0, "y": 0.0, "text": "jazz"})
    assert all(t.customdata is None for t in figure.data if t.type == "scattergl")
    assert trace_ids[-1] == ["query"] and trace_ids[-2][0].startswith("tag:")
    # a point from a figure that no longer exists (trace or index out of range) is dropped, not misread
    event = {"selection": {"points": [{"curve_number": len(trace_ids), "point_index": 0},
                                      {"curve_number": 0, "point_index": len(trace_ids[0])},
                                      {"curve_number": 1, "point_index": 3}]}}
    assert selected_ids(event, trace_ids) == [trace_ids[1][3]]
