"""Tag-model evaluation: tagging, query by tag, zero-shot tags and query by track.

For a model with a text side (Won, Muslse, MWE) the score of test track ``i``
for tag ``j`` is the model's similarity between the track embedding and the tag
embedding (``encode_terms``): the cosine for normalised models, the raw inner
product otherwise (Muslse). On the resulting ``(tracks, tags)`` matrix:

* ``roc_auc_tag``, ``pr_auc_tag`` and ``p_at_10``: per tag over the test songs
  (query by tag; Won et al.'s Table 1 metrics);
* ``roc_auc_clip``: per song over the tags (tagging; Doh et al.);
* ``p_at_3`` ... ``p_at_15``: per song, the share of true tags among its k
  best-scored tags (Weston et al.'s tag prediction). Note that ``p_at_10`` is
  per *tag* and ``p_at_9``/``p_at_12`` per *song*;
* ``by_category``: ``{category: {roc_auc_tag, pr_auc_tag}}`` over the tags of
  each category;
* zero-shot (when the workspace has a seen/unseen tag split and the model was
  trained on none of the unseen tags): ``zeroshot_roc_auc_tag`` and
  ``zeroshot_roc_auc_clip`` over the unseen tags only, ``seen_roc_auc_tag`` and
  ``seen_roc_auc_clip`` over the seen ones; the other metrics then use all
  tags (Doh et al.'s generalised zero-shot setting).

``r_at_k`` (query by track, every model) is in :func:`query_by_track_metrics`.
"""

from __future__ import annotations

import numpy as np

from ..catalog import Catalog
from ..errors import VocabularyError
from .metrics import (RECALL_K, WESTON_K, WON_K, MacroScore, pr_auc_tag, precision_at_k, recall_at_k, roc_auc_clip,
                      roc_auc_tag)
from .similarity import distance_kind, similarity_matrix


def number(score: MacroScore | float | None) -> float | None:
    """A JSON-safe number: the mean of a :class:`MacroScore`, None for NaN or None."""
    if score is None:
        return None
    value = float(score)
    return None if np.isnan(value) else value


def encode_tags(model, tags: list[str], words=None) -> tuple[list[str], np.ndarray, list[str]]:
    """Embed tags with the model's text side, dropping (and naming) those it cannot encode.

    Returns
    -------
    encoded : list of str
        Tags that were embedded, in input order.
    vectors : np.ndarray, shape (len(encoded), dim)
    failed : list of str
        Tags the model raised :class:`VocabularyError` for (e.g. a word missing from the word embedding).
    """
    try:
        return list(tags), _as_numpy(model.encode_terms(list(tags), words)), []
    except VocabularyError:
        pass
    encoded, vectors, failed = [], [], []
    for tag in tags:
        try:
            vectors.append(_as_numpy(model.encode_terms([tag], words))[0])
            encoded.append(tag)
        except VocabularyError:
            failed.append(tag)
    return encoded, np.stack(vectors) if vectors else np.zeros((0, model.dim), np.float32), failed


def _as_numpy(x) -> np.ndarray:
    return x.detach().float().cpu().numpy() if hasattr(x, "detach") else np.asarray(x, dtype=np.float32)


def tag_scores(model, track_vectors: np.ndarray, tag_vectors: np.ndarray) -> np.ndarray:
    """``(n_tracks, n_tags)`` scores: cosine for normalised models, inner product otherwise."""
    a, b = np.asarray(track_vectors, np.float64), np.asarray(tag_vectors, np.float64)
    if model.normalized:
        a = a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)
        b = b / np.maximum(np.linalg.norm(b, axis=1, keepdims=True), 1e-12)
    return a @ b.T


def tagging_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict:
    """The tag metrics of one score matrix (see the module docstring); NaN becomes None."""
    out = {"roc_auc_tag": number(roc_auc_tag(y_true, scores)), "pr_auc_tag": number(pr_auc_tag(y_true, scores)),
           "roc_auc_clip": number(roc_auc_clip(y_true, scores)),
           f"p_at_{WON_K}": number(precision_at_k(y_true, scores, WON_K, by="tag"))}
    for k in WESTON_K:
        out[f"p_at_{k}"] = number(precision_at_k(y_true, scores, k, by="clip"))
    return out


def evaluate_tagging(model, catalog: Catalog, track_ids: list[str], track_vectors: np.ndarray, words=None,
                     unseen_tags: list[str] | None = None) -> tuple[dict, dict]:
    """Tag metrics of one model on the given (test) tracks.

    Parameters
    ----------
    model : EmbeddingModel
        With ``has_text``; its ``vocab["tags"]`` (default: every catalog tag)
        are the tags it was trained on.
    catalog : Catalog
    track_ids : list of str
        Rows of ``track_vectors``.
    track_vectors : np.ndarray, shape (n_tracks, dim)
    words : WordVectors, optional
        The model's word embedding (Won, MWE); None for a learned tag table.
    unseen_tags : list of str, optional
        The workspace's unseen tags. Zero-shot metrics are computed when none of
        them is among the model's training tags.

    Returns
    -------
    metrics : dict
    details : dict
        ``n_tags``, skipped tag/clip counts and ``tags_not_encoded``.
    """
    trained = list(getattr(model, "vocab", {}).get("tags") or catalog.tags())
    known = set(catalog.tags())
    zeroshot = bool(unseen_tags) and not set(unseen_tags) & set(trained)
    candidates = sorted((set(trained) | (set(unseen_tags) if zeroshot else set())) & known)
    tags, vectors, failed = encode_tags(model, candidates, words)
    details = {"n_tags": len(tags), "tags_not_encoded": failed}
    if not tags:
        return {}, details
    y_true = catalog.tag_matrix(track_ids, tags)
    scores = tag_scores(model, track_vectors, vectors)
    metrics = tagging_metrics(y_true, scores)
    details["tags_skipped"] = roc_auc_tag(y_true, scores).n_skipped
    details["clips_skipped"] = roc_auc_clip(y_true, scores).n_skipped

    categories = catalog.tag_categories()
    by_category = {}
    for category in catalog.categories():
        cols = [j for j, t in enumerate(tags) if categories.get(t) == category]
        if cols:
            by_category[category] = {"roc_auc_tag": number(roc_auc_tag(y_true[:, cols], scores[:, cols])),
                                     "pr_auc_tag": number(pr_auc_tag(y_true[:, cols], scores[:, cols]))}
    metrics["by_category"] = by_category

    if zeroshot:
        unseen = set(unseen_tags)
        for prefix, cols in (("zeroshot", [j for j, t in enumerate(tags) if t in unseen]),
                             ("seen", [j for j, t in enumerate(tags) if t not in unseen])):
            metrics[f"{prefix}_roc_auc_tag"] = number(roc_auc_tag(y_true[:, cols], scores[:, cols])) if cols else None
            metrics[f"{prefix}_roc_auc_clip"] = number(roc_auc_clip(y_true[:, cols], scores[:, cols])) if cols else None
        details["n_unseen_tags"] = sum(t in unseen for t in tags)
    return metrics, details


def query_by_track_relevance(catalog: Catalog, track_ids: list[str]) -> np.ndarray:
    """``(n, n)`` bool: track j is relevant to query track i when they share the artist or >= 1 tag.

    This widens Doh et al.'s rule (a retrieved track with the query's tag labels)
    with the artist, which the catalog always has. The diagonal is True.
    """
    tags = catalog.tag_matrix(track_ids).astype(np.float32)
    artists = catalog.tracks.set_index("track_id")["artist_id"].reindex(track_ids).to_numpy()
    return ((tags @ tags.T) > 0) | (artists[:, None] == artists[None, :])


def query_by_track_metrics(model, catalog: Catalog, track_ids: list[str], track_vectors: np.ndarray) -> dict:
    """``r_at_k`` over the given tracks: each track queries all the others.

    Returns
    -------
    dict
        ``{"1": R@1, "5": R@5, "10": R@10}`` (None when no query has a relevant
        track, or fewer than two tracks are given).
    """
    n = len(track_ids)
    if n < 2:
        return {str(k): None for k in RECALL_K}
    off_diagonal = ~np.eye(n, dtype=bool)
    relevant = query_by_track_relevance(catalog, track_ids)[off_diagonal].reshape(n, n - 1)
    vectors = np.asarray(track_vectors, np.float64)
    scores = similarity_matrix(vectors, vectors, distance_kind(model))[off_diagonal].reshape(n, n - 1)
    return {str(k): number(recall_at_k(relevant, scores, k)) for k in RECALL_K}
