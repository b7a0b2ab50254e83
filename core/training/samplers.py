"""Triplet samplers.

Won et al. (tag as anchor, a song carrying it as positive):

* :class:`TagTripletSampler` draws (tag, positive song) pairs, ``random``
  (a random song, then one of its tags) or ``balanced`` (uniform over tags, then
  a random song carrying the tag);
* :func:`mine_negatives` picks each row's negative among the batch's songs that
  do not carry the anchor tag: ``uniform``, ``cosine-weighted`` (probability
  proportional to ``(cos + 1) / 2``, the rule in the authors' code, which the
  README calls "weighted") or ``distance-weighted`` (Wu et al. 2017, the
  sampling the README cites: weight ``1 / q(d)`` with ``q`` the density of
  pairwise distances on the unit sphere, distances clipped below at 0.5 and
  negatives beyond 1.4 never drawn).

Lee et al.:

* :class:`CategoryTripletSampler`: anchor and positive share a tag of the
  dimension (tempo: BPMs within a tolerance); the negative shares none (tempo:
  farther apart); tracks with no tag (no BPM) in a dimension are never used for it;
* :class:`TrackTripletSampler`: anchor and positive are two excerpts of one song
  overlapping at most ``max_overlap``; the negative is another song.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ..errors import DataError, ParameterError

NEGATIVE_RULES = ("uniform", "cosine-weighted", "distance-weighted")


class TagTripletSampler:
    """(tag, positive song) pairs from a binary ``(n_songs, n_tags)`` matrix."""

    def __init__(self, tag_matrix: np.ndarray, mode: str = "balanced"):
        if mode not in ("random", "balanced"):
            raise ParameterError(f"sampler mode must be 'random' or 'balanced', got {mode!r}")
        self.matrix = np.asarray(tag_matrix, dtype=bool)
        self.mode = mode
        self.songs_of = [np.flatnonzero(col) for col in self.matrix.T]
        self.tags_of = [np.flatnonzero(row) for row in self.matrix]
        self.tagged_songs = np.array([i for i, t in enumerate(self.tags_of) if len(t)])
        self.used_tags = np.array([j for j, s in enumerate(self.songs_of) if len(s)])
        if not len(self.used_tags):
            raise DataError("no training song carries a tag; cannot sample tag triplets")

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs as ``(tag indices, song indices)``."""
        tags, songs = np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
        if self.mode == "balanced":
            tags[:] = rng.choice(self.used_tags, size=n)
            for i, t in enumerate(tags):
                songs[i] = rng.choice(self.songs_of[t])
        else:
            songs[:] = rng.choice(self.tagged_songs, size=n)
            for i, s in enumerate(songs):
                tags[i] = rng.choice(self.tags_of[s])
        return tags, songs


def distance_weights(cos: torch.Tensor, dim: int, cutoff: float = 0.5, nonzero_cutoff: float = 1.4) -> torch.Tensor:
    """Wu et al. 2017 sampling weights ``1 / q(d)`` for unit vectors at cosine ``cos``.

    ``q(d) ∝ d^(n-2) (1 - d^2/4)^((n-3)/2)`` is the density of the distance between
    two random points on the ``n``-dimensional unit sphere. ``d`` is clipped below
    at ``cutoff``; pairs farther than ``nonzero_cutoff`` (they give zero loss) get
    weight 0. Weights are scaled so each row's maximum is 1 (log domain for stability).
    """
    d = torch.sqrt((2.0 - 2.0 * cos.float()).clamp_min(1e-8)).clamp_min(cutoff)
    log_q = (dim - 2.0) * torch.log(d) + (dim - 3.0) / 2.0 * torch.log((1.0 - d * d / 4.0).clamp_min(1e-8))
    log_w = -log_q
    log_w = log_w.masked_fill(d > nonzero_cutoff, -math.inf)
    return torch.exp(log_w - log_w.amax(dim=-1, keepdim=True).clamp_min(-1e30))


def mine_negatives(scores: torch.Tensor, valid: torch.Tensor, rule: str = "uniform", dim: int | None = None,
                   cutoff: float = 0.5, nonzero_cutoff: float = 1.4) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick one in-batch negative per anchor.

    Parameters
    ----------
    scores : Tensor (B, S)
        Cosine similarity of anchor ``i`` (a tag) and candidate song ``j``.
    valid : Tensor (B, S) of bool
        True where song ``j`` may be a negative of anchor ``i`` (does not carry the tag).
    rule : {"uniform", "cosine-weighted", "distance-weighted"}
    dim : int
        Embedding dimension (distance-weighted only).

    Returns
    -------
    negatives : Tensor (B,) of int64
        Column of each row's negative (meaningless where ``usable`` is False).
    usable : Tensor (B,) of bool
        Rows with at least one valid negative.
    """
    if rule not in NEGATIVE_RULES:
        raise ParameterError(f"negative rule must be one of {NEGATIVE_RULES}, got {rule!r}")
    scores = scores.detach().float()
    if rule == "uniform":
        weights = torch.ones_like(scores)
    elif rule == "cosine-weighted":
        weights = ((scores + 1.0) / 2.0).clamp_min(1e-6)
    else:
        if dim is None:
            raise ParameterError("distance-weighted sampling needs the embedding dimension")
        weights = distance_weights(scores, dim, cutoff, nonzero_cutoff)
    weights = weights * valid
    # rows whose valid negatives all lie beyond the cut-off fall back to uniform over valid ones
    empty = weights.sum(dim=1) <= 0
    weights = torch.where(empty[:, None], valid.float(), weights)
    usable = valid.any(dim=1)
    weights = torch.where(usable[:, None], weights, torch.ones_like(weights))
    return torch.multinomial(weights, 1).squeeze(1), usable


class CategoryTripletSampler:
    """Lee et al. triplets along a similarity dimension.

    Parameters
    ----------
    labels : dict
        Dimension name -> list (one per track) of tag sets; ``tempo`` may be omitted.
    bpm : array, optional
        Per-track tempo (NaN unknown); tempo similarity is ``|bpm_a - bpm_b| <= tolerance``.
    dimensions : tuple of str
        Dimension order (indices returned by :meth:`sample` refer to it).
    """

    def __init__(self, labels: dict[str, list[set]], bpm: np.ndarray | None, dimensions: tuple[str, ...],
                 tolerance: float = 5.0):
        self.dimensions = tuple(dimensions)
        n = len(bpm) if bpm is not None else len(next(iter(labels.values())))
        self.similar, self.known = {}, {}
        for name in self.dimensions:
            if name == "tempo":
                if bpm is None:
                    continue
                bpm = np.asarray(bpm, dtype=float)
                known = np.isfinite(bpm)
                sim = np.abs(bpm[:, None] - bpm[None, :]) <= tolerance
            else:
                sets = labels.get(name)
                if sets is None:
                    continue
                known = np.array([len(s) > 0 for s in sets])
                sim = np.array([[bool(a & b) for b in sets] for a in sets], dtype=bool).reshape(n, n)
            sim &= known[:, None] & known[None, :]
            np.fill_diagonal(sim, False)
            self.similar[name], self.known[name] = sim, known
        self.anchors = {}
        for name, sim in self.similar.items():
            negatives = self.known[name][None, :] & ~sim & ~np.eye(n, dtype=bool)
            ok = self.known[name] & sim.any(axis=1) & negatives.any(axis=1)
            if ok.any():
                self.anchors[name] = np.flatnonzero(ok)
        self.active = [i for i, name in enumerate(self.dimensions) if name in self.anchors]
        if not self.active:
            raise DataError("no dimension has an anchor with both a similar and a dissimilar track; "
                            "the catalog needs more tagged tracks (or BPMs)")

    def sample_dimension(self, index: int, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 3)`` (anchor, positive, negative) track indices along dimension ``index``."""
        name = self.dimensions[index]
        if name not in self.anchors:
            raise DataError(f"no usable triplets along {name!r}")
        sim, known = self.similar[name], self.known[name]
        out = np.empty((n, 3), dtype=np.int64)
        for row, a in enumerate(rng.choice(self.anchors[name], size=n)):
            negatives = np.flatnonzero(known & ~sim[a])
            negatives = negatives[negatives != a]
            out[row] = (a, rng.choice(np.flatnonzero(sim[a])), rng.choice(negatives))
        return out

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` triplets over dimensions drawn uniformly: ``(dimension indices (n,), triplets (n, 3))``."""
        dims = rng.choice(self.active, size=n)
        triplets = np.empty((n, 3), dtype=np.int64)
        for d in np.unique(dims):
            rows = np.flatnonzero(dims == d)
            triplets[rows] = self.sample_dimension(int(d), len(rows), rng)
        return dims, triplets


class TrackTripletSampler:
    """Track-regularisation triplets: two excerpts of one song (overlap <= ``max_overlap``) and another song."""

    def __init__(self, lengths: list[int], n_frames: int, max_overlap: float = 0.5):
        self.n_frames = int(n_frames)
        self.min_gap = int(math.ceil((1.0 - max_overlap) * n_frames))
        self.lengths = np.asarray(lengths, dtype=np.int64)
        self.songs = np.flatnonzero(self.lengths >= self.n_frames + self.min_gap)
        if len(self.songs) < 1 or len(self.lengths) < 2:
            raise DataError(f"track triplets need songs of at least {self.n_frames + self.min_gap} frames "
                            "and at least two songs")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 5)``: anchor song, anchor start, positive start, negative song, negative start."""
        out = np.empty((n, 5), dtype=np.int64)
        for row, song in enumerate(rng.choice(self.songs, size=n)):
            span = int(self.lengths[song]) - self.n_frames
            # the gap between the two starts is drawn first, so overlap <= max_overlap always
            gap = int(rng.integers(self.min_gap, span + 1))
            first = int(rng.integers(0, span - gap + 1))
            a, p = (first, first + gap) if rng.random() < 0.5 else (first + gap, first)
            other = int(rng.integers(0, len(self.lengths) - 1))
            other += other >= song
            neg_start = int(rng.integers(0, max(1, int(self.lengths[other]) - self.n_frames + 1)))
            out[row] = (song, a, p, other, neg_start)
        return out


class SeenTagSampler:
    """Draws (track, tag) training pairs: a random track, then one of its tags; seen tags only.

    Parameters
    ----------
    positives : np.ndarray, bool, shape (n_tracks, n_tags)
        Which training track carries which tag (columns follow ``tags``).
    tags : list of str
        The tags training may use.
    unseen : list of str
        The workspace's unseen tags; a sampler over any of them is refused, so
        an unseen tag can never be a positive or a negative in training.
    """

    def __init__(self, positives: np.ndarray, tags: list[str], unseen: list[str]):
        leaked = sorted(set(tags) & set(unseen))
        if leaked:
            raise ParameterError(f"unseen tags must not reach training: {leaked[:5]}")
        self.positives = np.asarray(positives, dtype=bool)
        if self.positives.ndim != 2 or self.positives.shape[1] != len(tags):
            raise ParameterError(f"positives must be (n_tracks, {len(tags)}), got {self.positives.shape}")
        self.tags = list(tags)
        self.rows = np.flatnonzero(self.positives.any(axis=1))
        if len(self.rows) == 0:
            raise DataError("no training track carries a seen tag")

    def sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``n`` pairs as ``(track rows, tag columns)``."""
        rows = rng.choice(self.rows, size=n)
        # a uniform choice among each row's tags: argmax of random keys on the positive cells
        keys = rng.random((n, len(self.tags))) * self.positives[rows]
        return rows, keys.argmax(axis=1)

