"""What queries return: ranked hits with their explanation, or a :class:`QueryError`.

Queries never return half-answers silently: a result carries the words and
forms it used, the ones it could not use, and warnings (e.g. an approximate
index that fell back to exact search); a query that cannot be answered raises
:class:`QueryError` with a message and a hint the UI shows as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from ..errors import TagspaceError


class QueryError(TagspaceError):
    """A query that cannot be answered (empty text, unknown track, unreadable upload, ...).

    Parameters
    ----------
    message : str
        What went wrong, in the user's terms.
    hint : str
        What to do about it (may be empty).
    """

    def __init__(self, message: str, hint: str = ""):
        super().__init__(message, hint)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


@dataclass(frozen=True)
class Hit:
    """One ranked item: a track (track queries) or a tag (auto-tagging).

    Attributes
    ----------
    id : str
        Track id, or the tag itself.
    score : float
        Ranking score, higher is closer: the inner product of the (weighted)
        query and the item's vector, a cosine for normalised models.
    subspaces : dict of str to float
        Unweighted inner product of the query and the hit in each subspace
        (``{"genre": ..., "mood": ...}``; ``{"all": ...}`` for models without
        subspaces). For cosine models they sum to the cosine of the full vectors.
    category : str or None
        Tag category (tags only).
    seen : bool or None
        Tags only: True if the model was trained on the tag, False if it is
        scored zero-shot through the word embedding.
    """

    id: str
    score: float
    subspaces: dict[str, float] = field(default_factory=dict)
    category: str | None = None
    seen: bool | None = None


@dataclass
class QueryResult:
    """Ranked hits of one query and how the query was understood.

    Attributes
    ----------
    kind : {"tracks", "tags"}
        What the hits are.
    hits : list of Hit
        Best first.
    used : dict
        How the query was read; keys depend on the query: ``text``, ``source``
        (``"vocabulary"``: a term the model encodes directly; ``"word_embedding"``:
        zero-shot words; ``"terms"``: a mix of known terms), ``form``, ``method``,
        ``used_words``, ``missing_words``, ``weights``, ``tracks``, ``subspace_tracks``.
    warnings : list of str
        Things the user should know (fallback to exact search, skipped items).
    index : str
        The index that answered: ``"exact"`` or the approximate kind (``"ivf"``).
    """

    kind: str
    hits: list[Hit]
    used: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    index: str = "exact"

    @property
    def ids(self) -> list[str]:
        return [h.id for h in self.hits]

    @property
    def scores(self) -> list[float]:
        return [h.score for h in self.hits]

    def to_frame(self) -> pd.DataFrame:
        """One row per hit: ``rank``, ``id``, ``score``, one ``sim_<subspace>`` column each
        (and ``category``, ``seen`` for tags)."""
        rows = []
        for rank, h in enumerate(self.hits, start=1):
            row = {"rank": rank, "id": h.id, "score": h.score}
            row.update({f"sim_{name}": value for name, value in h.subspaces.items()})
            if self.kind == "tags":
                row.update(category=h.category, seen=h.seen)
            rows.append(row)
        return pd.DataFrame(rows, columns=None if rows else ["rank", "id", "score"])
