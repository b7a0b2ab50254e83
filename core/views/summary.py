"""Tables for the home page: tracks with their tags, models with headline metrics."""

from __future__ import annotations

import pandas as pd

from ..catalog import Catalog
from ..fileio import read_json
from ..workspace import Workspace

#: (column title, dotted path into a model's metrics) shown on the home page.
HEADLINE_METRICS = (
    ("tag ROC-AUC", "roc_auc_tag"),
    ("tag PR-AUC", "pr_auc_tag"),
    ("P@10", "p_at_10"),
    ("zero-shot ROC-AUC", "zeroshot_roc_auc_tag"),
    ("triplet acc (sub-dims)", "triplet_acc.sub_dims.overall"),
    ("triplet acc (all dims)", "triplet_acc.all_dims.overall"),
    ("track triplets", "triplet_acc.track"),
)


def track_table(catalog: Catalog, query: str = "") -> pd.DataFrame:
    """One row per track: id, title, artist, split, bpm and its tags per category.

    ``query`` keeps rows whose id, title, artist or tags contain it (case-insensitive).
    """
    tags = catalog.track_tags.groupby(["track_id", "category"])["tag"].agg(lambda t: ", ".join(sorted(t)))
    wide = tags.unstack("category") if len(tags) else pd.DataFrame()
    names = dict(zip(catalog.artists["artist_id"], catalog.artists["name"]))
    table = catalog.tracks[["track_id", "title", "artist_id", "split", "bpm", "duration"]].copy()
    table.insert(2, "artist", table.pop("artist_id").map(names))
    table = table.merge(wide, left_on="track_id", right_index=True, how="left")
    if query:
        text = table.apply(lambda row: " ".join(str(v) for v in row.to_numpy() if pd.notna(v)), axis=1).str.lower()
        table = table[text.str.contains(query.lower(), regex=False)]
    return table.reset_index(drop=True)


def splits_table(splits: dict[str, int]) -> pd.DataFrame:
    """The splits as a small table: split, tracks, share of the catalog (%)."""
    total = sum(splits.values())
    return pd.DataFrame({"split": list(splits), "tracks": [int(n) for n in splits.values()],
                         "share": [f"{100 * n / total:.0f}%" if total else "–" for n in splits.values()]})


def _at(tree: dict, dotted: str):
    """The value at a dotted path of a nested dict, or None."""
    value = tree
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _dig(metrics: dict, dotted: str):
    value = _at(metrics, dotted)
    return value if isinstance(value, (int, float)) else None


def _dig_interval(intervals: dict, dotted: str) -> list | None:
    """``[low, high]`` at a dotted path of an ``intervals`` tree (it mirrors ``metrics``), or None."""
    value = _at(intervals, dotted)
    return list(value) if isinstance(value, (list, tuple)) and len(value) == 2 else None


def load_evaluation(ws: Workspace) -> dict | None:
    """The workspace's evaluation JSON, or None if not computed yet (an unreadable file raises DataError)."""
    if not ws.evaluation_path.exists():
        return None
    return read_json(ws.evaluation_path)


def model_configs(ws: Workspace) -> dict[str, dict]:
    """``config.json`` of every trained model (plain JSON: no torch import on the home page)."""
    return {name: ws.model_config(name) for name in ws.model_names()}


def headline_metrics(evaluation: dict | None, model_names: list[str], configs: dict | None = None) -> pd.DataFrame:
    """One row per model: family, variant, what its network adds to the paper's, and its headline metrics.

    ``configs`` maps model names to their ``config.json``; the ``adds`` column names the
    non-paper parts it records (the rhythm branch), blank for the papers' networks.
    """
    entries = (evaluation or {}).get("models", {})
    rows = []
    for name in model_names:
        entry = entries.get(name, {})
        model = ((configs or {}).get(name) or {}).get("model") or {}
        row = {"model": name, "family": entry.get("family", ""), "variant": entry.get("variant", ""),
               "adds": "rhythm branch" if model.get("rhythm") else ""}
        for title, path in HEADLINE_METRICS:
            row[title] = _dig(entry.get("metrics", {}), path)
        rows.append(row)
    table = pd.DataFrame(rows, columns=["model", "family", "variant", "adds", *[t for t, _ in HEADLINE_METRICS]])
    # drop metric columns no model has
    return table.dropna(axis=1, how="all")


def headline_table(evaluation: dict | None, model_names: list[str], configs: dict | None = None) -> pd.DataFrame:
    """:func:`headline_metrics` as text cells, each metric with its 95% interval: ``0.864 [0.841, 0.886]``.

    What Home shows: every number it reports carries its interval ("–" where a model has no value).
    """
    from .results import table_with_intervals

    values = headline_metrics(evaluation, model_names, configs)
    entries = (evaluation or {}).get("models", {})
    intervals = values.copy().astype(object)
    for title, path in HEADLINE_METRICS:
        if title in values:
            intervals[title] = [_dig_interval(entries.get(name, {}).get("intervals", {}), path)
                                for name in values["model"]]
    return table_with_intervals(values, intervals)

