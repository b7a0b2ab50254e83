"""Comparing a general and a musical embedding: neighbours, overlap, pair cosines, music terms."""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from ..errors import ParameterError, TagspaceError
from .corpus import GENRE_LIST, SHORT_FORMS, genre_groups, genre_tree_edges, short_form, token
from .vectors import Lookup, WordVectors

#: The words of Won et al.'s README comparison and Doh et al.'s Fig. 4 pairs.
README_WORDS = ("jungle", "house", "chill", "metal", "brazilian", "smooth jazz")
README_PAIRS = (("house", "club"), ("house", "home"), ("rock", "metal"), ("rock", "stone"),
                ("chill", "relax"), ("chill", "cold"))


def neighbours(wv: WordVectors, phrase: str, k: int = 10, min_count: int | None = None,
               vocabulary: set[str] | list[str] | None = None) -> tuple[list[tuple[str, float]], Lookup]:
    """The ``k`` words closest (cosine) to a word or phrase.

    Parameters
    ----------
    wv : WordVectors
    phrase : str
        Looked up with :meth:`WordVectors.lookup` (raises ``VocabularyError`` if absent).
    k : int
    min_count : int, optional
        Keep only words seen at least this often in training (rare tokens have noisy
        vectors); needs an embedding with counts (raises ``ParameterError`` otherwise).
    vocabulary : collection of str, optional
        Keep only these words (e.g. :func:`music_vocabulary`).

    Returns
    -------
    list of (word, cosine), and the :class:`Lookup` used. The query's own forms are excluded.
    """
    if k < 1:
        raise ParameterError(f"k must be at least 1, got {k}")
    lookup = wv.lookup(phrase)
    keep = None
    if vocabulary is not None:
        index = wv.kv.key_to_index
        keep = np.array(sorted({index[w] for w in vocabulary if w in index}), dtype=np.int64)
    if min_count is not None:
        frequent = np.where(wv.counts() >= min_count)[0]
        keep = frequent if keep is None else np.intersect1d(keep, frequent)
    scores = wv.cosines(lookup.vector, keep)
    ids = np.arange(len(wv)) if keep is None else keep
    exclude = set(lookup.used_words)
    top = min(len(scores), k + len(exclude))
    # partial sort: only the best k (+ the query's own forms) need ordering
    best = np.argpartition(-scores, top - 1)[:top] if top < len(scores) else np.arange(len(scores))
    order = best[np.argsort(-scores[best], kind="stable")]
    out = []
    for i in order:
        word = wv.words[int(ids[i])]
        if word not in exclude:
            out.append((word, float(scores[i])))
            if len(out) == k:
                break
    return out, lookup


def _ranks(words: list[str]) -> dict[str, int]:
    return {w: r for r, w in enumerate(words, start=1)}


def _words(items) -> list[str]:
    return [w if isinstance(w, str) else w[0] for w in items]


def neighbour_overlap(a, b) -> float:
    """Share of common words between two neighbour lists: ``|A & B| / max(|A|, |B|)``.

    ``a`` and ``b`` are lists of words or of ``(word, score)`` as :func:`neighbours` returns.
    """
    wa, wb = _words(a), _words(b)
    if not wa and not wb:
        return 0.0
    return len(set(wa) & set(wb)) / max(len(set(wa)), len(set(wb)))


def rank_correlation(a, b, method: str = "spearman") -> float:
    """Rank correlation of two neighbour lists over the union of their words.

    A word missing from one list gets that list's rank ``len(list) + 1`` (all
    missing words tie just below the last listed one), so disjoint lists
    correlate negatively and identical ones give 1. NaN if the union has fewer
    than two words.
    """
    from scipy.stats import kendalltau, spearmanr

    if method not in ("spearman", "kendall"):
        raise ParameterError(f"method must be 'spearman' or 'kendall', got {method!r}")
    wa, wb = _words(a), _words(b)
    union = sorted(set(wa) | set(wb))
    if len(union) < 2:
        return math.nan
    ra, rb = _ranks(wa), _ranks(wb)
    xa = [ra.get(w, len(wa) + 1) for w in union]
    xb = [rb.get(w, len(wb) + 1) for w in union]
    result = spearmanr(xa, xb) if method == "spearman" else kendalltau(xa, xb)
    return float(result.statistic)


def pair_cosines(wv: WordVectors, pairs) -> list[dict]:
    """Cosine of each ``(a, b)`` pair; a pair with an unknown word gets NaN and the reason.

    Returns
    -------
    list of dict
        ``a``, ``b``, ``cosine``, ``forms`` (the :class:`Lookup` descriptions) and ``error`` (or None).
    """
    out = []
    for a, b in pairs:
        try:
            la, lb = wv.lookup(a), wv.lookup(b)
        except TagspaceError as err:
            out.append({"a": a, "b": b, "cosine": math.nan, "forms": None, "error": str(err)})
            continue
        out.append({"a": a, "b": b, "cosine": float(la.vector @ lb.vector),
                    "forms": (la.describe(), lb.describe()), "error": None})
    return out


@lru_cache(maxsize=1)
def taxonomy_terms() -> frozenset[str]:
    """Tokens of every genre in the vendored taxonomies, with their short forms."""
    names = {n for edge in genre_tree_edges() for n in edge}
    names |= {n for group in genre_groups() for n in group}
    names |= {line.strip() for line in GENRE_LIST.read_text(encoding="utf-8").splitlines() if line.strip()}
    terms = {token(n) for n in names}
    terms |= {s for s in (short_form(n) for n in names) if s}
    terms |= set(SHORT_FORMS.values())
    return frozenset(terms)


def music_vocabulary(ws=None) -> frozenset[str]:
    """Music terms: the vendored genre taxonomies plus the catalog tags of ``ws`` (as ``_`` tokens)."""
    terms = set(taxonomy_terms())
    if ws is not None and ws.has_catalog():
        terms |= {token(t) for t in ws.catalog.tags()}
    return frozenset(terms)


def is_music_term(word: str, vocabulary: frozenset[str] | set[str]) -> bool:
    """Whether ``word`` (any case, blanks or ``_``) is in a :func:`music_vocabulary`."""
    return token(word.replace("_", " ")) in vocabulary


def tag_vectors(wv: WordVectors, tags: list[str]) -> tuple[np.ndarray, list[str], dict[str, str]]:
    """Unit vectors of the tags found (rows follow the returned tag list) and the missing ones with reasons."""
    matrix, found, missing = wv.vectors_for(list(tags))
    return matrix, list(found), missing


def comparison_markdown(general: WordVectors, musical: WordVectors, words=README_WORDS, pairs=README_PAIRS,
                        k: int = 5, music_terms: frozenset[str] | None = None) -> str:
    """Markdown: side-by-side neighbours of ``words`` and cosines of ``pairs`` in two embeddings.

    Music terms (see :func:`music_vocabulary`) among the neighbours are set in bold,
    as in Won et al.'s README. A word an embedding lacks is shown as such.
    """
    def cell(wv, word):
        try:
            found, lookup = neighbours(wv, word, k)
        except TagspaceError as err:
            return f"*{err}*".replace("|", "/")
        items = [f"**{w}**" if music_terms and is_music_term(w, music_terms) else w for w, _ in found]
        via = "" if lookup.method == "exact" else f" (via {lookup.describe()})"
        return ", ".join(items).replace("|", "/") + via

    lines = [f"| query | {general.label} | {musical.label} |", "|---|---|---|"]
    for word in words:
        lines.append(f"| {word} | {cell(general, word)} | {cell(musical, word)} |")
    lines += ["", f"| pair | {general.label} | {musical.label} |", "|---|---:|---:|"]
    def number(row):
        return "not in vocabulary" if row["error"] else f"{row['cosine']:.2f}"

    for g, m in zip(pair_cosines(general, pairs), pair_cosines(musical, pairs)):
        lines.append(f"| {g['a']} / {g['b']} | {number(g)} | {number(m)} |")
    return "\n".join(lines)
