"""Triplets (anchor, x, y) on which two models make opposite similarity judgements.

For an anchor track, ``x`` is one of its k nearest neighbours in A that B does
not count among its k nearest, ``y`` one of B's that A does not: A judges the
anchor closer to x (``margin_a = sim_A(anchor, x) - sim_A(anchor, y) > 0``), B
closer to y (``margin_b < 0``). Ties (a zero margin) are dropped. Each triplet's
``strength`` is the product of the two margins, each divided by the standard
deviation of that model's margins over all candidate triplets found (so a
cosine model and an inner-product model weigh alike): strong triplets are those
both models are sure of. These are the triplets a listening test can settle
(:class:`core.listening.design.StudyDesign` with ``triplets``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ParameterError
from .neighbourhoods import NeighbourhoodComparison, shared_rows

TRIPLET_COLUMNS = ("anchor_id", "x_id", "y_id", "margin_a", "margin_b", "strength", "anchor_disagreement")


def aligned_vectors(engine, track_ids: list[str]) -> np.ndarray:
    """An engine's track vectors in the order of ``track_ids`` (all must be known to it)."""
    ids, rows, _ = shared_rows(engine.track_ids, track_ids)
    if len(ids) != len(track_ids):
        raise ParameterError(f"model {engine.name!r} lacks vectors for {len(track_ids) - len(ids)} of the tracks")
    order = {t: i for i, t in enumerate(ids)}
    return engine.emb.tracks[rows[[order[t] for t in track_ids]]]


def most_disagreeing(comparison: NeighbourhoodComparison, n: int | None = None) -> np.ndarray:
    """Rows of the tracks whose neighbourhoods differ most (highest ``1 - Jaccard``, then row)."""
    order = np.lexsort((np.arange(len(comparison.track_ids)), -comparison.disagreement))
    return order if n is None else order[:n]


def opposite_triplets(comparison: NeighbourhoodComparison, vectors_a: np.ndarray, vectors_b: np.ndarray,
                      anchors: np.ndarray | None = None) -> pd.DataFrame:
    """Every opposite-judgement triplet of the given anchors (see the module docstring).

    Parameters
    ----------
    comparison : NeighbourhoodComparison
    vectors_a, vectors_b : np.ndarray
        Each model's vectors, rows following ``comparison.track_ids``
        (:func:`aligned_vectors`).
    anchors : np.ndarray, optional
        Anchor rows (default: every track).

    Returns
    -------
    DataFrame
        :data:`TRIPLET_COLUMNS`, strongest first (then anchor, x, y rows).
    """
    n = len(comparison.track_ids)
    if len(vectors_a) != n or len(vectors_b) != n:
        raise ParameterError("the vectors must have one row per track of the comparison")
    anchors = np.arange(n) if anchors is None else np.asarray(anchors, dtype=np.int64)
    va, vb = np.asarray(vectors_a, dtype=np.float64), np.asarray(vectors_b, dtype=np.float64)
    rows, margins_a, margins_b = [], [], []
    for anchor in anchors:
        na, nb = comparison.neighbours_a[anchor], comparison.neighbours_b[anchor]
        xs = na[~np.isin(na, nb)]
        ys = nb[~np.isin(nb, na)]
        if not len(xs) or not len(ys):
            continue
        x, y = np.repeat(xs, len(ys)), np.tile(ys, len(xs))
        margin_a = va[x] @ va[anchor] - va[y] @ va[anchor]
        margin_b = vb[x] @ vb[anchor] - vb[y] @ vb[anchor]
        keep = (margin_a > 0) & (margin_b < 0)
        rows.append(np.column_stack([np.full(keep.sum(), anchor), x[keep], y[keep]]).astype(np.int64))
        margins_a.append(margin_a[keep])
        margins_b.append(margin_b[keep])
    if not rows:
        return pd.DataFrame(columns=list(TRIPLET_COLUMNS))
    triplets = np.concatenate(rows)
    margin_a, margin_b = np.concatenate(margins_a), np.concatenate(margins_b)
    if not len(triplets):
        return pd.DataFrame(columns=list(TRIPLET_COLUMNS))
    scale_a = float(margin_a.std()) or 1.0
    scale_b = float(margin_b.std()) or 1.0
    strength = (margin_a / scale_a) * (-margin_b / scale_b)
    order = np.lexsort((triplets[:, 2], triplets[:, 1], triplets[:, 0], -strength))
    ids = np.array(comparison.track_ids, dtype=object)
    t = triplets[order]
    return pd.DataFrame({"anchor_id": ids[t[:, 0]], "x_id": ids[t[:, 1]], "y_id": ids[t[:, 2]],
                         "margin_a": margin_a[order], "margin_b": margin_b[order], "strength": strength[order],
                         "anchor_disagreement": comparison.disagreement[t[:, 0]]}).reset_index(drop=True)


def as_design_triplets(frame: pd.DataFrame) -> list[dict]:
    """Chosen rows of :func:`opposite_triplets` as the ``triplets`` of a listening-test design.

    ``x`` becomes song1 and ``y`` song2; the design draws the sides shown to raters.
    """
    missing = {"anchor_id", "x_id", "y_id"} - set(frame.columns)
    if missing:
        raise ParameterError(f"triplets need the columns {sorted(missing)}")
    return [{"anchor_id": str(r.anchor_id), "song1_id": str(r.x_id), "song2_id": str(r.y_id)}
            for r in frame.itertuples()]
