"""One query, two models: both top-k lists, their overlap and rank correlation, who returns what.

The query functions are those of :mod:`core.engine.queries`; a query kind is run
only when both models can answer it (:func:`core.compare.capabilities.shared_query_kinds`).
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ..engine.queries import text_to_tracks, track_to_tracks
from ..errors import ParameterError
from ..words.compare import rank_correlation
from .capabilities import QUERY_KINDS, shared_query_kinds


def jaccard(a, b) -> float:
    """``|A & B| / |A | B|`` of two id lists (1.0 for two empty lists)."""
    sa, sb = set(a), set(b)
    return len(sa & sb) / len(sa | sb) if sa | sb else 1.0


@dataclass(frozen=True)
class RankingComparison:
    """Top-k lists of one query in models A and B.

    Attributes
    ----------
    result_a, result_b : QueryResult
    jaccard : float
        Jaccard@k of the two id sets.
    spearman : float
        Rank correlation over the union of both lists, a track missing from a
        list ranked just below its last (see :func:`core.words.compare.rank_correlation`).
    """

    result_a: object
    result_b: object
    jaccard: float
    spearman: float

    @property
    def only_a(self) -> list[str]:
        return [i for i in self.result_a.ids if i not in set(self.result_b.ids)]

    @property
    def only_b(self) -> list[str]:
        return [i for i in self.result_b.ids if i not in set(self.result_a.ids)]

    def frame(self, side: str) -> pd.DataFrame:
        """One model's list: ``rank``, ``id``, ``score``, ``rank_other`` (<NA> if absent), ``only_here``."""
        if side not in ("a", "b"):
            raise ParameterError(f"side must be 'a' or 'b', got {side!r}")
        mine, other = (self.result_a, self.result_b) if side == "a" else (self.result_b, self.result_a)
        other_rank = {tid: r for r, tid in enumerate(other.ids, start=1)}
        return pd.DataFrame({"rank": range(1, len(mine.hits) + 1), "id": mine.ids, "score": mine.scores,
                             "rank_other": pd.array([other_rank.get(t) for t in mine.ids], dtype="Int64"),
                             "only_here": [t not in other_rank for t in mine.ids]})


def compare_results(result_a, result_b) -> RankingComparison:
    """Overlap and rank correlation of two :class:`~core.engine.results.QueryResult` track lists."""
    return RankingComparison(result_a, result_b, jaccard(result_a.ids, result_b.ids),
                             rank_correlation(result_a.ids, result_b.ids))


def compare_query(engine_a, engine_b, kind: str, query, k: int = 10, filename: str | None = None) -> RankingComparison:
    """Run one query in both models and compare the lists.

    Parameters
    ----------
    kind : {'track', 'audio', 'text'}
        ``track``: a catalog track id (left out of both lists); ``audio``: an
        uploaded file's bytes; ``text``: a tag or free text.

    Raises
    ------
    ParameterError
        If ``kind`` is unknown or not answerable by both models.
    QueryError
        From the query functions (unknown track, unreadable clip, no word known).
    """
    if kind not in QUERY_KINDS:
        raise ParameterError(f"unknown query kind {kind!r}; use one of {QUERY_KINDS}")
    if kind not in shared_query_kinds(engine_a, engine_b):
        raise ParameterError(f"models {engine_a.name!r} and {engine_b.name!r} cannot both answer a {kind} query")
    if kind == "text":
        return compare_results(text_to_tracks(engine_a, query, k), text_to_tracks(engine_b, query, k))
    return compare_results(track_to_tracks(engine_a, query, k, filename=filename),
                           track_to_tracks(engine_b, query, k, filename=filename))
