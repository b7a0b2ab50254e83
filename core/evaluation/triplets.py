"""Held-out evaluation triplets (Lee et al. 2020, section 3.3), sampled deterministically.

Two kinds of triplets ``(anchor, positive, negative)`` over one split (the test
split for evaluation):

* **category triplets**, one set per similarity dimension (genre, mood,
  instrument, tempo), over full songs. Two tracks are *similar* along genre,
  mood or instrument when they share at least one tag of that category, and
  along tempo when their ``bpm`` values are within 5 BPM (Lee et al.'s rules).
  Only *labelled* tracks take part: a track with no tag of the category (no
  known BPM for tempo) is neither a positive nor a negative, because a missing
  tag is not evidence of dissimilarity. The positive is similar to the anchor,
  the negative is not; all three are distinct tracks.
* **track triplets** over 3-second excerpts (129 frames): anchor and positive
  are two excerpts of the same song overlapping by at most 50%, the negative an
  excerpt of another song. Excerpts start on a grid with a hop of
  ``ceil(frames / 2)`` (65 frames for 129), so any two distinct grid excerpts of
  a song overlap by at most 64 frames (49.6%).

Sampling is with replacement (the paper draws 40,000 triplets per set; a small
test split has fewer distinct triplets) and depends only on the catalog, the
track lengths and ``seed``: the same inputs give the same triplets, whatever the
order of the catalog rows.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..audio import CHUNK_FRAMES_3S
from ..catalog import SIMILARITY_DIMENSIONS, Catalog
from ..errors import ParameterError

#: Lee et al.: two tracks are similar in tempo when within this many BPM.
TEMPO_TOLERANCE_BPM = 5.0
#: Lee et al. hold out 40,000 triplets per dimension and 40,000 track triplets.
N_TRIPLETS = 40_000
#: Excerpt length of track triplets (3 s).
EXCERPT_FRAMES = CHUNK_FRAMES_3S
#: Names of the triplet sets, in report order.
TRIPLET_SETS = (*SIMILARITY_DIMENSIONS, "track")

CATEGORY_COLUMNS = ["anchor", "positive", "negative"]
TRACK_COLUMNS = ["anchor", "anchor_start", "positive", "positive_start", "negative", "negative_start"]


def similarity(catalog: Catalog, track_ids: list[str], dimension: str,
               tolerance_bpm: float = TEMPO_TOLERANCE_BPM) -> tuple[np.ndarray, np.ndarray]:
    """Lee et al.'s similarity of every pair of tracks along one dimension.

    Parameters
    ----------
    catalog : Catalog
    track_ids : list of str
        Tracks to compare (rows and columns of the result).
    dimension : {"genre", "mood", "instrument", "tempo"}
    tolerance_bpm : float
        Tempo similarity threshold (inclusive).

    Returns
    -------
    similar : np.ndarray of bool, shape (n, n)
        ``similar[i, j]``: tracks i and j share a tag of the category (for
        tempo: ``|bpm_i - bpm_j| <= tolerance_bpm``). Symmetric; the diagonal is
        True for labelled tracks.
    labelled : np.ndarray of bool, shape (n,)
        Tracks with at least one tag of the category (a finite BPM for tempo).
    """
    if dimension not in SIMILARITY_DIMENSIONS:
        raise ParameterError(f"unknown similarity dimension {dimension!r}; use one of {SIMILARITY_DIMENSIONS}")
    track_ids = list(track_ids)
    if dimension == "tempo":
        bpm = catalog.tracks.set_index("track_id")["bpm"].reindex(track_ids).to_numpy(dtype=np.float64)
        labelled = np.isfinite(bpm)
        with np.errstate(invalid="ignore"):
            similar = np.abs(bpm[:, None] - bpm[None, :]) <= tolerance_bpm
        return similar & labelled[:, None] & labelled[None, :], labelled
    tags = catalog.tags(dimension)
    member = catalog.tag_matrix(track_ids, tags).astype(np.float32)
    return (member @ member.T) > 0, member.any(axis=1)


def _choose_per_anchor(rng: np.random.Generator, anchors: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """For each anchor index, a uniform choice among the True columns of ``mask[anchor]``."""
    out = np.empty(len(anchors), dtype=np.int64)
    order = np.argsort(anchors, kind="stable")
    groups, starts = np.unique(anchors[order], return_index=True)
    for a, rows in zip(groups, np.split(order, starts[1:])):
        out[rows] = rng.choice(np.flatnonzero(mask[a]), size=len(rows))
    return out


def category_triplets(catalog: Catalog, dimension: str, n: int = N_TRIPLETS, seed: int = 0,
                      split: str = "test") -> pd.DataFrame:
    """Sample ``n`` full-song triplets of one dimension from one split.

    Anchors are drawn uniformly among the labelled tracks that have at least one
    positive and one negative, then a positive and a negative uniformly for the
    anchor (see the module docstring for the rules).

    Parameters
    ----------
    catalog : Catalog
    dimension : {"genre", "mood", "instrument", "tempo"}
    n : int >= 1
        Number of triplets (drawn with replacement).
    seed : int
    split : {"train", "valid", "test"}

    Returns
    -------
    pandas.DataFrame
        Columns ``anchor``, ``positive``, ``negative`` (track ids); empty when
        the split has no valid anchor (e.g. no BPM values for tempo).
    """
    _check_n(n)
    ids = sorted(catalog.split_ids(split))
    similar, labelled = similarity(catalog, ids, dimension)
    both = labelled[:, None] & labelled[None, :]
    positive = similar & both & ~np.eye(len(ids), dtype=bool)
    negative = ~similar & both
    valid = np.flatnonzero(positive.any(axis=1) & negative.any(axis=1))
    if len(valid) == 0:
        return pd.DataFrame(columns=CATEGORY_COLUMNS)
    rng = np.random.default_rng([seed, TRIPLET_SETS.index(dimension)])
    anchors = rng.choice(valid, size=n)
    pos = _choose_per_anchor(rng, anchors, positive)
    neg = _choose_per_anchor(rng, anchors, negative)
    ids = np.asarray(ids, dtype=object)
    return pd.DataFrame({"anchor": ids[anchors], "positive": ids[pos], "negative": ids[neg]})


def excerpt_starts(n_frames: int, excerpt_frames: int = EXCERPT_FRAMES) -> np.ndarray:
    """Start frames of the excerpt grid of a track of ``n_frames`` frames.

    The hop is ``ceil(excerpt_frames / 2)``, so two distinct grid excerpts
    overlap by at most half an excerpt. A track shorter than one excerpt has the
    single start 0 (its excerpt is zero-padded when encoded).
    """
    return np.arange(0, max(int(n_frames) - excerpt_frames, 0) + 1, _hop(excerpt_frames))


def _hop(excerpt_frames: int) -> int:
    if excerpt_frames < 2:
        raise ParameterError(f"excerpt_frames must be >= 2, got {excerpt_frames}")
    return math.ceil(excerpt_frames / 2)


def track_triplets(track_frames: dict[str, int], n: int = N_TRIPLETS, seed: int = 0,
                   excerpt_frames: int = EXCERPT_FRAMES) -> pd.DataFrame:
    """Sample ``n`` excerpt triplets: anchor and positive from one song, the negative from another.

    Parameters
    ----------
    track_frames : dict
        Track id -> length in frames (of the tracks to draw from, e.g. the test split).
    n : int >= 1
    seed : int
    excerpt_frames : int
        Excerpt length (129 frames = 3 s).

    Returns
    -------
    pandas.DataFrame
        Columns ``anchor``, ``anchor_start``, ``positive``, ``positive_start``,
        ``negative``, ``negative_start`` (``positive == anchor``; starts in frames).
        Empty if no track is long enough for two excerpts or there is only one track.
    """
    _check_n(n)
    ids = sorted(track_frames)
    sizes = np.array([len(excerpt_starts(track_frames[t], excerpt_frames)) for t in ids])
    valid = np.flatnonzero(sizes >= 2)
    if len(valid) == 0 or len(ids) < 2:
        return pd.DataFrame(columns=TRACK_COLUMNS)
    rng = np.random.default_rng([seed, TRIPLET_SETS.index("track")])
    anchors = rng.choice(valid, size=n)
    others = rng.integers(0, len(ids) - 1, size=n)
    negatives = others + (others >= anchors)  # uniform over the other tracks
    first = rng.integers(0, sizes[anchors])
    second = rng.integers(0, sizes[anchors] - 1)
    second += second >= first  # a different grid position of the same song
    third = rng.integers(0, sizes[negatives])
    ids = np.asarray(ids, dtype=object)
    hop = _hop(excerpt_frames)  # grid position i starts at frame i * hop
    return pd.DataFrame({"anchor": ids[anchors], "anchor_start": first * hop,
                         "positive": ids[anchors], "positive_start": second * hop,
                         "negative": ids[negatives], "negative_start": third * hop},
                        columns=TRACK_COLUMNS)


def evaluation_triplets(catalog: Catalog, track_frames: dict[str, int], n: int = N_TRIPLETS, seed: int = 0,
                        split: str = "test") -> dict[str, pd.DataFrame]:
    """All held-out triplet sets: one per dimension plus ``"track"`` (keys :data:`TRIPLET_SETS`).

    Parameters
    ----------
    catalog : Catalog
    track_frames : dict
        Track id -> frames for the tracks of ``split`` that have features; only
        these tracks are used, in every set.
    n : int
        Triplets per set.
    seed : int
    split : str
    """
    usable = catalog.tracks["track_id"].isin(list(track_frames))
    sub = Catalog(catalog.tracks[usable], catalog.artists,
                  catalog.track_tags[catalog.track_tags["track_id"].isin(list(track_frames))])
    out = {dim: category_triplets(sub, dim, n, seed, split) for dim in SIMILARITY_DIMENSIONS}
    split_frames = {t: f for t, f in track_frames.items() if t in set(sub.split_ids(split))}
    out["track"] = track_triplets(split_frames, n, seed)
    return out


def _check_n(n) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ParameterError(f"the number of triplets must be a positive integer, got {n!r}")
