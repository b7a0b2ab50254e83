"""Result tables laid out like the seed papers' tables, and the papers' published numbers.

:func:`results_tables` turns an evaluation (the dict written to
``evaluation.json``) into pandas DataFrames; :func:`markdown_report` renders
them, followed by the published numbers, as markdown. The app's Results page
and the README use these functions.

The published numbers (:func:`published_numbers`) were measured on other data
(the Million Song Dataset, or TagATune for Weston et al.), with full-size models
trained for days; they are context for the demo's numbers, never targets.
"""

from __future__ import annotations

import math

import pandas as pd

from ..catalog import CATEGORIES, SIMILARITY_DIMENSIONS
from .metrics import RECALL_K, WESTON_K, WON_K

_DIM_LABELS = {"genre": "Genre", "mood": "Mood", "instrument": "Instruments", "tempo": "Tempo", "overall": "Overall"}

#: Table key -> caption (in report order).
CAPTIONS = {
    "query_by_tag": "Query by tag and tagging on the test split (Won et al. Table 1: PR-AUC and P@10 per tag; "
                    "ROC-AUC per tag and per clip)",
    "by_category": "Per tag category (Won et al. README, category-wise results)",
    "triplets": "Triplet accuracy on held-out category triplets (Lee et al. Table 1)",
    "track_triplets": "Triplet accuracy on track triplets of 3 s excerpts (Lee et al. Table 2, Track column)",
    "tag_prediction": "Tag prediction per song, precision at k (Weston et al. Tables 2-3)",
    "zero_shot": "Seen and unseen (zero-shot) tags (Doh et al. Table VIII)",
    "query_by_track": "Query by track, recall at k: a hit shares the artist or a tag (Doh et al. Table VII)",
    "word_embeddings": "Word embeddings (Doh et al. Table III: tag rank prediction, nDCG@30)",
}


#: How to read the tables (appended to the markdown report).
NOTES = (
    "P@10 ranks the test songs for each tag (Won et al.); P@3 to P@15 rank the tags for each song (Weston et al.).",
    "Tags or songs without a positive (or, for ROC-AUC and PR-AUC, without a negative) are skipped;",
    "ties count by their expected share.",
    "Triplet accuracy: full songs for genre, mood, instruments and tempo (shared tag; tempo within 5 BPM),",
    "3 s excerpts of one song (overlap <= 50%) against another song for Track; Overall is the mean of the four.",
    "Sub-dimension rows exist only for models with genre/mood/instrument/tempo subspaces.",
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


def results_tables(evaluation: dict) -> dict[str, pd.DataFrame]:
    """Tables of one evaluation, keyed as :data:`CAPTIONS`; tables without rows are left out.

    Every table has plain columns (no index): identifiers first (``model``,
    ``family``, ``variant``, or ``space`` for the triplet table), then numbers
    (None where a metric was undefined).

    Parameters
    ----------
    evaluation : dict
        As returned by :func:`core.evaluation.run.evaluate_workspace` (or read from ``evaluation.json``).

    Returns
    -------
    dict of str -> pandas.DataFrame
    """
    def ident(name, entry):
        return {"model": name, "family": entry.get("family"), "variant": entry.get("variant")}

    tables = {}
    tables["query_by_tag"] = pd.DataFrame([
        {**ident(n, e), "PR-AUC": _get(e, "metrics", "pr_auc_tag"), f"P@{WON_K}": _get(e, "metrics", f"p_at_{WON_K}"),
         "ROC-AUC (tag)": _get(e, "metrics", "roc_auc_tag"), "ROC-AUC (clip)": _get(e, "metrics", "roc_auc_clip")}
        for n, e in _models(evaluation, "roc_auc_tag")])

    rows = []
    for n, e in _models(evaluation, "by_category"):
        row = {"model": n}
        by_category = e["metrics"]["by_category"]
        for category in sorted(by_category, key=lambda c: (CATEGORIES.index(c) if c in CATEGORIES else 99, c)):
            values = by_category[category]
            row[f"{category} ROC-AUC"] = values.get("roc_auc_tag")
            row[f"{category} PR-AUC"] = values.get("pr_auc_tag")
        rows.append(row)
    tables["by_category"] = pd.DataFrame(rows)

    rows = []
    for space, key in (("all dimensions", "all_dims"), ("sub-dimensions", "sub_dims")):
        for n, e in _models(evaluation, "triplet_acc"):
            values = _get(e, "metrics", "triplet_acc", key)
            if values is not None:
                rows.append({"space": space, "model": n, "variant": e.get("variant"),
                             **{_DIM_LABELS[d]: values.get(d) for d in (*SIMILARITY_DIMENSIONS, "overall")}})
    tables["triplets"] = pd.DataFrame(rows)
    tables["track_triplets"] = pd.DataFrame([
        {**ident(n, e), "Track": _get(e, "metrics", "triplet_acc", "track")}
        for n, e in _models(evaluation, "triplet_acc")])
    tables["tag_prediction"] = pd.DataFrame([
        {**ident(n, e), **{f"P@{k}": _get(e, "metrics", f"p_at_{k}") for k in WESTON_K}}
        for n, e in _models(evaluation, f"p_at_{WESTON_K[0]}")])
    tables["zero_shot"] = pd.DataFrame([
        {**ident(n, e), "ROC-AUC clip (all tags)": _get(e, "metrics", "roc_auc_clip"),
         "ROC-AUC tag (all tags)": _get(e, "metrics", "roc_auc_tag"),
         "ROC-AUC clip (seen)": _get(e, "metrics", "seen_roc_auc_clip"),
         "ROC-AUC tag (seen)": _get(e, "metrics", "seen_roc_auc_tag"),
         "ROC-AUC clip (unseen)": _get(e, "metrics", "zeroshot_roc_auc_clip"),
         "ROC-AUC tag (unseen)": _get(e, "metrics", "zeroshot_roc_auc_tag")}
        for n, e in _models(evaluation, "zeroshot_roc_auc_tag")])
    tables["query_by_track"] = pd.DataFrame([
        {**ident(n, e), **{f"R@{k}": _get(e, "metrics", "r_at_k", str(k)) for k in RECALL_K}}
        for n, e in _models(evaluation, "r_at_k")])
    rows = []
    for name, entry in sorted(evaluation.get("word_embeddings", {}).items()):
        rows.append({"word embedding": name, "domain": entry.get("domain"), **_flatten(entry.get("metrics", {}))})
    tables["word_embeddings"] = pd.DataFrame(rows)
    return {key: frame for key, frame in tables.items() if not frame.empty}


def _flatten(metrics: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif value is None or isinstance(value, (int, float)):
            out[f"{prefix}{key}"] = value
    return out


# ------------------------------------------------------------- published
_MSD = "published, different dataset (MSD)"


def published_numbers() -> dict:
    """The seed papers' published results, as plain data.

    Returns
    -------
    dict
        Table key -> ``{"label", "source", "dataset", "columns", "rows"}`` where
        ``rows`` is a list of lists (identifier columns first). The label says
        the numbers come from a different dataset than the workspace's.
    """
    doh_tagging_models = [
        ("1D-CNN", "GloVe", "Tag"), ("1D-CNN", "MWE", "Tag"), ("1D-CNN", "MWE (Aug)", "Tag"),
        ("Transformer", "GloVe", "Tag"), ("Transformer", "MWE", "Tag"), ("Transformer", "MWE (Aug)", "Tag"),
        ("Transformer", "MWE", "Artist ID"), ("Transformer", "MWE (Aug)", "Artist ID"),
        ("Transformer", "MWE", "Track ID"), ("Transformer", "MWE (Aug)", "Track ID"),
        ("Transformer", "MWE", "Tag, Artist ID"), ("Transformer", "MWE (Aug)", "Tag, Artist ID"),
        ("Transformer", "MWE", "Tag, Track ID"), ("Transformer", "MWE (Aug)", "Tag, Track ID"),
        ("Transformer", "MWE", "Artist ID, Track ID"), ("Transformer", "MWE (Aug)", "Artist ID, Track ID"),
        ("Transformer", "MWE", "Tag, Artist ID, Track ID"), ("Transformer", "MWE (Aug)", "Tag, Artist ID, Track ID"),
    ]
    table6 = [(0.890, 0.823), (0.912, 0.854), (0.918, 0.863), (0.927, 0.869), (0.926, 0.867), (0.932, 0.874),
              (0.894, 0.860), (0.888, 0.858), (0.892, 0.868), (0.892, 0.870), (0.929, 0.869), (0.933, 0.875),
              (0.930, 0.869), (0.932, 0.873), (0.907, 0.866), (0.896, 0.872), (0.932, 0.872), (0.935, 0.879)]
    table7 = [(29.6, 42.9, 57.2, 70.7), (35.9, 49.7, 63.9, 75.5), (38.6, 52.4, 65.8, 76.6),
              (44.1, 57.9, 70.2, 80.0), (41.8, 55.7, 68.7, 78.9), (44.0, 57.5, 70.3, 79.9),
              (44.0, 57.7, 70.1, 80.2), (43.7, 57.2, 70.0, 80.0), (44.5, 58.0, 70.4, 80.2),
              (44.0, 57.7, 70.2, 80.0), (43.9, 57.8, 70.2, 80.2), (45.8, 59.4, 71.5, 80.9),
              (45.0, 58.7, 70.7, 80.1), (45.2, 58.8, 70.8, 80.5), (46.8, 60.4, 72.3, 81.4),
              (46.6, 59.8, 71.9, 81.2), (45.7, 59.5, 71.8, 80.9), (47.1, 60.2, 71.9, 81.2)]
    table8 = [(0.904, 0.679), (0.941, 0.747), (0.943, 0.768), (0.906, 0.688), (0.954, 0.780), (0.955, 0.790),
              (0.911, 0.813), (0.926, 0.843), (0.889, 0.814), (0.884, 0.847), (0.958, 0.819), (0.961, 0.841),
              (0.953, 0.826), (0.959, 0.839), (0.875, 0.825), (0.896, 0.859), (0.954, 0.831), (0.959, 0.853)]
    dims = ["Genre", "Mood", "Instruments", "Tempo", "Overall"]
    return {
        "query_by_tag": {
            "label": _MSD, "source": "Won et al. 2021, README Table 1 (acoustic model, MSD100)",
            "dataset": "MSD100 (Million Song Dataset, top-100 Last.fm tags)",
            "columns": ["sampling", "PR-AUC", "P@10"],
            "rows": [["random", 0.1658, 0.2990], ["balanced", 0.1675, 0.3160],
                     ["balanced-weighted", 0.1852, 0.3500]]},
        "triplets": {
            "label": _MSD, "source": "Lee et al. 2020, Table 1", "dataset": "Million Song Dataset, Last.fm tags",
            "columns": ["space", "model", *dims],
            "rows": [["all dimensions", "MFCC-VQ", 0.563, 0.481, 0.495, 0.516, 0.514],
                     ["all dimensions", "Track", 0.611, 0.595, 0.531, 0.534, 0.568],
                     ["all dimensions", "Category", 0.647, 0.633, 0.562, 0.875, 0.679],
                     ["all dimensions", "Category + track regularization", 0.647, 0.627, 0.561, 0.891, 0.681],
                     ["all dimensions", "Category + disentanglement", 0.708, 0.717, 0.657, 0.783, 0.716],
                     ["all dimensions", "Category + disentanglement + track regularization",
                      0.693, 0.704, 0.626, 0.836, 0.715],
                     ["sub-dimensions", "Set of specialized networks", 0.708, 0.619, 0.603, 0.942, 0.718],
                     ["sub-dimensions", "Category + disentanglement", 0.785, 0.790, 0.798, 0.955, 0.832],
                     ["sub-dimensions", "Category + disentanglement + track regularization",
                      0.765, 0.743, 0.700, 0.953, 0.790]]},
        "track_triplets": {
            "label": _MSD, "source": "Lee et al. 2020, Table 2", "dataset": "Million Song Dataset",
            "columns": ["model", "Track", "User"],
            "rows": [["MFCC-VQ", 0.833, 0.654], ["Track", 0.950, 0.763], ["Category", 0.975, 0.766],
                     ["Category + track regularization", 0.980, 0.740],
                     ["Category + disentanglement", 0.985, 0.763],
                     ["Category + disentanglement + track regularization", 0.988, 0.792]]},
        "tag_prediction": {
            "label": "published, different dataset (TagATune)",
            "source": "Weston et al. 2011, Table 3 (WARP vs AUC) and Table 2 (one-vs-rest)", "dataset": "TagATune",
            "columns": ["model", "loss", "features", "d", "P@3", "P@6", "P@9", "P@12", "P@15"],
            "rows": [["Muslse", "AUC", "MFCC", 100, 0.226, 0.179, 0.147, 0.128, 0.112],
                     ["Muslse", "WARP", "MFCC", 100, 0.371, 0.267, 0.212, 0.177, 0.153],
                     ["Muslse", "AUC", "MFCC", 400, 0.222, 0.179, 0.151, 0.131, 0.116],
                     ["Muslse", "WARP", "MFCC", 400, 0.382, 0.275, 0.219, 0.182, 0.157],
                     ["Muslse", "AUC", "MFCC + SAI", 100, 0.301, 0.217, 0.175, 0.147, 0.128],
                     ["Muslse", "WARP", "MFCC + SAI", 100, 0.452, 0.319, 0.248, 0.205, 0.174],
                     ["Muslse", "AUC", "MFCC + SAI", 400, 0.338, 0.248, 0.199, 0.166, 0.143],
                     ["Muslse", "WARP", "MFCC + SAI", 400, 0.473, 0.330, 0.256, 0.211, 0.179],
                     ["one-vs-rest", "-", "MFCC", None, 0.349, 0.244, 0.193, 0.154, 0.136],
                     ["one-vs-rest", "-", "MFCC + SAI", None, 0.362, 0.261, 0.221, 0.167, 0.151]]},
        "tagging_msd50": {
            "label": _MSD, "source": "Doh et al. 2023, Table VI (music tagging, top-50 tags)",
            "dataset": "Million Song Dataset, top-50 Last.fm tags",
            "columns": ["audio model", "word model", "supervision", "ROC-AUC (clip)", "ROC-AUC (tag)"],
            "rows": [[*m, *v] for m, v in zip(doh_tagging_models, table6)]},
        "zero_shot": {
            "label": _MSD, "source": "Doh et al. 2023, Table VIII (zero-shot: 900 seen, 226 unseen tags)",
            "dataset": "Million Song Dataset, 1,126 tags",
            "columns": ["audio model", "word model", "supervision", "ROC-AUC (clip)", "ROC-AUC (tag)"],
            "rows": [[*m, *v] for m, v in zip(doh_tagging_models, table8)]},
        "query_by_track": {
            "label": _MSD, "source": "Doh et al. 2023, Table VII (R@K in %, K = 1, 2, 4, 8; "
                                     "a hit has the query's tag labels)",
            "dataset": "Million Song Dataset",
            "columns": ["audio model", "word model", "supervision", "R@1", "R@2", "R@4", "R@8"],
            "rows": [[*m, *v] for m, v in zip(doh_tagging_models, table7)]
            + [["Disentangle proxy-based model", "-", "-", 45.0, 58.5, 71.0, 80.9]]},
        "word_embeddings": {
            "label": "published, different data (AllMusic and MTG-Jamendo tags)",
            "source": "Doh et al. 2023, Table III (tag rank prediction, nDCG@30)",
            "dataset": "AllMusic tags (seen in training) and MTG-Jamendo tags (unseen)",
            "columns": ["corpus", "AllMusic Ctn->Ctn", "AllMusic Ctn->Ctx", "AllMusic Ctx->Ctn", "AllMusic Ctx->Ctx",
                        "AllMusic average", "Jamendo Ctn->Ctn", "Jamendo Ctn->Ctx", "Jamendo Ctx->Ctn",
                        "Jamendo Ctx->Ctx", "Jamendo average"],
            "rows": [["Wiki (baseline)", 0.135, 0.133, 0.071, 0.259, 0.150, 0.416, 0.474, 0.321, 0.566, 0.444],
                     ["Wiki + Review", 0.165, 0.140, 0.043, 0.263, 0.153, 0.480, 0.505, 0.397, 0.566, 0.487],
                     ["Wiki + Tag + IDs", 0.281, 0.420, 0.078, 0.462, 0.310, 0.542, 0.485, 0.384, 0.563, 0.494],
                     ["Wiki + Review + Tag + IDs", 0.411, 0.516, 0.190, 0.487, 0.401,
                      0.553, 0.504, 0.390, 0.541, 0.497],
                     ["w/ shuffling augmentation", 0.529, 0.460, 0.261, 0.498, 0.437,
                      0.492, 0.509, 0.380, 0.542, 0.481],
                     ["Common Crawl GloVe", 0.196, 0.108, 0.047, 0.275, 0.157, 0.460, 0.499, 0.339, 0.595, 0.473],
                     ["Common Crawl SkipGram", 0.210, 0.134, 0.053, 0.268, 0.166,
                      0.440, 0.482, 0.358, 0.599, 0.470]]},
    }


def published_tables() -> dict[str, pd.DataFrame]:
    """:func:`published_numbers` as DataFrames (same keys)."""
    return {key: pd.DataFrame(t["rows"], columns=t["columns"]) for key, t in published_numbers().items()}


# --------------------------------------------------------------- markdown
def _cell(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) <= 1 else f"{value:.1f}"
    return str(value).replace("|", "\\|")


def markdown_table(frame: pd.DataFrame) -> str:
    """A DataFrame as a GitHub markdown table (numbers to 4 decimals, missing values as a dash)."""
    columns = [str(c) for c in frame.columns]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    lines = ["| " + " | ".join(c.replace("|", "\\|") for c in columns) + " |",
             "|" + "|".join("---:" if num else "---" for num in numeric) + "|"]
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v.item() if hasattr(v, "item") else v) for v in row) + " |")
    return "\n".join(lines)


def markdown_report(evaluation: dict, published: bool = True) -> str:
    """The evaluation as markdown: one section per table, then the published numbers.

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
    if not tables:
        parts += ["No evaluated model or word embedding.", ""]
    for key, frame in tables.items():
        parts += [f"## {CAPTIONS[key]}", "", markdown_table(frame), ""]
    for name, message in sorted(evaluation.get("errors", {}).items()):
        parts.append(f"- **{name}** could not be evaluated: {message}")
    if tables:
        parts += ["", "Notes: " + " ".join(NOTES), ""]
    if published:
        parts += ["", "# Published numbers (context only: different data, full-size models)", ""]
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
    return lines or ["no model or word embedding evaluated"]
