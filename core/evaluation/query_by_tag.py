"""Models with a text side: query by tag, tagging and zero-shot tags, from one track-by-tag score matrix.

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

Which tags a model is scored on
    Its own training vocabulary (``vocab.json``; every catalog tag when it has
    none), plus the unseen tags for a zero-shot model, minus tags its text side
    cannot encode. Families differ: Won et al.'s text models leave numeric and
    rare tags out, Muslse has every train tag, MWE its seen tags plus the unseen
    ones. ``details["tags"]`` lists the tags scored and ``details["tags_left_out"]``
    every other catalog tag with the reason; :func:`common_tag_metrics` scores
    all tag models on the tags they share.
"""

from __future__ import annotations

import numpy as np

from ..catalog import Catalog
from ..errors import VocabularyError
from .metrics import WESTON_K, WON_K, MacroScore, pr_auc_tag, precision_at_k, roc_auc_clip, roc_auc_tag
from .units import MetricSet, Units

#: Per-tag metrics (query by tag): key -> function of (y_true, scores) -> MacroScore over tags.
PER_TAG = {"roc_auc_tag": roc_auc_tag, "pr_auc_tag": pr_auc_tag,
           f"p_at_{WON_K}": lambda y, s: precision_at_k(y, s, WON_K, by="tag")}
#: Per-song metrics (tagging): key -> function of (y_true, scores) -> MacroScore over songs.
PER_CLIP = {"roc_auc_clip": roc_auc_clip,
            **{f"p_at_{k}": (lambda y, s, k=k: precision_at_k(y, s, k, by="clip")) for k in WESTON_K}}


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


def tagging_metrics(y_true: np.ndarray, scores: np.ndarray, track_ids: list[str], tags: list[str]) -> MetricSet:
    """The per-tag and per-song metrics of one score matrix, with their units (NaN becomes None)."""
    out = MetricSet()
    for key, metric in PER_TAG.items():
        units = Units.mean("tag", tags, metric(y_true, scores).values)
        out.metrics[key], out.units[(key,)] = units.value, units
    for key, metric in PER_CLIP.items():
        units = Units.mean("track", track_ids, metric(y_true, scores).values)
        out.metrics[key], out.units[(key,)] = units.value, units
    return out


def _left_out(model, catalog_tags: list[str], scored: list[str], failed: list[str]) -> dict[str, str]:
    """Catalog tags a model is not scored on, each with the reason."""
    vocab = getattr(model, "vocab", {}) or {}
    excluded = vocab.get("excluded_tags") or {}
    reasons = {t: "numeric tag, excluded from the vocabulary" for t in excluded.get("numeric", [])}
    reasons.update({t: "too few train tracks, excluded from the vocabulary" for t in excluded.get("rare", [])})
    reasons.update({t: "no vector in the word embedding" for t in failed})
    scored = set(scored)
    return {t: reasons.get(t, "not in the model's training vocabulary") for t in catalog_tags if t not in scored}


def evaluate_tagging(model, catalog: Catalog, track_ids: list[str], track_vectors: np.ndarray, words=None,
                     unseen_tags: list[str] | None = None) -> MetricSet:
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
    MetricSet
        ``metrics`` (see the module docstring) with their units; ``details``:
        ``n_tags``, ``tags``, ``tags_left_out`` ({tag: reason}),
        ``tags_not_encoded``, skipped tag/clip counts; ``arrays``: ``tag_scores``
        ``(n_tracks, n_tags)``, ``tag_truth`` and ``tags`` (for
        :func:`common_tag_metrics`).
    """
    trained = list(getattr(model, "vocab", {}).get("tags") or catalog.tags())
    known = set(catalog.tags())
    zeroshot = bool(unseen_tags) and not set(unseen_tags) & set(trained)
    candidates = sorted((set(trained) | (set(unseen_tags) if zeroshot else set())) & known)
    tags, vectors, failed = encode_tags(model, candidates, words)
    out = MetricSet(details={"n_tags": len(tags), "tags_not_encoded": failed, "tags": list(tags),
                             "tags_left_out": _left_out(model, catalog.tags(), tags, failed)})
    if not tags:
        return out
    track_ids = list(track_ids)
    y_true = catalog.tag_matrix(track_ids, tags).astype(bool)
    scores = tag_scores(model, track_vectors, vectors)
    out.add(tagging_metrics(y_true, scores, track_ids, tags))
    out.details["tags_skipped"] = int(out.units[("roc_auc_tag",)].den.size - out.units[("roc_auc_tag",)].den.sum())
    out.details["clips_skipped"] = int(len(track_ids) - out.units[("roc_auc_clip",)].den.sum())
    out.arrays.update({"tag_scores": scores, "tag_truth": y_true, "tags": np.asarray(tags, dtype=str)})

    categories = catalog.tag_categories()
    tag_ids = np.asarray(tags, dtype=str)
    by_category = {}
    for category in catalog.categories():
        cols = [j for j, t in enumerate(tags) if categories.get(t) == category]
        if not cols:
            continue
        by_category[category] = {}
        for key in ("roc_auc_tag", "pr_auc_tag"):
            whole = out.units[(key,)]  # per-tag values do not depend on the other tags
            units = Units(whole.kind, tag_ids[cols], whole.num[cols], whole.den[cols])
            by_category[category][key] = units.value
            out.units[("by_category", category, key)] = units
    out.metrics["by_category"] = by_category

    if zeroshot:
        unseen = set(unseen_tags)
        for prefix, cols in (("zeroshot", [j for j, t in enumerate(tags) if t in unseen]),
                             ("seen", [j for j, t in enumerate(tags) if t not in unseen])):
            if cols:
                tag_units = Units.mean("tag", tag_ids[cols], roc_auc_tag(y_true[:, cols], scores[:, cols]).values)
                clip_units = Units.mean("track", track_ids, roc_auc_clip(y_true[:, cols], scores[:, cols]).values)
            else:  # undefined metrics keep (empty) units, so every metric has an interval entry
                tag_units = Units.mean("tag", [], [])
                clip_units = Units.mean("track", track_ids, np.full(len(track_ids), np.nan))
            out.metrics[f"{prefix}_roc_auc_tag"], out.units[(f"{prefix}_roc_auc_tag",)] = tag_units.value, tag_units
            out.metrics[f"{prefix}_roc_auc_clip"], out.units[(f"{prefix}_roc_auc_clip",)] = clip_units.value, clip_units
        out.details["n_unseen_tags"] = sum(t in unseen for t in tags)
    return out


def common_tag_metrics(track_ids: list[str], tag_arrays: dict[str, dict]) -> tuple[list[str], dict[str, MetricSet]]:
    """Per-tag and per-song metrics of several tag models on the tags every one of them is scored on.

    Parameters
    ----------
    track_ids : list of str
        The test tracks (rows of every score matrix).
    tag_arrays : dict
        Model name -> ``{"tags", "tag_scores", "tag_truth"}`` (the arrays of :func:`evaluate_tagging`).

    Returns
    -------
    tags : list of str
        The common tags (sorted); empty when the models share none.
    results : dict
        Model name -> :class:`MetricSet` of :func:`tagging_metrics` on those tags.
    """
    if not tag_arrays:
        return [], {}
    common = sorted(set.intersection(*(set(map(str, a["tags"])) for a in tag_arrays.values())))
    if not common:
        return [], {}
    results = {}
    for name, arrays in tag_arrays.items():
        column = {str(t): j for j, t in enumerate(arrays["tags"])}
        cols = [column[t] for t in common]
        results[name] = tagging_metrics(np.asarray(arrays["tag_truth"], bool)[:, cols],
                                        np.asarray(arrays["tag_scores"], np.float64)[:, cols], track_ids, common)
    return common, results
