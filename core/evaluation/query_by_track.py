"""Query by track: recall at k per relevance rule, clips of the query's own piece excluded, with chance levels.

Every test track queries the other test tracks, ranked by the model's similarity
(:func:`~core.evaluation.similarity.distance_kind`). Clips cut from the query's
own source piece (``piece_id``) are removed from its candidates: they are
neither ranked nor counted, so a model is not rewarded for recognising another
excerpt of the same recording.

Relevance (:data:`RELEVANCE`), one rule per category, each "label sets overlap
by at least half" (Jaccard >= :data:`JACCARD_THRESHOLD`):

``genre``
    The genre tags of query and candidate: for tracks with one genre tag, the
    same genre; with a genre and a sub-genre or tune type (``folk``, ``irish
    folk``, ``reel``), at least half of them shared.
``instrument_family``
    The instrument families (:data:`INSTRUMENT_FAMILIES`) of their instrument
    tags: a piano and an organ are relevant to each other, a piano and a violin
    are not. A tag not in the map is its own family.
``tag_jaccard``
    All their tags. This is the rule of the headline ``r_at_k``.

A track without a label of the rule's category is relevant to nothing (as a
query it is skipped). The old rule, "same artist or at least one shared tag",
made every track relevant to nearly every other on the demo (R@5 = 1 for every
model): it is not used any more.

Chance level
    ``r_at_k_chance`` is the expected recall of a uniformly random ranking,
    computed exactly per query from its numbers of candidates and relevant
    candidates (:func:`~core.evaluation.metrics.recall_at_k_chance`) and averaged
    over the same queries as the recall.

Keys (under a model's ``metrics``): ``r_at_k`` {"1", "5", "10"} (``tag_jaccard``),
``r_at_k_relevance`` {rule: {"1", "5", "10"}}, ``r_at_k_chance`` {rule: {"1", "5", "10"}}.
"""

from __future__ import annotations

import numpy as np

from ..catalog import Catalog
from ..errors import ParameterError
from .metrics import RECALL_K, recall_at_k_among, recall_at_k_chance
from .similarity import distance_kind, similarity_matrix
from .units import MetricSet, Units

#: Label sets must share at least this share of their union (Jaccard index).
JACCARD_THRESHOLD = 0.5
#: Relevance rules, in report order.
RELEVANCE = ("genre", "instrument_family", "tag_jaccard")
#: The rule of the headline ``r_at_k`` key.
HEADLINE_RELEVANCE = "tag_jaccard"

#: Instrument family -> instrument tags (normalised forms, as :func:`core.tags.normalize_tag`
#: writes them; MTG-Jamendo's joined forms such as ``acousticguitar`` included).
INSTRUMENT_FAMILIES: dict[str, tuple[str, ...]] = {
    "keyboard": ("piano", "grand piano", "electric piano", "electricpiano", "rhodes", "keyboard", "keyboards",
                 "harpsichord", "organ", "pipe organ", "pipeorgan", "hammond organ", "accordion", "synthesizer",
                 "synth", "celesta", "clavinet"),
    "strings": ("strings", "violin", "viola", "cello", "double bass", "doublebass", "contrabass", "fiddle"),
    "wind": ("flute", "clarinet", "oboe", "bassoon", "saxophone", "sax", "recorder", "piccolo", "harmonica",
             "pan flute", "tin whistle", "bagpipes", "woodwinds"),
    "brass": ("brass", "trumpet", "trombone", "horn", "french horn", "tuba", "cornet", "flugelhorn"),
    "plucked": ("guitar", "acoustic guitar", "acousticguitar", "classical guitar", "classicalguitar",
                "electric guitar", "electricguitar", "bass", "bass guitar", "banjo", "harp", "mandolin", "lute",
                "ukulele", "sitar", "bouzouki"),
    "voice": ("voice", "vocals", "vocal", "choir", "singer", "male vocals", "female vocals", "soprano", "tenor"),
    "percussion": ("drums", "drum", "percussion", "drum machine", "drummachine", "timpani", "bell", "bells",
                   "xylophone", "marimba", "vibraphone", "glockenspiel"),
}
_FAMILY_OF = {tag: family for family, tags in INSTRUMENT_FAMILIES.items() for tag in tags}


def instrument_family(tag: str) -> str:
    """The family of an instrument tag; a tag not in :data:`INSTRUMENT_FAMILIES` is its own family."""
    return _FAMILY_OF.get(tag, tag)


def _label_matrix(catalog: Catalog, track_ids: list[str], rule: str) -> np.ndarray:
    """``(n_tracks, n_labels)`` bool: the labels each track has under a rule."""
    if rule == "tag_jaccard":
        return catalog.tag_matrix(track_ids).astype(bool)
    if rule == "genre":
        return catalog.tag_matrix(track_ids, catalog.tags("genre")).astype(bool)
    if rule == "instrument_family":
        tags = catalog.tags("instrument")
        families = sorted({instrument_family(t) for t in tags})
        member = catalog.tag_matrix(track_ids, tags).astype(np.float32)
        to_family = np.zeros((len(tags), len(families)), np.float32)
        for j, tag in enumerate(tags):
            to_family[j, families.index(instrument_family(tag))] = 1.0
        return (member @ to_family) > 0
    raise ParameterError(f"unknown relevance rule {rule!r}; use one of {RELEVANCE}")


def jaccard_relevance(labels: np.ndarray, threshold: float = JACCARD_THRESHOLD) -> np.ndarray:
    """``(n, n)`` bool: label sets with Jaccard index >= ``threshold`` (tracks without labels: never)."""
    m = np.asarray(labels, dtype=np.float64)
    inter = m @ m.T
    size = m.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jaccard = np.where(union > 0, inter / union, 0.0)
    return jaccard >= threshold


def relevance(catalog: Catalog, track_ids: list[str], rule: str) -> np.ndarray:
    """``(n, n)`` bool relevance of every track to every other under one rule (see the module docstring)."""
    return jaccard_relevance(_label_matrix(catalog, list(track_ids), rule))


def candidate_mask(catalog: Catalog, track_ids: list[str]) -> np.ndarray:
    """``(n, n)`` bool: track j is a candidate for query i unless it comes from the same piece (or is i)."""
    pieces = catalog.piece_ids(list(track_ids))
    return pieces[:, None] != pieces[None, :]


def query_by_track_metrics(model, catalog: Catalog, track_ids: list[str], track_vectors: np.ndarray) -> MetricSet:
    """R@K per relevance rule with chance levels, over the given (test) tracks.

    Parameters
    ----------
    model : EmbeddingModel
        Gives the similarity (:func:`~core.evaluation.similarity.distance_kind`).
    catalog : Catalog
    track_ids : list of str
        Rows of ``track_vectors``; each queries the others.
    track_vectors : np.ndarray, shape (n_tracks, dim)

    Returns
    -------
    MetricSet
        ``metrics``: ``r_at_k``, ``r_at_k_relevance``, ``r_at_k_chance`` (None
        where no query has a relevant candidate); units per query track;
        ``details["r_at_k"]``: scored queries per rule and the number of
        same-piece pairs excluded.
    """
    track_ids = list(track_ids)
    n = len(track_ids)
    vectors = np.asarray(track_vectors, np.float64)
    if vectors.shape[0] != n:
        raise ParameterError(f"{n} track ids but {vectors.shape[0]} track vectors")
    candidates = candidate_mask(catalog, track_ids)
    scores = similarity_matrix(vectors, vectors, distance_kind(model)) if n else np.zeros((0, 0))
    out = MetricSet(metrics={"r_at_k_relevance": {}, "r_at_k_chance": {}})
    details = {"same_piece_pairs_excluded": int((~candidates).sum() - n), "queries": {}}
    for rule in RELEVANCE:
        relevant = relevance(catalog, track_ids, rule) & candidates
        n_candidates, n_relevant = candidates.sum(axis=1), relevant.sum(axis=1)
        recalls, chances = {}, {}
        for k in RECALL_K:
            key = str(k)
            values = (recall_at_k_among(relevant, scores, k, candidates).values if n_relevant.any()
                      else np.full(n, np.nan))
            chance = recall_at_k_chance(n_candidates, n_relevant, k) if n else np.zeros(0)
            recall_units = Units.mean("track", track_ids, values)
            chance_units = Units.mean("track", track_ids, chance)
            recalls[key], chances[key] = recall_units.value, chance_units.value
            out.units[("r_at_k_relevance", rule, key)] = recall_units
            out.units[("r_at_k_chance", rule, key)] = chance_units
            if rule == HEADLINE_RELEVANCE:
                out.units[("r_at_k", key)] = recall_units
        out.metrics["r_at_k_relevance"][rule] = recalls
        out.metrics["r_at_k_chance"][rule] = chances
        details["queries"][rule] = int((n_relevant > 0).sum())
    out.metrics["r_at_k"] = dict(out.metrics["r_at_k_relevance"][HEADLINE_RELEVANCE])
    out.details["r_at_k"] = details
    return out
