"""General vs musical word embedding, side by side, for one word or phrase."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..errors import ParameterError, TagspaceError
from ..words.compare import is_music_term, neighbour_overlap, neighbours, pair_cosines, rank_correlation
from .text import MAX_QUERY_WORDS, check_query_text

#: Most word pairs one pair-cosine table compares.
MAX_PAIRS = 4 * MAX_QUERY_WORDS


@dataclass
class SideBySide:
    """Neighbour tables of each embedding (``None`` + an error where the phrase is unknown)."""

    tables: dict[str, pd.DataFrame | None]
    lookups: dict[str, str]
    errors: dict[str, str]
    overlap: float | None
    spearman: float | None


def compare_phrase(embeddings: dict, phrase: str, k: int, music_terms: frozenset[str],
                   min_count: int | None = None) -> SideBySide:
    """Neighbours of ``phrase`` in each embedding (``name -> WordVectors``), music terms flagged.

    ``min_count`` applies only to embeddings that carry word counts. A phrase
    over the query limits (:mod:`core.views.text`) raises :class:`ParameterError`.
    """
    check_query_text(phrase)
    tables, lookups, errors, lists = {}, {}, {}, {}
    for name, wv in embeddings.items():
        try:
            count = min_count if (min_count and wv.has_counts()) else None
            found, lookup = neighbours(wv, phrase, k, min_count=count)
        except TagspaceError as err:
            tables[name], errors[name] = None, str(err)
            continue
        lists[name] = found
        lookups[name] = lookup.describe()
        tables[name] = pd.DataFrame({
            "rank": range(1, len(found) + 1),
            "neighbour": [w for w, _ in found],
            "cosine": [round(c, 3) for _, c in found],
            "music term": [is_music_term(w, music_terms) for w, _ in found],
        })
    overlap = spearman = None
    if len(lists) == 2:
        a, b = lists.values()
        overlap, spearman = neighbour_overlap(a, b), rank_correlation(a, b)
    return SideBySide(tables, lookups, errors, overlap, spearman)


def pair_cosine_frame(embeddings: dict, pairs: list[tuple[str, str]]) -> pd.DataFrame:
    """Long table: one row per (pair, embedding) with the cosine (NaN + reason if a word is missing).

    At most :data:`MAX_PAIRS` pairs, each word within the query limits, else :class:`ParameterError`.
    """
    if len(pairs) > MAX_PAIRS:
        raise ParameterError(f"{len(pairs)} word pairs; the limit is {MAX_PAIRS}")
    for word in (w for pair in pairs for w in pair):
        check_query_text(word)
    rows = []
    for name, wv in embeddings.items():
        for item in pair_cosines(wv, pairs):
            rows.append({"pair": f"{item['a']} / {item['b']}", "embedding": name,
                         "cosine": item["cosine"], "note": item["error"] or ""})
    return pd.DataFrame(rows, columns=["pair", "embedding", "cosine", "note"])


def pair_cosine_figure(frame: pd.DataFrame, height: int = 380):
    """Grouped bars of :func:`pair_cosine_frame`: one bar per pair and embedding (missing words: no bar).

    Built from ``graph_objects`` directly: ``plotly.express`` spends about 0.1 s per call on
    grouping and templates, on every rerun of the page.
    """
    import plotly.graph_objects as go

    fig = go.Figure([go.Bar(x=part["pair"].tolist(), y=part["cosine"].tolist(), name=str(name))
                     for name, part in frame.groupby("embedding", sort=False)])
    fig.update_layout(barmode="group", height=height, yaxis={"range": [-0.2, 1.0], "title": "cosine"},
                      xaxis_title="pair", legend_title_text="embedding", margin={"t": 30})
    return fig

