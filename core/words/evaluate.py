"""Word-embedding evaluation after MWE (Doh et al. 2023, Sec. IV-C-1, Tables III-V).

``tag rank prediction``
    For each query tag, rank the other catalog tags by cosine and score nDCG@30
    against how often they co-occur with the query on the same track. Co-occurrence
    is counted on the **test split** by default: the musical skip-gram saw only
    train-split tracks, so this measures generalisation, not recall of its corpus.
    Query tags with no co-occurring tag on that split are skipped. A candidate tag
    missing from the embedding is ranked last (score -2, below any cosine); a query
    tag missing from it is skipped; ``tag_coverage`` reports the share found.
    Content tags are :data:`CONTENT_CATEGORIES` (MWE: genre/style/instrument),
    context tags the rest (mood/theme, location, language...): ``ndcg30_ctn_ctn``
    ranks content candidates for content queries, and so on.
``query by tag`` / ``query by track`` (only for embeddings holding track ids)
    Computed on **train-split** tracks (``track_retrieval_split: "train"``), as in
    MWE's Tables IV and V: the musical corpus holds only train tracks' ids (so
    that test labels never reach the word embedding), so a test track has no
    vector and cannot be scored. These numbers say how well the embedding stores
    its own corpus, not how it generalises; the report labels them "train
    tracks". ROC-AUC per tag of cosine(tag, track) against the catalog labels,
    averaged; R@K: a query track scores 1 if one of its K nearest tracks shares a
    tag with it, next to ``recall@K_query_by_track_chance``, the expected R@K of
    a random ranking (most train tracks share a tag, so chance is high).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError
from ..evaluation.metrics import recall_at_k_chance
from ..evaluation.units import MetricSet, Units
from .store import load_word_vectors

CONTENT_CATEGORIES = ("genre", "instrument", "tempo")
RECALL_KS = (1, 2, 4, 8)
_MISSING_SCORE = -2.0


# ----------------------------------------------------------------------- metrics
def _validate_ranking(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim != 1 or y_true.shape != y_score.shape:
        raise ParameterError(f"y_true and y_score must be 1-D of equal length, got {y_true.shape} and {y_score.shape}")
    if len(y_true) == 0:
        raise ParameterError("empty ranking")
    if not (np.isfinite(y_true).all() and np.isfinite(y_score).all()):
        raise ParameterError("relevance and scores must be finite")
    return y_true, y_score


def validate_ndcg(y_true: np.ndarray, y_score: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Check inputs of :func:`ndcg_at_k`: 1-D, equal length, finite, non-negative relevance, k >= 1."""
    y_true, y_score = _validate_ranking(y_true, y_score)
    if (y_true < 0).any():
        raise ParameterError("relevance must be non-negative")
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    return y_true, y_score


def _dcg(y_true: np.ndarray, y_score: np.ndarray, k: int) -> float:
    # ties in y_score share the average gain of their group (scikit-learn's default)
    discount = 1.0 / np.log2(np.arange(len(y_true)) + 2)
    discount[k:] = 0.0
    cumulative = np.cumsum(discount)
    _, inverse, counts = np.unique(-y_score, return_inverse=True, return_counts=True)
    gains = np.zeros(len(counts))
    np.add.at(gains, inverse, y_true)
    gains /= counts
    ends = np.cumsum(counts) - 1
    group_discount = np.diff(np.concatenate([[0.0], cumulative[ends]]))
    return float((gains * group_discount).sum())


def ndcg_at_k(y_true: np.ndarray, y_score: np.ndarray, k: int = 30) -> float:
    """Normalised discounted cumulative gain of one ranking, cut at ``k``.

    Gains are the relevances themselves, discounts ``1 / log2(rank + 1)``, ties
    averaged; equals ``sklearn.metrics.ndcg_score([y_true], [y_score], k=k)``.
    Returns 0 when no item is relevant.
    """
    y_true, y_score = validate_ndcg(y_true, y_score, k)
    ideal = _dcg(y_true, y_true, k)
    return 0.0 if ideal == 0 else _dcg(y_true, y_score, k) / ideal


def validate_binary(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Check inputs of :func:`roc_auc`: 1-D, equal length, finite, labels in {0, 1}, both present."""
    y_true, y_score = _validate_ranking(y_true, y_score)
    if not np.isin(y_true, (0, 1)).all():
        raise ParameterError("labels must be 0 or 1")
    if y_true.min() == y_true.max():
        raise ParameterError("ROC-AUC needs both positive and negative labels")
    return y_true, y_score


def roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney U with average ranks for ties)."""
    from scipy.stats import rankdata

    y_true, y_score = validate_binary(y_true, y_score)
    ranks = rankdata(y_score)
    pos = y_true == 1
    n_pos, n_neg = int(pos.sum()), int((~pos).sum())
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# -------------------------------------------------------------------- protocols
def cooccurrence(catalog, tags: list[str], split: str = "test") -> np.ndarray:
    """(n_tags, n_tags) count of tracks of ``split`` (or ``"all"``) carrying both tags; diagonal zeroed."""
    ids = catalog.track_ids if split == "all" else catalog.split_ids(split)
    m = catalog.tag_matrix(ids, tags).astype(np.float64)
    c = m.T @ m
    np.fill_diagonal(c, 0.0)
    return c


def tag_rank_ndcg(wv, catalog, split: str = "test", k: int = 30) -> dict:
    """MWE Table III on a catalog: mean nDCG@k over query tags, overall and content/context."""
    return _tag_rank(wv, catalog, split, k).metrics


def _tag_rank(wv, catalog, split: str, k: int) -> MetricSet:
    """:func:`tag_rank_ndcg` with each query tag's nDCG kept as the unit of its metric."""
    tags = catalog.tags()
    if len(tags) < 2:
        raise ParameterError("tag rank prediction needs at least two tags in the catalog")
    cats = catalog.tag_categories()
    content = np.array([cats[t] in CONTENT_CATEGORIES for t in tags])
    co = cooccurrence(catalog, tags, split)
    _, found, _ = wv.vectors_for(tags)
    have = np.array([t in found for t in tags])
    vecs = np.zeros((len(tags), wv.dim), np.float32)
    for i, t in enumerate(tags):
        if have[i]:
            vecs[i] = found[t].vector
    sims = vecs @ vecs.T
    sims[:, ~have] = _MISSING_SCORE
    groups = {"all": (np.ones(len(tags), bool), np.ones(len(tags), bool))}
    if content.any() and (~content).any():
        groups.update({"ctn_ctn": (content, content), "ctn_ctx": (content, ~content),
                       "ctx_ctn": (~content, content), "ctx_ctx": (~content, ~content)})
    out = MetricSet(metrics={"tag_coverage": float(have.mean()), "tag_rank_split": split})
    for name, (queries, candidates) in groups.items():
        values = np.full(len(tags), np.nan)
        for q in np.where(queries & have)[0]:
            cand = candidates.copy()
            cand[q] = False
            if cand.sum() < 2 or co[q, cand].sum() == 0:
                continue
            values[q] = ndcg_at_k(co[q, cand], sims[q, cand], k)
        key = f"ndcg{k}_tag_rank" if name == "all" else f"ndcg{k}_{name}"
        units = Units.mean("tag", tags, values)
        out.metrics[key], out.units[(key,)] = units.value, units
        if name == "all":
            out.metrics["n_tag_queries"] = int(np.isfinite(values).sum())
    return out


def track_retrieval(wv, catalog, ks: tuple[int, ...] = RECALL_KS) -> dict:
    """MWE Tables IV-V for train-split track ids in the vocabulary; empty if there are none."""
    return _track_retrieval(wv, catalog, ks).metrics


def _track_retrieval(wv, catalog, ks: tuple[int, ...]) -> MetricSet:
    """:func:`track_retrieval` with per-tag and per-track units, and the chance level of each R@K."""
    train = [t for t in catalog.split_ids("train") if t in wv]
    if len(train) < 2:
        return MetricSet()
    tags = catalog.tags()
    labels = catalog.tag_matrix(train, tags)
    tracks = np.stack([wv.unit(t) for t in train])
    out = MetricSet(metrics={"n_tracks": len(train), "track_retrieval_split": "train"})
    _, found, _ = wv.vectors_for(tags)
    aucs = np.full(len(tags), np.nan)
    for j, tag in enumerate(tags):
        y = labels[:, j]
        if tag in found and 0 < y.sum() < len(y):
            aucs[j] = roc_auc(y, tracks @ found[tag].vector)
    units = Units.mean("tag", tags, aucs)
    out.metrics["roc_auc_query_by_tag"], out.units[("roc_auc_query_by_tag",)] = units.value, units
    sims = tracks @ tracks.T
    np.fill_diagonal(sims, -np.inf)
    shares = (labels @ labels.T) > 0
    np.fill_diagonal(shares, False)
    order = np.argsort(-sims, axis=1, kind="stable")
    has_tags = labels.sum(axis=1) > 0
    for k in ks:
        hits = np.full(len(train), np.nan)
        for i in np.where(has_tags)[0]:
            hits[i] = float(shares[i, order[i, :k]].any())
        chance = np.where(has_tags, recall_at_k_chance(np.full(len(train), len(train) - 1), shares.sum(axis=1), k),
                          np.nan)
        for key, values in ((f"recall@{k}_query_by_track", hits), (f"recall@{k}_query_by_track_chance", chance)):
            units = Units.mean("train_track", train, values)
            out.metrics[key], out.units[(key,)] = units.value, units
    return out


def word_embedding_evaluation(ws, name: str, split: str = "test", k: int = 30) -> tuple[dict, MetricSet]:
    """Evaluate ``words/<name>`` on the workspace catalog, keeping each metric's per-query units.

    Returns
    -------
    identity : dict
        ``{"domain", "label"}``.
    result : MetricSet
        ``metrics`` as :func:`evaluate_word_embedding`'s; ``units`` maps each
        metric's key path to its per-query :class:`~core.evaluation.units.Units`
        (query tags; train tracks), for intervals and paired comparisons.
    """
    wv = load_word_vectors(ws, name)
    catalog = ws.catalog
    result = _tag_rank(wv, catalog, split, k).add(_track_retrieval(wv, catalog, RECALL_KS))
    return {"domain": wv.domain, "label": wv.label}, result


def evaluate_word_embedding(ws, name: str, split: str = "test", k: int = 30) -> dict:
    """Evaluate ``words/<name>`` on the workspace catalog.

    Returns
    -------
    dict
        ``{"domain", "label", "metrics"}``: ``metrics`` has ``ndcg30_tag_rank``
        and its content/context parts (query tags of ``split``), and, for
        embeddings holding track ids, the train-track metrics
        ``roc_auc_query_by_tag``, ``recall@K_query_by_track`` and their chance
        levels ``recall@K_query_by_track_chance`` (with
        ``track_retrieval_split: "train"``). See the module docstring.
    """
    identity, result = word_embedding_evaluation(ws, name, split, k)
    return {**identity, "metrics": result.metrics}
