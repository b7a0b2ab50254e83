"""Result tables laid out like the seed papers' tables, with intervals, comparisons and markdown.

:func:`results_tables` turns an evaluation (the dict written to
``evaluation.json``) into pandas DataFrames of values; :func:`results_intervals`
gives frames of the same shape whose metric cells are ``[low, high]`` (the 95%
bootstrap interval) or None; :func:`comparison_table` lists the paired
comparisons with their verdicts; :func:`markdown_report` renders all of them,
each value with its interval, followed by the published numbers
(:mod:`core.evaluation.published`). The app's Results page and the README use
these functions.
"""

from __future__ import annotations

import math

import pandas as pd

from ..catalog import CATEGORIES, SIMILARITY_DIMENSIONS
from .metrics import RECALL_K, WESTON_K, WON_K
from .published import published_numbers, published_tables
from .query_by_track import HEADLINE_RELEVANCE, JACCARD_THRESHOLD, RELEVANCE

_DIM_LABELS = {"genre": "Genre", "mood": "Mood", "instrument": "Instruments", "tempo": "Tempo", "overall": "Overall"}
_RELEVANCE_LABELS = {"genre": "same genre", "instrument_family": "same instrument family",
                     "tag_jaccard": "tag sets overlap"}

#: Table key -> caption (in report order).
CAPTIONS = {
    "query_by_tag": "Query by tag and tagging on the test split (Won et al. Table 1: PR-AUC and P@10 per tag; "
                    "ROC-AUC per tag and per clip)",
    "common_tags": "The same metrics on the tags every tag model is scored on",
    "tag_sets": "Which tags each model is scored on (the `tags` column above), and why the others are left out",
    "by_category": "Per tag category (Won et al. README, category-wise results)",
    "triplets": "Triplet accuracy on held-out category triplets (Lee et al. Table 1)",
    "track_triplets": "Triplet accuracy on track triplets of 3 s excerpts (Lee et al. Table 2, Track column)",
    "tag_prediction": "Tag prediction per song, precision at k (Weston et al. Tables 2-3)",
    "zero_shot": "Seen and unseen (zero-shot) tags (Doh et al. Table VIII)",
    "query_by_track": f"Query by track, recall at k: a hit's tag set overlaps the query's (Jaccard >= "
                      f"{JACCARD_THRESHOLD}), clips of the query's own piece excluded; chance = a random ranking "
                      f"(Doh et al. Table VII)",
    "query_by_track_relevance": "Query by track per relevance rule: same genre, same instrument family, "
                                "tag sets overlap (`queries`: test tracks with a relevant candidate)",
    "word_embeddings": "Word embeddings (Doh et al. Table III: tag rank prediction, nDCG@30, on test-split "
                       "co-occurrence; track metrics on train tracks, Tables IV-V)",
}

#: Columns that hold counts, not metrics (no interval, not drawn as bars).
COUNT_COLUMNS = ("tags", "queries", "n_tag_queries", "n_tracks", "tag_coverage")
#: Suffix of the columns holding a chance level (drawn as markers, printed without interval).
CHANCE_SUFFIX = " chance"

#: How to read the tables (appended to the markdown report).
NOTES = (
    "Every value comes with its 95% bootstrap interval [low, high] (2,000 seeded resamples: test tracks for",
    "per-song, query-by-track and triplet metrics, triplets by their anchor track; tags for per-tag metrics).",
    "P@10 ranks the test songs for each tag (Won et al.); P@3 to P@15 rank the tags for each song (Weston et al.).",
    "Tags or songs without a positive (or, for ROC-AUC and PR-AUC, without a negative) are skipped;",
    "ties count by their expected share.",
    "Each tag model is scored on its own vocabulary (Won et al.'s text models leave numeric and rare tags out,",
    "Muslse has every train tag, MWE its seen tags plus the unseen ones): compare families on the common tag set.",
    "Triplet accuracy: full songs for genre, mood, instruments and tempo (shared tag; tempo within 5 BPM),",
    "3 s excerpts of one song (overlap <= 50%) against another song for Track; Overall is the mean of the four.",
    "Sub-dimension rows exist only for models with genre/mood/instrument/tempo subspaces.",
    "Query by track never ranks or counts clips cut from the query's own piece; chance is the expected R@K of a",
    "random ranking (exact, per query). Word-embedding track metrics use train tracks (test tracks have no vector).",
    "Unseen tags are the workspace's zero-shot split, never seen in training.",
)


def _get(d: dict, *keys):
    for key in keys:
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


def _models(evaluation: dict, need: str | None = None) -> list[tuple[str, dict]]:
    models = sorted(evaluation.get("models", {}).items(), key=lambda kv: (kv[1].get("family", ""), kv[0]))
    return [(n, e) for n, e in models if need is None or _get(e, "metrics", need) is not None]


def _category_order(category: str) -> tuple:
    return (CATEGORIES.index(category) if category in CATEGORIES else 99, category)


def _tables(evaluation: dict, source: str) -> dict[str, pd.DataFrame]:
    """The report tables, their metric cells read from ``source`` (``metrics`` or ``intervals``)."""
    def ident(name, entry):
        return {"model": name, "family": entry.get("family"), "variant": entry.get("variant")}

    def value(entry, *path):
        return _get(entry, source, *path)

    def count(number):  # counts have no interval
        return number if source == "metrics" else None

    tables = {}
    tables["query_by_tag"] = pd.DataFrame([
        {**ident(n, e), "tags": count(_get(e, "details", "n_tags")), "PR-AUC": value(e, "pr_auc_tag"),
         f"P@{WON_K}": value(e, f"p_at_{WON_K}"), "ROC-AUC (tag)": value(e, "roc_auc_tag"),
         "ROC-AUC (clip)": value(e, "roc_auc_clip")}
        for n, e in _models(evaluation, "roc_auc_tag")])

    common = evaluation.get("common_tags") or {}
    entries = evaluation.get("models", {})
    tables["common_tags"] = pd.DataFrame([
        {**ident(n, entries.get(n, {})), "tags": count(len(common.get("tags", []))),
         "PR-AUC": value(c, "pr_auc_tag"), f"P@{WON_K}": value(c, f"p_at_{WON_K}"),
         "ROC-AUC (tag)": value(c, "roc_auc_tag"), "ROC-AUC (clip)": value(c, "roc_auc_clip"),
         "P@3": value(c, "p_at_3")}
        for n, c in sorted(common.get("models", {}).items()) if len(common.get("models", {})) > 1])

    tables["tag_sets"] = pd.DataFrame([
        {"model": n, "family": e.get("family"), "tags scored": _get(e, "details", "n_tags"),
         "left out": _left_out_text(_get(e, "details", "tags_left_out") or {})}
        for n, e in _models(evaluation, "roc_auc_tag")])

    rows = []
    for n, e in _models(evaluation, "by_category"):
        row = {"model": n}
        for category in sorted(e["metrics"]["by_category"], key=_category_order):
            row[f"{category} ROC-AUC"] = value(e, "by_category", category, "roc_auc_tag")
            row[f"{category} PR-AUC"] = value(e, "by_category", category, "pr_auc_tag")
        rows.append(row)
    tables["by_category"] = pd.DataFrame(rows)

    rows = []
    for space, key in (("all dimensions", "all_dims"), ("sub-dimensions", "sub_dims")):
        for n, e in _models(evaluation, "triplet_acc"):
            if _get(e, "metrics", "triplet_acc", key) is not None:
                rows.append({"space": space, "model": n, "variant": e.get("variant"),
                             **{_DIM_LABELS[d]: value(e, "triplet_acc", key, d)
                                for d in (*SIMILARITY_DIMENSIONS, "overall")}})
    tables["triplets"] = pd.DataFrame(rows)
    tables["track_triplets"] = pd.DataFrame([
        {**ident(n, e), "Track": value(e, "triplet_acc", "track")} for n, e in _models(evaluation, "triplet_acc")])
    tables["tag_prediction"] = pd.DataFrame([
        {**ident(n, e), **{f"P@{k}": value(e, f"p_at_{k}") for k in WESTON_K}}
        for n, e in _models(evaluation, f"p_at_{WESTON_K[0]}")])
    tables["zero_shot"] = pd.DataFrame([
        {**ident(n, e), "ROC-AUC clip (all tags)": value(e, "roc_auc_clip"),
         "ROC-AUC tag (all tags)": value(e, "roc_auc_tag"),
         "ROC-AUC clip (seen)": value(e, "seen_roc_auc_clip"), "ROC-AUC tag (seen)": value(e, "seen_roc_auc_tag"),
         "ROC-AUC clip (unseen)": value(e, "zeroshot_roc_auc_clip"),
         "ROC-AUC tag (unseen)": value(e, "zeroshot_roc_auc_tag")}
        for n, e in _models(evaluation, "zeroshot_roc_auc_tag")])

    def recall_columns(entry, rule):
        out = {}
        for k in RECALL_K:
            out[f"R@{k}"] = value(entry, "r_at_k_relevance", rule, str(k))
            out[f"R@{k}{CHANCE_SUFFIX}"] = None if source != "metrics" else value(entry, "r_at_k_chance", rule, str(k))
        out["queries"] = count(_get(entry, "details", "r_at_k", "queries", rule))
        return out

    tables["query_by_track"] = pd.DataFrame([
        {**ident(n, e), **recall_columns(e, HEADLINE_RELEVANCE)} for n, e in _models(evaluation, "r_at_k_relevance")])
    tables["query_by_track_relevance"] = pd.DataFrame([
        {"model": n, "relevance": _RELEVANCE_LABELS.get(rule, rule), **recall_columns(e, rule)}
        for rule in RELEVANCE for n, e in _models(evaluation, "r_at_k_relevance")])

    rows = []
    for name, entry in sorted(evaluation.get("word_embeddings", {}).items()):
        numbers = _flatten(entry.get("metrics", {}))
        if source != "metrics":
            intervals = _flatten_intervals(entry.get("intervals", {}))
            numbers = {key: intervals.get(key) for key in numbers}
        train = entry.get("metrics", {}).get("track_retrieval_split") == "train"
        rows.append({"word embedding": name, "domain": entry.get("domain"),
                     **{_word_column(key, train): v for key, v in numbers.items()}})
    tables["word_embeddings"] = pd.DataFrame(rows)
    return tables


def _word_column(key: str, train_tracks: bool) -> str:
    """Word-embedding column name; track metrics say they were measured on train tracks."""
    is_track_metric = key.startswith(("recall@", "roc_auc_query_by_tag", "n_tracks"))
    return f"{key} (train tracks)" if train_tracks and is_track_metric else key


def _left_out_text(left_out: dict[str, str]) -> str:
    """``{tag: reason}`` as "reason: tag, tag; reason: tag" (empty when nothing is left out)."""
    by_reason: dict[str, list[str]] = {}
    for tag, reason in sorted(left_out.items()):
        by_reason.setdefault(reason, []).append(tag)
    return "; ".join(f"{reason}: {', '.join(tags)}" for reason, tags in sorted(by_reason.items()))


def results_tables(evaluation: dict) -> dict[str, pd.DataFrame]:
    """Tables of one evaluation, keyed as :data:`CAPTIONS`; tables without rows are left out.

    Every table has plain columns (no index): identifiers first (``model``,
    ``family``, ``variant``, or ``space`` for the triplet table), then numbers
    (None where a metric was undefined). Count columns are :data:`COUNT_COLUMNS`;
    chance levels end in :data:`CHANCE_SUFFIX`.

    Parameters
    ----------
    evaluation : dict
        As returned by :func:`core.evaluation.run.evaluate_workspace` (or read from ``evaluation.json``).

    Returns
    -------
    dict of str -> pandas.DataFrame
    """
    return {key: frame for key, frame in _tables(evaluation, "metrics").items() if not frame.empty}


def results_intervals(evaluation: dict) -> dict[str, pd.DataFrame]:
    """Frames shaped like :func:`results_tables`' whose metric cells are ``[low, high]`` or None.

    Identifier cells are the same as the values'; counts and chance levels have
    None (they are shown without interval).
    """
    tables = _tables(evaluation, "intervals")
    return {key: tables[key] for key in results_tables(evaluation)}


def _flatten(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
            out[f"{prefix}{key}"] = value
    return out


def _flatten_intervals(intervals: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in intervals.items():
        if isinstance(value, dict):
            out.update(_flatten_intervals(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def verdict(comparison: dict) -> str:
    """``"A higher"``, ``"B higher"`` or ``"not distinguishable"`` (the interval covers 0)."""
    if not comparison.get("distinguishable"):
        return "not distinguishable"
    return "A higher" if comparison["difference"] > 0 else "B higher"


def comparison_table(evaluation: dict) -> pd.DataFrame:
    """The paired comparisons: claim, A, B, metric(s), both values, A - B, its interval, the verdict."""
    rows = []
    for c in evaluation.get("comparisons", []):
        interval = c.get("interval") or [None, None]
        metric = c["metric"] if c["metric"] == c.get("metric_b", c["metric"]) else f"{c['metric']} vs {c['metric_b']}"
        rows.append({"claim": c["claim"], "A": c["a"], "B": c["b"], "metric": metric, "A value": c["a_value"],
                     "B value": c["b_value"], "A - B": c["difference"], "low": interval[0], "high": interval[1],
                     "verdict": verdict(c)})
    return pd.DataFrame(rows, columns=["claim", "A", "B", "metric", "A value", "B value", "A - B", "low", "high",
                                       "verdict"])


# --------------------------------------------------------------- markdown
def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:.1f}"
    return str(value).replace("|", "\\|")


def _cell_with_interval(value, interval) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or not isinstance(interval, (list, tuple)):
        return _cell(value)
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def markdown_table(frame: pd.DataFrame, intervals: pd.DataFrame | None = None) -> str:
    """A DataFrame as a GitHub markdown table.

    Numbers to 4 decimals, missing values as a dash; with ``intervals`` (same
    shape, cells ``[low, high]``), a value with an interval is written
    ``0.864 [0.841, 0.886]``.
    """
    columns = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in columns) + " |",
             "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
    for i, row in enumerate(frame.itertuples(index=False)):
        cells = []
        for j, v in enumerate(row):
            v = v.item() if hasattr(v, "item") else v
            interval = intervals.iat[i, j] if intervals is not None else None
            cells.append(_cell_with_interval(v, interval))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _comparison_lines(evaluation: dict) -> list[str]:
    frame = comparison_table(evaluation)
    if frame.empty:
        return []
    lines = ["## Paired comparisons (A - B, 95% paired bootstrap interval)", "",
             "| claim | A | B | metric | A | B | A - B [95% interval] | verdict |", "|---|---|---|---|---:|---:|---:|---|"]
    for row in frame.to_dict("records"):
        has_interval = row["low"] is not None and not pd.isna(row["low"])
        interval = f" [{row['low']:+.3f}, {row['high']:+.3f}]" if has_interval else ""
        lines.append(f"| {_cell(row['claim'])} | {row['A']} | {row['B']} | {_cell(row['metric'])} | "
                     f"{row['A value']:.3f} | {row['B value']:.3f} | {row['A - B']:+.3f}{interval} | {row['verdict']} |")
    return lines + ["", "A difference is *not distinguishable* when its interval contains 0 (same resamples of "
                        "the shared test tracks or tags for both sides).", ""]


def markdown_report(evaluation: dict, published: bool = True) -> str:
    """The evaluation as markdown: tables with intervals, the paired comparisons, then the published numbers.

    Parameters
    ----------
    evaluation : dict
        As written to ``evaluation.json``.
    published : bool
        Append the papers' published numbers (each labelled with its dataset).
    """
    parts = ["# Evaluation", "",
             f"Split: {evaluation.get('split', 'test')}; created {evaluation.get('created', '?')}; "
             f"catalog fingerprint `{evaluation.get('workspace_fingerprint', '?')}`.", ""]
    tables = results_tables(evaluation)
    intervals = results_intervals(evaluation)
    if not tables:
        parts += ["No evaluated model or word embedding.", ""]
    for key, frame in tables.items():
        caption = CAPTIONS[key]
        if key == "common_tags":
            caption += f" ({len(evaluation['common_tags']['tags'])} tags)"
        parts += [f"## {caption}", "", markdown_table(frame, intervals[key]), ""]
    parts += _comparison_lines(evaluation)
    for name, message in sorted(evaluation.get("errors", {}).items()):
        parts.append(f"- **{name}** could not be evaluated: {message}")
    if tables:
        parts += ["", "Notes: " + " ".join(NOTES), ""]
    if published:
        parts += ["", "# Published numbers (context only: different data, full-size models, no intervals)", ""]
        frames = published_tables()
        for key, meta in published_numbers().items():
            parts += [f"## {meta['source']}", "", f"*{meta['label']}: {meta['dataset']}.*", "",
                      markdown_table(frames[key]), ""]
    return "\n".join(parts).rstrip() + "\n"


def summary_lines(evaluation: dict) -> list[str]:
    """One line per model and word embedding with its headline numbers (the CLI's default output)."""
    lines = []
    for name, entry in _models(evaluation):
        m = entry.get("metrics", {})
        bits = [f"{name} ({entry.get('family')}/{entry.get('variant')})"]
        for label, value in (("ROC-AUC tag", m.get("roc_auc_tag")), ("PR-AUC", m.get("pr_auc_tag")),
                             (f"P@{WON_K}", m.get(f"p_at_{WON_K}")), ("P@3", m.get("p_at_3")),
                             ("zero-shot ROC-AUC tag", m.get("zeroshot_roc_auc_tag")),
                             ("triplets overall", _get(m, "triplet_acc", "all_dims", "overall")),
                             ("sub-dims overall", _get(m, "triplet_acc", "sub_dims", "overall")),
                             ("track triplets", _get(m, "triplet_acc", "track"))):
            if value is not None:
                bits.append(f"{label} {value:.3f}")
        lines.append("  ".join(bits))
    for name, entry in sorted(evaluation.get("word_embeddings", {}).items()):
        numbers = ", ".join(f"{k} {v:.3f}" for k, v in _flatten(entry.get("metrics", {})).items() if v is not None)
        lines.append(f"{name} (word embedding, {entry.get('domain')})  {numbers}")
    distinguishable = sum(bool(c.get("distinguishable")) for c in evaluation.get("comparisons", []))
    if evaluation.get("comparisons"):
        lines.append(f"{len(evaluation['comparisons'])} paired comparisons, {distinguishable} distinguishable "
                     f"(see --markdown)")
    return lines or ["no model or word embedding evaluated"]
