"""Query by track: R@K that can fail (per-category relevance, same-piece clips excluded) and its chance level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalog import Catalog
from core.evaluation.metrics import recall_at_k, recall_at_k_chance
from core.evaluation.query_by_track import (INSTRUMENT_FAMILIES, candidate_mask, instrument_family,
                                            query_by_track_metrics, relevance)
from core.evaluation.units import node_value

# six pieces, two clips each; every track is "folk"-like or shares an artist with many others
PIECES = [("p0", ["folk", "irish folk"]), ("p1", ["folk", "irish folk"]), ("p2", ["folk", "scottish folk"]),
          ("p3", ["folk", "scottish folk"]), ("p4", ["baroque", "chorale"]), ("p5", ["folk", "reel"])]
INSTRUMENTS = ["piano", "organ", "violin", "strings", "flute", "guitar"]
MOODS = ["happy", "sad", "calm"]


def make_catalog() -> Catalog:
    tracks, tags = [], []
    for p, (piece, genres) in enumerate(PIECES):
        for clip in range(2):
            i = 2 * p + clip
            tid = f"t{i:02d}"
            tracks.append({"track_id": tid, "artist_id": f"a{i % 2}", "title": tid, "audio_path": f"{tid}.wav",
                           "duration": 8.0, "split": "test", "bpm": 90.0, "source": "test", "piece_id": piece})
            chosen = {"genre": genres, "instrument": [INSTRUMENTS[(p + clip) % 6]], "mood": [MOODS[i % 3]],
                      "tempo": ["medium"]}
            tags += [{"track_id": tid, "tag": t, "original_tag": t, "category": c, "score": 100.0}
                     for c, ts in chosen.items() for t in ts]
    artists = pd.DataFrame({"artist_id": ["a0", "a1"], "name": ["A", "B"]})
    return Catalog(pd.DataFrame(tracks), artists, pd.DataFrame(tags))


class Cosine:
    normalized = True


def _old_r_at_k(catalog, ids, vectors, k):
    """The definition before protocol 2: relevant = same artist or >= 1 shared tag, every other track a candidate."""
    tags = catalog.tag_matrix(ids).astype(float)
    artists = catalog.tracks.set_index("track_id")["artist_id"].reindex(ids).to_numpy()
    relevant = ((tags @ tags.T) > 0) | (artists[:, None] == artists[None, :])
    off = ~np.eye(len(ids), dtype=bool)
    scores = vectors @ vectors.T
    return recall_at_k(relevant[off].reshape(len(ids), -1), scores[off].reshape(len(ids), -1), k).mean


def test_old_relevance_saturates_and_the_new_one_does_not():
    catalog = make_catalog()
    ids = catalog.track_ids
    vectors = np.random.default_rng(0).normal(size=(len(ids), 8))  # a model that learnt nothing
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert _old_r_at_k(catalog, ids, vectors, 5) == 1.0 == _old_r_at_k(catalog, ids, vectors, 1)
    result = query_by_track_metrics(Cosine(), catalog, ids, vectors)
    r_at_k, chance = result.metrics["r_at_k_relevance"], result.metrics["r_at_k_chance"]
    assert result.metrics["r_at_k"] == r_at_k["tag_jaccard"]
    for rule in ("genre", "instrument_family", "tag_jaccard"):
        assert 0 < chance[rule]["1"] < chance[rule]["5"] < 1.0
    assert r_at_k["genre"]["1"] < 1.0 and r_at_k["instrument_family"]["5"] < 1.0


def test_clips_of_the_query_piece_are_neither_ranked_nor_counted():
    catalog = make_catalog()
    ids = catalog.track_ids
    pieces = catalog.piece_ids(ids)
    # a model that only recognises the recording: clips of a piece are identical, pieces orthogonal
    vectors = np.eye(len(PIECES))[[int(p[1]) for p in pieces]]
    assert _old_r_at_k(catalog, ids, vectors, 1) == 1.0  # the other clip of the piece was a hit
    result = query_by_track_metrics(Cosine(), catalog, ids, vectors)
    for rule in ("genre", "instrument_family"):
        # every other piece is tied: the model is exactly at chance
        assert result.metrics["r_at_k_relevance"][rule]["1"] == pytest.approx(result.metrics["r_at_k_chance"][rule]["1"])
        assert result.metrics["r_at_k_relevance"][rule]["1"] < 1.0
    assert result.details["r_at_k"]["same_piece_pairs_excluded"] == len(ids)  # one other clip per track
    candidates = candidate_mask(catalog, ids)
    assert not candidates[np.arange(len(ids)), np.arange(len(ids))].any()
    assert (candidates.sum(axis=1) == len(ids) - 2).all()


def test_relevance_rules():
    catalog = make_catalog()
    ids = catalog.track_ids
    genre = relevance(catalog, ids, "genre")
    assert genre[0, 2]  # irish folk and irish folk (another piece)
    assert not genre[0, 4]  # {folk, irish folk} vs {folk, scottish folk}: Jaccard 1/3
    assert not genre[0, 8]  # folk vs baroque
    family = relevance(catalog, ids, "instrument_family")
    by_instrument = {catalog.tags_of(t)["instrument"][0]: i for i, t in enumerate(ids)}
    assert family[by_instrument["piano"], by_instrument["organ"]]  # both keyboard
    assert family[by_instrument["violin"], by_instrument["strings"]]
    assert not family[by_instrument["piano"], by_instrument["violin"]]
    assert instrument_family("harpsichord") == "keyboard" and instrument_family("theremin") == "theremin"
    families = [f for f, tags in INSTRUMENT_FAMILIES.items() for _ in tags]
    assert len(families) == len({t for tags in INSTRUMENT_FAMILIES.values() for t in tags})  # each tag in one family


def test_chance_level_and_units_per_query():
    catalog = make_catalog()
    ids = catalog.track_ids
    vectors = np.random.default_rng(2).normal(size=(len(ids), 5))
    result = query_by_track_metrics(Cosine(), catalog, ids, vectors)
    candidates = candidate_mask(catalog, ids)
    for rule in ("genre", "instrument_family", "tag_jaccard"):
        relevant = relevance(catalog, ids, rule) & candidates
        n_rel = relevant.sum(axis=1)
        for k in (1, 5, 10):
            expected = np.nanmean(recall_at_k_chance(candidates.sum(axis=1), n_rel, k))
            assert result.metrics["r_at_k_chance"][rule][str(k)] == pytest.approx(expected)
            for key in ("r_at_k_relevance", "r_at_k_chance"):
                assert node_value(result.units, (key, rule, str(k))) == pytest.approx(result.metrics[key][rule][str(k)])
        assert result.details["r_at_k"]["queries"][rule] == int((n_rel > 0).sum())
