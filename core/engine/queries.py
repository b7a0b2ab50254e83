"""Queries the pages call. Each is a plain function of an :class:`~core.engine.engine.Engine`.

Every function returns a :class:`~core.engine.results.QueryResult` or raises
:class:`~core.engine.results.QueryError` (message + hint) for a query that
cannot be answered: empty text, all words out of vocabulary, all weights zero,
an unknown track id, an unreadable upload, a model without the needed side,
text over :data:`~core.views.text.MAX_QUERY_CHARS` characters or
:data:`~core.views.text.MAX_QUERY_WORDS` words (the limits the widgets have,
enforced here too).

A *track query* is a catalog track id (``str``), an uploaded file's content
(``bytes``) or mono samples at 22,050 Hz (``np.ndarray``); to search with an
embedding, use :func:`weighted_subspace_search` with ``vector=``.
"""

from __future__ import annotations

import re
from typing import Union

import numpy as np
import pandas as pd

from ..catalog import Catalog
from ..errors import VocabularyError
from ..views.text import MAX_QUERY_WORDS, check_query_text
from .embed import prepare
from .engine import Engine, exact_scores
from .results import Hit, QueryError, QueryResult

TrackQuery = Union[str, bytes, np.ndarray]
VOCABULARIES = ("seen", "all")
#: Longest multi-word term matched in free text for models without word vectors.
MAX_TERM_WORDS = 3


# ------------------------------------------------------------------ helpers
def _check_k(k: int) -> int:
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise QueryError(f"the number of results must be a positive integer, got {k!r}")
    return int(k)


def _require_text(engine: Engine) -> None:
    if not engine.has_text:
        raise QueryError(f"model {engine.name!r} has no text side: it cannot relate words and tracks",
                         "pick a model with a text side (won, muslse, mwe) or search by example")


def _track_query(engine: Engine, query: TrackQuery, filename: str | None = None) -> tuple[np.ndarray, dict, list[int]]:
    """Vector, description and rows to exclude (the track itself) of a track query."""
    if isinstance(query, str):
        row = engine.track_row(query)
        return engine.emb.tracks[row], {"track": query}, [row]
    if isinstance(query, (bytes, bytearray, np.ndarray)):
        return engine.embed_audio(query, filename=filename), {"upload": filename or "audio clip"}, []
    raise QueryError(f"a track query is a track id, audio bytes or samples, not {type(query).__name__}")


def _track_hits(engine: Engine, query: np.ndarray, rows: np.ndarray, scores: np.ndarray) -> list[Hit]:
    parts = engine.subspace_scores(query, engine.emb.tracks[rows])
    return [Hit(engine.track_ids[r], float(s), {name: float(v[i]) for name, v in parts.items()})
            for i, (r, s) in enumerate(zip(rows, scores))]


def _result(engine: Engine, query: np.ndarray, k: int, used: dict, exclude=(), rank_query=None,
            warnings: list[str] | None = None) -> QueryResult:
    rows, scores = engine.rank(query if rank_query is None else rank_query, k, exclude)
    return QueryResult("tracks", _track_hits(engine, query, rows, scores), used,
                       list(warnings or []) + engine.index.warnings, engine.index.kind)


def _normalise_text(text: str) -> str:
    return " ".join(check_query_text(text, QueryError).split()).lower()


def _terms_in_text(engine: Engine, words: list[str]) -> tuple[list[str], list[str]]:
    """Greedy longest match of known terms (up to :data:`MAX_TERM_WORDS` words) in ``words``."""
    found, missing, i = [], [], 0
    while i < len(words):
        for n in range(min(MAX_TERM_WORDS, len(words) - i), 0, -1):
            for sep in (" ", "_", ""):
                term = sep.join(words[i:i + n])
                if engine.term_vector(term) is not None:
                    found.append(term)
                    i += n
                    break
            else:
                continue
            break
        else:
            missing.append(words[i])
            i += 1
    return found, missing


def text_vector(engine: Engine, text: str) -> tuple[np.ndarray, dict]:
    """Joint-space vector of a tag or free text, and how it was read.

    Order: a term the model encodes (its vocabulary or a catalog tag); else,
    for models mapping word vectors, the word embedding's lookup of the whole
    text (a phrase form, or the mean of normalised word vectors) mapped by the
    text side; else the mean of the normalised vectors of the known terms in it.

    Returns
    -------
    vector : np.ndarray, (dim,)
    used : dict
        ``text``, ``source`` (``vocabulary`` | ``word_embedding`` | ``terms``),
        ``form``, ``method``, ``used_words``, ``missing_words``, ``seen`` (vocabulary only).
    """
    _require_text(engine)
    norm = _normalise_text(text)
    if not norm:
        raise QueryError("the query is empty", "type a tag or a few words, e.g. 'jazz' or 'sad piano'")
    # as typed first (case-sensitive ids such as Muslse's artist terms), then normalised spellings
    for form in dict.fromkeys((" ".join(text.split()), norm, norm.replace(" ", "_"), norm.replace(" ", ""))):
        vector = engine.term_vector(form)
        if vector is not None:
            seen = engine.emb.terms[engine.emb.term_row[form]]["seen"]
            return vector, {"text": text, "source": "vocabulary", "form": form, "method": "term",
                            "used_words": [form], "missing_words": [], "seen": seen}
    if engine.maps_word_vectors:
        try:
            lookup = engine.words.lookup(norm)
        except VocabularyError as err:
            raise QueryError(f"no word of {text!r} is in the word embedding {engine.words.name!r}",
                             "try other words, or pick a tag from the list") from err
        return engine.encode_word_vector(lookup.vector), {
            "text": text, "source": "word_embedding", "form": lookup.form, "method": lookup.method,
            "used_words": list(lookup.used_words), "missing_words": list(lookup.missing_words)}
    found, missing = _terms_in_text(engine, norm.split())
    if not found:
        raise QueryError(f"no word of {text!r} is in the vocabulary of model {engine.name!r}",
                         "pick a tag from the list; this model has no word embedding for other words")
    vectors = prepare(np.stack([engine.term_vector(t) for t in found]), "cosine")
    return vectors.mean(axis=0), {"text": text, "source": "terms", "form": " + ".join(found),
                                  "method": "mean of term vectors", "used_words": found, "missing_words": missing}


def search_tracks(catalog: Catalog, text: str, limit: int = 50) -> pd.DataFrame:
    """Tracks whose id, title or artist name contains ``text`` (case-insensitive).

    Exact id matches first, then titles starting with the text, then the rest,
    each by title. Empty text returns the catalog's first ``limit`` tracks by title;
    text over the query limits raises :class:`QueryError`.

    Returns
    -------
    pd.DataFrame
        Columns ``track_id``, ``title``, ``artist``, ``artist_id``, ``split``.
    """
    tracks = catalog.tracks.merge(catalog.artists.rename(columns={"name": "artist"}), on="artist_id", how="left")
    tracks = tracks[["track_id", "title", "artist", "artist_id", "split"]].fillna({"artist": ""})
    needle = _normalise_text(text)
    if needle:
        pattern = re.escape(needle)
        hit = (tracks["track_id"].str.lower().str.contains(pattern)
               | tracks["title"].str.lower().str.contains(pattern)
               | tracks["artist"].str.lower().str.contains(pattern))
        tracks = tracks[hit]
        priority = np.where(tracks["track_id"].str.lower() == needle, 0,
                            np.where(tracks["title"].str.lower().str.startswith(needle), 1, 2))
        tracks = tracks.assign(_p=priority).sort_values(["_p", "title", "track_id"]).drop(columns="_p")
    else:
        tracks = tracks.sort_values(["title", "track_id"])
    return tracks.head(limit).reset_index(drop=True)


# ------------------------------------------------------------------ queries
def text_to_tracks(engine: Engine, text: str, k: int = 10) -> QueryResult:
    """Tracks closest to a tag or free text (see :func:`text_vector` for how text is read)."""
    k = _check_k(k)
    vector, used = text_vector(engine, text)
    return _result(engine, vector, k, used)


def track_to_tracks(engine: Engine, query: TrackQuery, k: int = 10, exclude_self: bool = True,
                    filename: str | None = None) -> QueryResult:
    """Tracks closest to a catalog track or an uploaded clip (embedded on the fly).

    Parameters
    ----------
    query : str, bytes or np.ndarray
        Track id, file content, or mono samples at 22,050 Hz.
    exclude_self : bool
        Leave the query track out of the results.
    filename : str, optional
        Upload's file name (its suffix helps decoding).
    """
    k = _check_k(k)
    vector, used, own = _track_query(engine, query, filename)
    return _result(engine, vector, k, used, exclude=own if exclude_self else ())


def weight_vector(subspaces: dict[str, slice], dim: int, weights: dict[str, float]) -> np.ndarray:
    """Per-dimension weights: ``w_track`` everywhere plus ``w_s`` on subspace ``s``.

    ``sum_s w_s <q_s, x_s> + w_track <q, x> = <w * q, x>``, the identity behind
    :meth:`core.models.base.EmbeddingModel.weighted_query`, extended by the
    whole-track term; so the index answers with the query reweighted alone.
    """
    known = set(subspaces) | {"track"}
    unknown = set(weights) - known
    if unknown:
        hint = ("this model has no subspaces; only the 'track' weight applies" if len(subspaces) <= 1
                else f"use {sorted(known)}")
        raise QueryError(f"unknown weight(s) {sorted(unknown)} for this model", hint)
    values = {}
    for name, w in weights.items():
        w = float(w)
        if not np.isfinite(w) or w < 0:
            raise QueryError(f"weight {name!r} must be a finite number >= 0, got {w}")
        values[name] = w
    if not any(values.values()):
        raise QueryError("all weights are zero, so every track would score the same",
                         "raise at least one weight above zero")
    out = np.full(dim, values.get("track", 0.0), dtype=np.float32)
    for name, sl in subspaces.items():
        out[sl] += values.get(name, 0.0)
    return out


def _weighted(engine: Engine, vector: np.ndarray, weights: dict[str, float], k: int, used: dict,
              exclude=()) -> QueryResult:
    w = weight_vector(engine.subspaces, engine.emb.tracks.shape[1], weights)
    return _result(engine, vector, k, used, exclude, rank_query=vector * w)


def weighted_subspace_search(engine: Engine, query: TrackQuery | None = None,
                             weights: dict[str, float] | None = None, k: int = 10,
                             vector: np.ndarray | None = None, exclude_self: bool = True,
                             filename: str | None = None) -> QueryResult:
    """Tracks ranked by ``sum_s w_s <q_s, x_s> + w_track <q, x>`` (Lee et al.'s weighting).

    The weights scale the query alone, so the same index answers every
    weighting. Hits carry each subspace's unweighted similarity and ``track``.

    Parameters
    ----------
    query : str, bytes or np.ndarray, optional
        Track id or audio (see :func:`track_to_tracks`); or give ``vector``.
    weights : dict of str to float, optional
        Keys among the model's subspaces (e.g. ``genre``, ``mood``,
        ``instrument``, ``tempo``) and ``track``; missing keys weigh 0; all
        >= 0 and not all 0. Default ``{"track": 1}``.
    vector : np.ndarray, optional
        A joint-space query vector instead of ``query``.
    """
    k = _check_k(k)
    weights = {"track": 1.0} if weights is None else dict(weights)
    if vector is not None:
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (engine.emb.tracks.shape[1],):
            raise QueryError(f"query vector must have shape ({engine.emb.tracks.shape[1]},), got {vector.shape}")
        used, own = {"vector": True}, []
    elif query is None:
        raise QueryError("give a track, an audio clip or a vector to search with")
    else:
        vector, used, own = _track_query(engine, query, filename)
    used["weights"] = weights
    return _weighted(engine, vector, weights, k, used, own if exclude_self else ())


def mix_and_match(engine: Engine, sources: dict[str, str], k: int = 10,
                  weights: dict[str, float] | None = None, exclude_sources: bool = True) -> QueryResult:
    """Tracks close to the genre of track A, the tempo of track B, ... (per-subspace sources).

    Parameters
    ----------
    sources : dict of str to str
        Subspace name -> catalog track id whose part of the embedding is used
        there. Subspaces not given get no weight.
    weights : dict of str to float, optional
        Weight per given subspace (default 1 each).
    exclude_sources : bool
        Leave the source tracks out of the results.
    """
    k = _check_k(k)
    spaces = engine.subspaces
    if len(spaces) <= 1:
        raise QueryError(f"model {engine.name!r} has no subspaces to mix",
                         "pick a disentangled model (genre / mood / instrument / tempo)")
    if not sources:
        raise QueryError("choose a track for at least one subspace")
    unknown = set(sources) - set(spaces)
    if unknown:
        raise QueryError(f"unknown subspace(s) {sorted(unknown)}", f"use {sorted(spaces)}")
    weights = {s: 1.0 for s in sources} if weights is None else dict(weights)
    extra = set(weights) - set(sources)
    if extra:
        raise QueryError(f"weights given for subspace(s) without a source track: {sorted(extra)}")
    vector = np.zeros(engine.emb.tracks.shape[1], dtype=np.float32)
    rows = []
    for name, track_id in sources.items():
        row = engine.track_row(track_id)
        rows.append(row)
        vector[spaces[name]] = engine.emb.tracks[row, spaces[name]]
    used = {"subspace_tracks": dict(sources), "weights": weights}
    return _weighted(engine, vector, weights, k, used, rows if exclude_sources else ())


def track_to_tags(engine: Engine, query: TrackQuery, k: int = 10, vocabulary: str = "seen",
                  filename: str | None = None) -> QueryResult:
    """Auto-tagging: the tags closest to a track or clip, with scores.

    Parameters
    ----------
    vocabulary : {"seen", "all"}
        ``seen``: tags the model was trained on; ``all``: also the catalog tags
        it scores zero-shot through its word embedding (``Hit.seen`` is False).
    """
    k = _check_k(k)
    if vocabulary not in VOCABULARIES:
        raise QueryError(f"unknown vocabulary {vocabulary!r}", f"use one of {VOCABULARIES}")
    _require_text(engine)
    rows = np.array([i for i, t in enumerate(engine.emb.terms)
                     if t["kind"] == "tag" and (t["seen"] or vocabulary == "all")], dtype=np.int64)
    if rows.size == 0:
        raise QueryError(f"model {engine.name!r} has no {'trained ' if vocabulary == 'seen' else ''}tags to score",
                         "try vocabulary='all'" if vocabulary == "seen" else "")
    vector, used, _ = _track_query(engine, query, filename)
    vectors = engine.emb.term_vectors[rows]
    scores = exact_scores(vector, vectors)
    order = np.lexsort((rows, -scores))[:k]
    parts = engine.subspace_scores(vector, vectors[order])
    hits = []
    for i, j in enumerate(order):
        term = engine.emb.terms[rows[j]]
        hits.append(Hit(term["term"], float(scores[j]), {n: float(v[i]) for n, v in parts.items()},
                        category=term["category"], seen=bool(term["seen"])))
    used["vocabulary"] = vocabulary
    return QueryResult("tags", hits, used, [], "exact")


def multi_query(engine: Engine, items: list[str], k: int = 10) -> QueryResult:
    """Tracks closest to the mean of several tracks and/or words.

    Each item is a catalog track id or a text (see :func:`text_vector`); each
    vector is L2-normalised before averaging so every item counts equally.
    Items that cannot be used are skipped with a warning; query tracks are
    left out of the results.
    """
    k = _check_k(k)
    items = [i for i in (items or []) if isinstance(i, str) and i.strip()]
    if not items:
        raise QueryError("the query is empty", "add tracks or words")
    if len(items) > MAX_QUERY_WORDS:
        raise QueryError(f"the query has {len(items)} items; the limit is {MAX_QUERY_WORDS}")
    vectors, tracks, texts, warnings, own = [], [], [], [], []
    for item in items:
        row = engine.emb.track_row.get(item)
        if row is not None:
            vectors.append(engine.emb.tracks[row])
            tracks.append(item)
            own.append(row)
            continue
        try:
            vector, used = text_vector(engine, item)
        except QueryError as err:
            warnings.append(f"skipped {item!r}: not a track id, and {err}")
            continue
        vectors.append(vector)
        texts.append(used)
    if not vectors:
        raise QueryError("none of the items is a known track or a usable word", "; ".join(warnings))
    mean = prepare(np.stack(vectors), "cosine").mean(axis=0)
    return _result(engine, mean, k, {"tracks": tracks, "texts": texts}, exclude=own, warnings=warnings)
