"""Figures and display tables of the Results page: bars with error bars, published bars, comparisons.

Built from :func:`core.evaluation.report.results_tables` /
:func:`~core.evaluation.report.results_intervals` frames, without Streamlit.
This workspace's numbers are horizontal bars with their 95% bootstrap intervals
as error bars (chance levels as markers); the papers' published numbers are bars without
error bars, titled as measured on another dataset; the paired comparisons are a
forest plot of A - B with its interval and a zero line.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go

from ..evaluation.report import CHANCE_SUFFIX, comparison_table

#: Short names of the Results page's sections (keys of :data:`core.evaluation.report.CAPTIONS`).
SECTION_NAMES = {
    "query_by_tag": "Query by tag", "common_tags": "Common tags", "tag_sets": "Tag sets",
    "by_category": "Per category", "triplets": "Category triplets", "track_triplets": "Track triplets",
    "tag_prediction": "Tag prediction", "zero_shot": "Zero-shot", "query_by_track": "Query by track",
    "query_by_track_relevance": "Relevance rules", "word_embeddings": "Word embeddings",
}

_HEIGHT_PER_ROW = 26
_MIN_HEIGHT = 320
#: Columns that name a bar, in label order (family and variant are in the table, not on the axis).
_LABEL_COLUMNS = ("model", "word embedding", "space", "relevance")
_LEGEND = dict(orientation="h", yanchor="top", y=-0.08, xanchor="left", x=0, title_text="")


def _is_interval(cell) -> bool:
    return isinstance(cell, (list, tuple)) and len(cell) == 2 and all(
        isinstance(x, (int, float)) and math.isfinite(x) for x in cell)


def _is_number_column(series: pd.Series) -> bool:
    """Numbers or missing values only (a metric column that may be entirely undefined)."""
    return all(v is None or (isinstance(v, (int, float)) and not isinstance(v, bool)) for v in series.tolist())


def _labels(frame: pd.DataFrame, id_columns: list[str]) -> list[str]:
    return [" · ".join(str(v) for v in row if v is not None and v == v) for row in frame[id_columns].itertuples(
        index=False)]


def interval_columns(values: pd.DataFrame, intervals: pd.DataFrame) -> list[str]:
    """The metric columns of a results table: those with at least one interval."""
    return [c for c in values.columns if c in intervals.columns and intervals[c].map(_is_interval).any()]


def _bar_height(n_labels: int, n_traces: int) -> int:
    return max(_MIN_HEIGHT, 140 + n_labels * max(18, 8 * n_traces))


def metric_bars(values: pd.DataFrame, intervals: pd.DataFrame, title: str = "") -> go.Figure | None:
    """Grouped horizontal bars of a results table, one trace per metric column, with asymmetric error bars.

    Parameters
    ----------
    values, intervals : DataFrame
        A :func:`~core.evaluation.report.results_tables` frame and its
        :func:`~core.evaluation.report.results_intervals` twin.
    title : str

    Returns
    -------
    plotly Figure, or None when the table has no metric column with intervals
    (e.g. the tag-set table). Rows are labelled by their model (and space or
    relevance rule); columns ending in :data:`~core.evaluation.report.CHANCE_SUFFIX`
    are drawn as markers without error bars; count columns are left out.
    """
    metrics = interval_columns(values, intervals)
    if not metrics:
        return None
    named = [c for c in _LABEL_COLUMNS if c in values.columns]
    labels = _labels(values, named or [c for c in values.columns if not pd.api.types.is_numeric_dtype(values[c])])
    fig = go.Figure()
    for column in metrics:
        x = pd.to_numeric(values[column], errors="coerce").to_numpy(dtype=float)
        cells = intervals[column].tolist()
        plus = [c[1] - v if _is_interval(c) and v == v else None for v, c in zip(x, cells)]
        minus = [v - c[0] if _is_interval(c) and v == v else None for v, c in zip(x, cells)]
        fig.add_trace(go.Bar(y=labels, x=x, name=str(column), orientation="h",
                             error_x=dict(type="data", symmetric=False, array=plus, arrayminus=minus,
                                          visible=True, thickness=1.2, width=2),
                             hovertemplate="%{y}<br>" + str(column) + " %{x:.3f}<extra></extra>"))
        chance = f"{column}{CHANCE_SUFFIX}"
        if chance in values.columns:
            fig.add_trace(go.Scatter(y=labels, x=pd.to_numeric(values[chance], errors="coerce"), mode="markers",
                                     name=chance, marker=dict(symbol="line-ns-open", size=14, line=dict(width=2)),
                                     hovertemplate="%{y}<br>" + chance + " %{x:.3f}<extra></extra>"))
    fig.update_layout(barmode="group", title=title or None, height=_bar_height(len(labels), len(metrics)),
                      xaxis_title="value; error bars: 95% bootstrap interval", legend=_LEGEND,
                      yaxis=dict(autorange="reversed"), margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def published_bars(frame: pd.DataFrame, id_columns: int, label: str, dataset: str) -> go.Figure | None:
    """Bars of a published table (no error bars: the papers give none), titled with the dataset it comes from.

    Parameters
    ----------
    frame : DataFrame
        A :func:`~core.evaluation.published.published_tables` frame.
    id_columns : int
        Its leading identifier columns.
    label, dataset : str
        From :func:`~core.evaluation.published.published_numbers`.
    """
    ids = list(frame.columns[:id_columns])
    metrics = [c for c in frame.columns[id_columns:] if pd.api.types.is_numeric_dtype(frame[c])]
    if not metrics:
        return None
    labels = _labels(frame, ids)
    fig = go.Figure([go.Bar(y=labels, x=frame[c], name=str(c), orientation="h", marker_pattern_shape="/")
                     for c in metrics])
    fig.update_layout(barmode="group", height=_bar_height(len(labels), len(metrics)),
                      title=dict(text=f"{label}<br><sup>{dataset}: another dataset, no intervals</sup>",
                                 font=dict(size=13)),
                      yaxis=dict(autorange="reversed"), legend=_LEGEND, margin=dict(l=10, r=10, t=70, b=10))
    return fig


def _comparison_label(row: dict) -> str:
    metric = row["metric"].replace("triplet_acc.", "")
    who = row["A"] if row["A"] == row["B"] else f"{row['A']} vs {row['B']}"
    return f"{who}: {metric}"


def comparison_figure(evaluation: dict) -> go.Figure | None:
    """Forest plot of the paired comparisons: A - B with its 95% interval, distinguishable ones filled."""
    frame = comparison_table(evaluation)
    if frame.empty:
        return None
    labels = [_comparison_label(r) for r in frame.to_dict("records")]
    fig = go.Figure()
    for verdict, symbol in (("not distinguishable", "circle-open"), ("A higher", "circle"), ("B higher", "circle")):
        rows = frame["verdict"] == verdict
        if not rows.any():
            continue
        sub = frame[rows]
        fig.add_trace(go.Scatter(
            x=sub["A - B"], y=[labels[i] for i in sub.index], mode="markers", name=verdict,
            marker=dict(symbol=symbol, size=9),
            error_x=dict(type="data", symmetric=False, array=(sub["high"] - sub["A - B"]).tolist(),
                         arrayminus=(sub["A - B"] - sub["low"]).tolist(), visible=True, thickness=1.2),
            hovertemplate="%{y}<br>A - B %{x:.3f}<extra></extra>"))
    fig.add_vline(x=0, line_dash="dot")
    fig.update_layout(height=max(_MIN_HEIGHT, 80 + _HEIGHT_PER_ROW * len(labels)), xaxis_title="A - B",
                      yaxis=dict(autorange="reversed", categoryorder="array", categoryarray=labels),  # table order
                      margin=dict(l=10, r=10, t=10, b=40), legend=_LEGEND)
    return fig


def table_with_intervals(values: pd.DataFrame, intervals: pd.DataFrame) -> pd.DataFrame:
    """A results table as text cells, each metric written ``0.864 [0.841, 0.886]`` (for display)."""
    out = values.copy().astype(object)
    for column in values.columns:
        if not _is_number_column(values[column]):
            continue
        cells = []
        for v, c in zip(values[column].tolist(), intervals[column].tolist()):
            if v is None or v != v:
                cells.append("–")
            elif _is_interval(c):
                cells.append(f"{v:.3f} [{c[0]:.3f}, {c[1]:.3f}]")
            else:
                cells.append(f"{v:.3f}" if isinstance(v, float) and not float(v).is_integer() else f"{v:g}")
        out[column] = cells
    return out
