"""Similarity evaluation: triplet accuracy per dimension and on track triplets (Lee et al. 2020).

Every model family is a similarity space, so every model is scored here.

Distances
    Models with ``normalized = True`` (Won, Lee, MWE, and MFCC-VQ, whose
    histograms are L2-normalised) use the Euclidean distance between
    L2-normalised vectors. On the full vector it ranks exactly as the cosine;
    restricted to a subspace it is Lee et al.'s masked distance
    ``||(f(a) - f(b)) * m_s||``; for MFCC-VQ it is the paper's Euclidean
    distance between histograms. Other models (Muslse) use their own score,
    the raw inner product, as a negative distance.

"All dimensions" vs "sub-dimensions"
    ``all_dims`` measures each dimension's triplets in the full embedding;
    ``sub_dims`` measures them in the subspace of the same name and exists only
    for models whose :meth:`~core.models.base.EmbeddingModel.subspaces` name the
    dimensions (the disentangled model). For single-subspace models it is
    omitted rather than repeated, so the report never shows a copy as a result.
    ``overall`` is the mean over the dimensions that have triplets (Lee et al.'s
    "Overall" column is the mean of the four).

Full songs are :meth:`~core.models.base.EmbeddingModel.encode_track` of the
whole cached mel (each family's own evaluation inputs: Lee's non-overlapping 3 s
windows, Won's 8 crops, the MFCC-VQ histogram), read from the model's current
embedding cache when there is one (``embed`` computed them the same way; see
``core.evaluation.run``); track-triplet excerpts are ``encode_track`` of a 3-second crop.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ..catalog import SIMILARITY_DIMENSIONS
from ..errors import ParameterError
from ..progress import Progress, silent
from .metrics import triplet_scores
from .triplets import EXCERPT_FRAMES
from .units import MeanOf, MetricSet, Units


def distance_kind(model) -> str:
    """``"euclidean"`` between unit vectors for normalised models, else ``"dot"`` (raw inner product)."""
    return "euclidean" if model.normalized else "dot"


def paired_distance(a: np.ndarray, b: np.ndarray, kind: str) -> np.ndarray:
    """Distance between rows ``a[i]`` and ``b[i]`` (smaller = more similar)."""
    if kind == "euclidean":
        return np.linalg.norm(a - b, axis=1)
    if kind == "dot":
        return -np.einsum("ij,ij->i", a, b)
    raise ParameterError(f"unknown distance kind {kind!r}; use 'euclidean' or 'dot'")


def similarity_matrix(a: np.ndarray, b: np.ndarray, kind: str) -> np.ndarray:
    """Similarity of every row of ``a`` to every row of ``b`` (minus the distance for Euclidean)."""
    if kind == "euclidean":
        sq = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
        return -np.sqrt(np.maximum(sq, 0.0))
    if kind == "dot":
        return a @ b.T
    raise ParameterError(f"unknown distance kind {kind!r}; use 'euclidean' or 'dot'")


def excerpt_embeddings(model, mels, excerpts: list[tuple[str, int]], excerpt_frames: int = EXCERPT_FRAMES,
                       progress: Progress = silent, batch_size: int = 64) -> dict[tuple[str, int], np.ndarray]:
    """Embeddings of 3-second excerpts ``(track_id, start_frame)`` (zero-padded past the end).

    Each value equals ``model.encode_track(excerpt)`` (the mean of the
    embeddings of ``model.track_inputs(excerpt)``, L2-normalised for normalised
    models), computed in batches. Identical inputs of one excerpt (e.g. the
    eight zero-padded copies Won's evaluation crops make of a 3 s excerpt) are
    encoded once, which leaves their mean unchanged.
    """
    by_track: dict[str, list[int]] = {}
    for tid, start in excerpts:
        by_track.setdefault(tid, []).append(int(start))
    keys, inputs = [], []
    for tid in progress(sorted(by_track), total=len(by_track), desc="excerpt inputs"):
        mel = mels(tid)
        for start in sorted(set(by_track[tid])):
            crop = np.zeros((mel.shape[0], excerpt_frames), dtype=np.float32)
            piece = mel[:, start:start + excerpt_frames]
            crop[:, :piece.shape[1]] = piece
            x = model.track_inputs(crop)
            keys.append((tid, start))
            inputs.append(x[:1] if bool((x == x[:1]).all()) else x)
    return dict(zip(keys, _encode_batched(model, inputs, batch_size)))


@torch.no_grad()
def _encode_batched(model, inputs: list[torch.Tensor], batch_size: int) -> list[np.ndarray]:
    """``encode_track`` of many input batches: inputs of one shape are encoded together."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters(), torch.zeros(0)).device
        sizes = [len(x) for x in inputs]
        out: list[np.ndarray | None] = [None] * len(inputs)
        groups: dict[tuple, list[int]] = {}
        for i, x in enumerate(inputs):
            groups.setdefault(tuple(x.shape[1:]), []).append(i)
        for members in groups.values():
            flat = torch.cat([inputs[i] for i in members])
            vectors = torch.cat([model.encode_audio(flat[j:j + batch_size].to(device)).float().cpu()
                                 for j in range(0, len(flat), batch_size)])
            offsets = np.cumsum([0] + [sizes[i] for i in members])
            for i, lo, hi in zip(members, offsets[:-1], offsets[1:]):
                vector = vectors[lo:hi].mean(dim=0)
                if model.normalized:
                    vector = torch.nn.functional.normalize(vector, dim=0)
                out[i] = vector.numpy()
        return out
    finally:
        model.train(was_training)


def _rows(vectors: dict) -> tuple[np.ndarray, dict]:
    """Stack a key -> vector dict into a matrix and a key -> row map."""
    keys = list(vectors)
    return np.stack([vectors[k] for k in keys]).astype(np.float64), {k: i for i, k in enumerate(keys)}


def _overall(values: dict) -> dict:
    scored = [v for v in values.values() if v is not None]
    return {**values, "overall": float(np.mean(scored)) if scored else None}


def _triplet_scores(matrix: np.ndarray, rows: list[np.ndarray], kind: str, sl: slice = slice(None)) -> np.ndarray:
    """Score of each triplet (1 if the positive is closer, 1/2 on a tie, else 0); each distinct pair's distance once."""
    a, p, n = (np.asarray(r, dtype=np.int64) for r in rows)
    size = len(matrix)
    # a pair as one integer: np.unique on integers sorts several times faster than on rows (axis=0)
    unique, inverse = np.unique(np.concatenate([a * size + p, a * size + n]), return_inverse=True)
    distance = paired_distance(matrix[unique // size, sl], matrix[unique % size, sl], kind)[inverse]
    return triplet_scores(distance[:len(a)], distance[len(a):])


def _accuracy_units(scores: np.ndarray, anchors: np.ndarray, track_ids: list[str]) -> Units:
    """Triplet scores grouped by anchor track (the bootstrap unit): accuracy = sum / count."""
    position = {t: i for i, t in enumerate(track_ids)}
    return Units.grouped("track", track_ids, [position[t] for t in anchors], scores)


def triplet_metrics(model, track_vectors: dict[str, np.ndarray], triplets: dict[str, pd.DataFrame],
                    excerpt_vectors: dict[tuple[str, int], np.ndarray] | None = None) -> MetricSet:
    """``triplet_acc`` of one model on the held-out triplets.

    Parameters
    ----------
    model : EmbeddingModel
        Gives the distance (:func:`distance_kind`) and the subspaces.
    track_vectors : dict
        Track id -> full-song embedding (the test tracks; their order is the
        order of the units).
    triplets : dict
        From :func:`core.evaluation.triplets.evaluation_triplets`.
    excerpt_vectors : dict, optional
        ``(track_id, start) -> embedding`` for the track triplets.

    Returns
    -------
    MetricSet
        ``metrics``: ``{"all_dims": {genre, mood, instrument, tempo, overall},
        "sub_dims": {...} (disentangled models only), "track": float}``; a
        dimension without triplets is None. ``units``: each accuracy as the
        triplets' scores grouped by anchor track (``overall`` as the mean of
        the dimensions).
    """
    kind = distance_kind(model)
    spaces = model.subspaces()
    has_sub = all(dim in spaces for dim in SIMILARITY_DIMENSIONS)
    track_ids = list(track_vectors)
    matrix, index = _rows(track_vectors)
    out = MetricSet()
    for space in ("all_dims", "sub_dims") if has_sub else ("all_dims",):
        values = {}
        for dim in SIMILARITY_DIMENSIONS:
            frame = triplets.get(dim)
            if frame is None or frame.empty:
                values[dim] = None
                out.units[(space, dim)] = Units.mean("track", track_ids, np.full(len(track_ids), np.nan))
                continue
            rows = [np.array([index[t] for t in frame[c].to_numpy()]) for c in ("anchor", "positive", "negative")]
            scores = _triplet_scores(matrix, rows, kind, spaces[dim] if space == "sub_dims" else slice(None))
            units = _accuracy_units(scores, frame["anchor"].to_numpy(), track_ids)
            values[dim] = units.value
            out.units[(space, dim)] = units
        out.metrics[space] = _overall(values)
        out.units[(space, "overall")] = MeanOf(tuple((space, d) for d in SIMILARITY_DIMENSIONS))
    frame = triplets.get("track")
    if frame is None or frame.empty or not excerpt_vectors:
        out.metrics["track"] = None
        out.units[("track",)] = Units.mean("track", track_ids, np.full(len(track_ids), np.nan))
    else:
        matrix, index = _rows(excerpt_vectors)
        rows = [np.array([index[(t, int(s))] for t, s in zip(frame[c].to_numpy(), frame[f"{c}_start"].to_numpy())])
                for c in ("anchor", "positive", "negative")]
        units = _accuracy_units(_triplet_scores(matrix, rows, kind), frame["anchor"].to_numpy(), track_ids)
        out.metrics["track"], out.units[("track",)] = units.value, units
    return out
