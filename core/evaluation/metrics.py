"""Evaluation metrics: plain functions over score matrices, validated against scikit-learn.

Conventions (in the style of ``mir_eval``): every metric first calls a
``validate`` function that raises :class:`~core.errors.ParameterError` on bad
input, then computes. Matrices are ``(n_clips, n_tags)``: rows are clips
(songs), columns are tags. ``y_true`` is binary (0/1 or bool), ``y_score`` real
and finite; a higher score means "more relevant".

Averaged metrics return a :class:`MacroScore`: the mean over the *scored*
queries (tags or clips), the value of every query (NaN where skipped) and how
many were skipped. A query is skipped when the metric is undefined or trivial
for it: ROC-AUC and average precision need at least one positive and one
negative; precision@k and recall@k need at least one positive (relevant item).

Ties are handled as an expectation over a random order of the tied items:
ROC-AUC uses average ranks (as scikit-learn), average precision groups tied
scores into one threshold (as scikit-learn), and precision@k / recall@k count
the tied items at the cut-off by their expected share. So a constant scorer
never looks better than chance because of the input order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import hypergeom, rankdata

from ..errors import ParameterError

#: Weston et al. 2011 report precision at these k for tag prediction per song.
WESTON_K = (3, 6, 9, 12, 15)
#: Won et al. 2021 report precision at 10 per tag over test songs.
WON_K = 10
#: query-by-track recall at these k (nested ``r_at_k`` object).
RECALL_K = (1, 5, 10)

_AXES = ("tag", "clip")


@dataclass(frozen=True)
class MacroScore:
    """A metric averaged over queries (tags or clips).

    Attributes
    ----------
    mean : float
        Mean over scored queries; NaN if every query was skipped.
    values : np.ndarray
        One value per query, NaN where skipped.
    n_skipped : int
        Queries skipped (no positive, or no negative where the metric needs one).
    """

    mean: float
    values: np.ndarray
    n_skipped: int

    @property
    def n_scored(self) -> int:
        return int(len(self.values) - self.n_skipped)

    def __float__(self) -> float:
        return float(self.mean)


def _macro(values: np.ndarray) -> MacroScore:
    values = np.asarray(values, dtype=np.float64)
    skipped = int(np.isnan(values).sum())
    mean = float(np.nanmean(values)) if skipped < len(values) else float("nan")
    return MacroScore(mean=mean, values=values, n_skipped=skipped)


# ------------------------------------------------------------------ validation
def validate(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Check a label matrix and a score matrix; return them as arrays.

    Parameters
    ----------
    y_true : array_like, shape (n_clips, n_tags)
        Binary relevance (0/1 or bool).
    y_score : array_like, shape (n_clips, n_tags)
        Finite real scores.

    Returns
    -------
    y_true : np.ndarray of bool
    y_score : np.ndarray of float64

    Raises
    ------
    ParameterError
        If the shapes differ, are not 2-D or are empty, if ``y_true`` is not
        binary, or if ``y_score`` has NaN or infinite values.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 2 or y_score.ndim != 2:
        raise ParameterError(f"expected 2-D (clips, tags) matrices, got shapes {y_true.shape} and {y_score.shape}")
    if y_true.shape != y_score.shape:
        raise ParameterError(f"y_true has shape {y_true.shape} but y_score has shape {y_score.shape}")
    if y_true.size == 0:
        raise ParameterError("empty label matrix: there is nothing to evaluate")
    if y_true.dtype != bool:
        if not np.isin(y_true, (0, 1)).all():
            raise ParameterError("y_true must be binary (0/1 or bool)")
        y_true = y_true.astype(bool)
    if not np.isfinite(y_score).all():
        raise ParameterError("y_score has NaN or infinite values")
    return y_true, y_score


def _validate_k(k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ParameterError(f"k must be a positive integer, got {k!r}")
    return int(k)


def _queries_as_rows(y_true: np.ndarray, y_score: np.ndarray, by: str) -> tuple[np.ndarray, np.ndarray]:
    if by not in _AXES:
        raise ParameterError(f"by must be one of {_AXES}, got {by!r}")
    return (y_true.T, y_score.T) if by == "tag" else (y_true, y_score)


# --------------------------------------------------------------- row kernels
def _roc_auc_rows(y_true: np.ndarray, y_score: np.ndarray) -> np.ndarray:
    """ROC-AUC of each row (Mann-Whitney U with average ranks); NaN if degenerate."""
    n_pos = y_true.sum(axis=1).astype(np.float64)
    n_neg = y_true.shape[1] - n_pos
    ranks = rankdata(y_score, axis=1)  # average ranks for ties
    rank_sum = np.where(y_true, ranks, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    auc[(n_pos == 0) | (n_neg == 0)] = np.nan
    return auc


def _average_precision_row(truth: np.ndarray, score: np.ndarray) -> float:
    """Average precision, one threshold per distinct score (scikit-learn's definition)."""
    order = np.argsort(-score, kind="mergesort")
    score, truth = score[order], truth[order]
    last_of_group = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]
    tp = np.cumsum(truth)[last_of_group].astype(np.float64)
    predicted = last_of_group + 1.0
    precision = tp / predicted
    recall_gain = np.diff(np.r_[0.0, tp]) / tp[-1]
    return float(np.sum(recall_gain * precision))


def _expected_hits_in_top_k(truth: np.ndarray, score: np.ndarray, k: int) -> tuple[float, int, int, int]:
    """Positives above the k-th score, slots left at the cut-off, tied items, tied positives."""
    kth = np.partition(score, len(score) - k)[len(score) - k]
    above = score > kth
    tied = score == kth
    return float(truth[above].sum()), k - int(above.sum()), int(tied.sum()), int(truth[tied].sum())


# ----------------------------------------------------------------- ROC / PR
def roc_auc_tag(y_true, y_score) -> MacroScore:
    """Tag-wise ROC-AUC (query by tag), macro-averaged over tags.

    For each tag (column) the clips are ranked by score; the area under the ROC
    curve is the probability that a random positive clip outranks a random
    negative one (ties count one half). Tags with no positive or no negative
    clip are skipped.

    Parameters
    ----------
    y_true, y_score : array_like, shape (n_clips, n_tags)
        See :func:`validate`.

    Returns
    -------
    MacroScore
        ``values`` has one entry per tag.

    Examples
    --------
    >>> float(roc_auc_tag([[1, 0], [0, 1]], [[0.9, 0.2], [0.1, 0.8]]))
    1.0
    """
    y_true, y_score = validate(y_true, y_score)
    return _macro(_roc_auc_rows(y_true.T, y_score.T))


def roc_auc_clip(y_true, y_score) -> MacroScore:
    """Clip-wise ROC-AUC (tagging): the ROC-AUC of each clip's tag ranking, averaged over clips.

    Clips with no positive or no negative tag are skipped.

    Parameters
    ----------
    y_true, y_score : array_like, shape (n_clips, n_tags)

    Returns
    -------
    MacroScore
        ``values`` has one entry per clip.
    """
    y_true, y_score = validate(y_true, y_score)
    return _macro(_roc_auc_rows(y_true, y_score))


def pr_auc_tag(y_true, y_score) -> MacroScore:
    """Tag-wise average precision (area under the precision-recall curve), macro-averaged.

    ``AP = sum_n (R_n - R_{n-1}) P_n`` over the distinct score thresholds, as
    :func:`sklearn.metrics.average_precision_score` (Won et al.'s "map"). Tags
    with no positive or no negative clip are skipped (for an all-positive tag AP
    is trivially 1).

    Parameters
    ----------
    y_true, y_score : array_like, shape (n_clips, n_tags)

    Returns
    -------
    MacroScore
        ``values`` has one entry per tag.
    """
    y_true, y_score = validate(y_true, y_score)
    n_pos = y_true.sum(axis=0)
    values = np.full(y_true.shape[1], np.nan)
    for j in np.flatnonzero((n_pos > 0) & (n_pos < y_true.shape[0])):
        values[j] = _average_precision_row(y_true[:, j], y_score[:, j])
    return _macro(values)


# ------------------------------------------------------------ top-k metrics
def precision_at_k(y_true, y_score, k: int, by: str = "tag") -> MacroScore:
    """Precision at k: the share of relevant items among the k best-scored, averaged over queries.

    ``by="tag"`` ranks the clips for each tag (Won et al.'s P@10 over test
    songs); ``by="clip"`` ranks the tags for each clip (Weston et al.'s tag
    prediction P@k, k in 3, 6, 9, 12, 15). Queries with no relevant item are
    skipped. When a query has fewer than k items, k is clipped to the number of
    items. Items tied with the k-th score share the remaining slots in
    proportion (the expectation over a random order of the ties).

    Parameters
    ----------
    y_true, y_score : array_like, shape (n_clips, n_tags)
    k : int >= 1
    by : {"tag", "clip"}
        Which axis holds the queries.

    Returns
    -------
    MacroScore
        ``values`` has one entry per query.
    """
    y_true, y_score = validate(y_true, y_score)
    k = _validate_k(k)
    truth, score = _queries_as_rows(y_true, y_score, by)
    k = min(k, truth.shape[1])
    values = np.full(truth.shape[0], np.nan)
    for i in np.flatnonzero(truth.any(axis=1)):
        hits, slots, n_tied, pos_tied = _expected_hits_in_top_k(truth[i], score[i], k)
        values[i] = (hits + slots * pos_tied / n_tied) / k
    return _macro(values)


def recall_at_k(y_true, y_score, k: int) -> MacroScore:
    """Recall at k for retrieval (Doh et al.'s query-by-track R@K), averaged over queries.

    Each row is a query and each column a candidate (exclude the query itself
    before calling). A query scores 1 if at least one of its k best-scored
    candidates is relevant, else 0; with ties at the cut-off, the probability
    that a random choice among the ties gives a hit. Queries with no relevant
    candidate are skipped; k is clipped to the number of candidates.

    Parameters
    ----------
    y_true : array_like of bool, shape (n_queries, n_candidates)
        Relevance. Tagspace's query-by-track calls a candidate relevant when it
        is relevant to the query (see :mod:`core.evaluation.query_by_track`
        for Tagspace's query-by-track rules, which use :func:`recall_at_k_among`).
    y_score : array_like, shape (n_queries, n_candidates)
        Similarity of each candidate to the query.
    k : int >= 1

    Returns
    -------
    MacroScore
        ``values`` has one entry per query.
    """
    y_true, y_score = validate(y_true, y_score)
    k = min(_validate_k(k), y_true.shape[1])
    values = np.full(y_true.shape[0], np.nan)
    for i in np.flatnonzero(y_true.any(axis=1)):
        values[i] = _recall_row(y_true[i], y_score[i], k)
    return _macro(values)


def _recall_row(truth: np.ndarray, score: np.ndarray, k: int) -> float:
    """1 if a relevant item is among the k best, else the chance that the tied items at the cut-off give one."""
    hits, slots, n_tied, pos_tied = _expected_hits_in_top_k(truth, score, k)
    if hits > 0:
        return 1.0
    return float(1.0 - hypergeom.pmf(0, n_tied, pos_tied, slots))  # `slots` draws from the ties


def validate_candidates(candidates, shape: tuple[int, int]) -> np.ndarray:
    """Check a boolean ``(n_queries, n_items)`` candidate mask of the given shape; return it as bool.

    Raises
    ------
    ParameterError
        If the shape differs or the mask is not boolean (0/1).
    """
    candidates = np.asarray(candidates)
    if candidates.shape != tuple(shape):
        raise ParameterError(f"candidates has shape {candidates.shape} but the scores have shape {tuple(shape)}")
    if candidates.dtype != bool:
        if candidates.size and not np.isin(candidates, (0, 1)).all():
            raise ParameterError("candidates must be a boolean mask (0/1 or bool)")
        candidates = candidates.astype(bool)
    return candidates


def recall_at_k_among(y_true, y_score, k: int, candidates) -> MacroScore:
    """Recall at k where each query ranks only its own candidates (:func:`recall_at_k` per row).

    For query-by-track evaluation the candidates of a query are the other test
    tracks minus those cut from the query's own source piece: such clips are
    neither ranked nor counted. A query scores 1 if at least one of the k
    best-scored of *its candidates* is relevant (ties at the cut-off count by
    their probability, as in :func:`recall_at_k`); k is clipped to its number of
    candidates; a query with no relevant candidate is skipped.

    Parameters
    ----------
    y_true : array_like of bool, shape (n_queries, n_items)
        Relevance (entries outside ``candidates`` are ignored).
    y_score : array_like, shape (n_queries, n_items)
        Similarity of each item to the query.
    k : int >= 1
    candidates : array_like of bool, shape (n_queries, n_items)
        Items each query ranks.

    Returns
    -------
    MacroScore
        ``values`` has one entry per query.
    """
    y_true, y_score = validate(y_true, y_score)
    k = _validate_k(k)
    candidates = validate_candidates(candidates, y_true.shape)
    relevant = y_true & candidates
    values = np.full(y_true.shape[0], np.nan)
    for i in np.flatnonzero(relevant.any(axis=1)):
        mask = candidates[i]
        values[i] = _recall_row(relevant[i, mask], y_score[i, mask], min(k, int(mask.sum())))
    return _macro(values)


def recall_at_k_chance(n_candidates, n_relevant, k: int) -> np.ndarray:
    """Expected recall at k of a uniformly random ranking, per query.

    The k items a random ranking puts first are k draws without replacement
    from the ``n_candidates`` items, so the number of relevant ones among them is
    hypergeometric and ``P(at least one) = 1 - C(n - r, k) / C(n, k)``. k is
    clipped to ``n_candidates`` (as :func:`recall_at_k` does).

    Parameters
    ----------
    n_candidates : array_like of int >= 0
        Items each query ranks.
    n_relevant : array_like of int, 0 <= n_relevant <= n_candidates
        Relevant items among them.
    k : int >= 1

    Returns
    -------
    np.ndarray of float
        One value per query; NaN where the query has no relevant candidate
        (such queries are skipped by the recall metrics too).

    Examples
    --------
    >>> float(recall_at_k_chance(10, 1, 5)[0])
    0.5
    """
    k = _validate_k(k)
    n = np.atleast_1d(np.asarray(n_candidates))
    r = np.atleast_1d(np.asarray(n_relevant))
    if n.shape != r.shape:
        raise ParameterError(f"n_candidates has shape {n.shape} but n_relevant has shape {r.shape}")
    for name, x in (("n_candidates", n), ("n_relevant", r)):
        if not (np.issubdtype(x.dtype, np.integer) or (np.isfinite(x).all() and (x == np.round(x)).all())):
            raise ParameterError(f"{name} must hold whole numbers")
    n, r = n.astype(np.int64), r.astype(np.int64)
    if (r < 0).any() or (r > n).any():
        raise ParameterError("every query needs 0 <= n_relevant <= n_candidates")
    values = 1.0 - hypergeom.pmf(0, n, r, np.minimum(k, n))
    return np.where(r > 0, values, np.nan)


# ------------------------------------------------------------------ triplets
def validate_triplets(d_positive, d_negative) -> tuple[np.ndarray, np.ndarray]:
    """Check anchor-positive and anchor-negative distances; return them as float arrays.

    Raises
    ------
    ParameterError
        If they are not 1-D of the same non-zero length or are not finite.
    """
    d_positive = np.asarray(d_positive, dtype=np.float64)
    d_negative = np.asarray(d_negative, dtype=np.float64)
    if d_positive.ndim != 1 or d_positive.shape != d_negative.shape:
        raise ParameterError(
            f"expected two 1-D distance arrays of equal length, got shapes {d_positive.shape} and {d_negative.shape}")
    if d_positive.size == 0:
        raise ParameterError("no triplets to evaluate")
    if not (np.isfinite(d_positive).all() and np.isfinite(d_negative).all()):
        raise ParameterError("triplet distances have NaN or infinite values")
    return d_positive, d_negative


def triplet_accuracy(d_positive, d_negative) -> float:
    """Share of triplets whose positive is closer to the anchor than the negative (Lee et al.).

    A triplet scores 1 when ``d(anchor, positive) < d(anchor, negative)``, 0 when
    greater, and 1/2 on an exact tie (so a constant embedding scores 0.5).

    Parameters
    ----------
    d_positive, d_negative : array_like, shape (n_triplets,)
        Distances (smaller = more similar).

    Returns
    -------
    float in [0, 1]
    """
    d_positive, d_negative = validate_triplets(d_positive, d_negative)
    return float(np.mean((d_positive < d_negative) + 0.5 * (d_positive == d_negative)))


def triplet_scores(d_positive, d_negative) -> np.ndarray:
    """Score of each triplet: 1 if the positive is closer to the anchor, 1/2 on an exact tie, else 0.

    :func:`triplet_accuracy` is their mean; evaluation keeps them per triplet to
    resample triplets by anchor track.

    Parameters
    ----------
    d_positive, d_negative : array_like, shape (n_triplets,)
        Distances (smaller = more similar).

    Returns
    -------
    np.ndarray of float64, shape (n_triplets,)
    """
    d_positive, d_negative = validate_triplets(d_positive, d_negative)
    return (d_positive < d_negative) + 0.5 * (d_positive == d_negative)
