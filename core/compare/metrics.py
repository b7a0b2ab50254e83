"""Metric differences of two models from ``evaluation.json``, with paired 95% intervals, as tables.

The numbers come from :func:`core.evaluation.pairs.model_differences` and
:func:`~core.evaluation.pairs.tag_differences` (the evaluation's cached units,
resampled with its own bootstrap settings); this module only shapes them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from ..catalog import SIMILARITY_DIMENSIONS
from ..errors import DataError
from ..evaluation.pairs import model_differences, tag_differences
from ..fileio import read_json

DIFFERENCE_COLUMNS = ("group", "metric", "a_value", "b_value", "difference", "low", "high", "distinguishable")


def metric_group(metric: str) -> str:
    """The category a dotted metric path is about (``genre`` ... ``tempo``), else ``overall``."""
    parts = metric.split(".")
    if parts[0] == "by_category" and len(parts) > 1:
        return parts[1]
    if parts[0] == "triplet_acc" and len(parts) > 2 and parts[2] in SIMILARITY_DIMENSIONS:
        return parts[2]
    if parts[0] == "r_at_k_relevance" and len(parts) > 1:
        return parts[1]
    return "overall"


def _frame(rows: list[dict], key: str) -> pd.DataFrame:
    out = pd.DataFrame([{
        "group": metric_group(r[key]) if key == "metric" else r.get("category", ""),
        "metric": r[key], "a_value": r["a_value"], "b_value": r["b_value"], "difference": r["difference"],
        "low": (r.get("interval") or [None, None])[0], "high": (r.get("interval") or [None, None])[1],
        "distinguishable": r.get("distinguishable")} for r in rows], columns=list(DIFFERENCE_COLUMNS))
    return out.sort_values(["group", "metric"], kind="stable").reset_index(drop=True)


def read_evaluation(path: str | Path) -> dict:
    """``evaluation.json`` (raises :class:`DataError` naming the command when absent)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"no evaluation at {path}: run `python -m core evaluate --workspace {path.parent}`")
    return read_json(path)


def metric_difference_table(path: str | Path, a: str, b: str) -> pd.DataFrame:
    """Every metric both models have, A - B with its paired interval, grouped by category.

    Columns :data:`DIFFERENCE_COLUMNS`; ``distinguishable`` is False when the interval covers 0.
    """
    evaluation = read_evaluation(path)
    return _frame(model_differences(path, evaluation, a, b), "metric")


def tag_difference_table(path: str | Path, a: str, b: str, categories: dict[str, str] | None = None) -> pd.DataFrame:
    """Per-tag ROC-AUC of two tag models, A - B with intervals (empty when either has no text side).

    ``categories`` (tag -> category, e.g. ``Catalog.tag_categories()``) fills the ``group`` column.
    """
    evaluation = read_evaluation(path)
    rows = tag_differences(path, evaluation, a, b)
    for r in rows:
        r["category"] = (categories or {}).get(r["tag"], "")
    return _frame(rows, "tag").rename(columns={"metric": "tag"})


def difference_figure(frame: pd.DataFrame, label_column: str = "metric", title: str = "") -> go.Figure:
    """Each difference A - B as a point with its interval as an error bar, and a line at 0.

    Rows whose interval covers 0 (not distinguishable) are drawn grey.
    """
    rows = frame.dropna(subset=["difference"]).iloc[::-1]
    low = (rows["difference"] - rows["low"]).fillna(0).clip(lower=0)
    high = (rows["high"] - rows["difference"]).fillna(0).clip(lower=0)
    colours = ["#1f77b4" if d else "#999999" for d in rows["distinguishable"].fillna(False)]
    fig = go.Figure(go.Scatter(
        x=rows["difference"], y=rows[label_column].astype(str), mode="markers",
        marker={"color": colours, "size": 8},
        error_x={"type": "data", "symmetric": False, "array": high.tolist(), "arrayminus": low.tolist()},
        hovertemplate="%{y}: %{x:.3f}<extra></extra>"))
    fig.add_vline(x=0, line_width=1, line_color="black")
    fig.update_layout(title=title, height=max(240, 22 * len(rows) + 80), margin={"l": 10, "r": 10, "t": 40, "b": 10},
                      xaxis_title="A - B (95% interval)")
    return fig
