"""Held-out triplets: determinism and Lee et al.'s rules (shared tag / within 5 BPM; <= 50% overlap)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalog import Catalog
from core.errors import ParameterError
from core.evaluation.triplets import (EXCERPT_FRAMES, category_triplets, evaluation_triplets, excerpt_starts,
                                      similarity, track_triplets)

TAGS = {"genre": ["folk", "jazz", "reel", "waltz"], "mood": ["calm", "happy", "sad"],
        "instrument": ["flute", "piano", "strings"]}


def make_catalog(n_tracks: int = 30, seed: int = 0, n_test: int = 20) -> Catalog:
    """Synthetic catalog: genre/mood/instrument tags, BPMs (some unknown), a train/test split.

    Track ``t05`` and later have a mood tag only on even indices (the others are
    unlabelled for mood), and every fifth track has no BPM.
    """
    rng = np.random.default_rng(seed)
    tracks, tags = [], []
    for i in range(n_tracks):
        tid = f"t{i:02d}"
        bpm = float("nan") if i % 5 == 4 else float(rng.choice([60, 62, 64, 90, 93, 120, 124, 150]))
        tracks.append({"track_id": tid, "artist_id": f"a{i % 7}", "title": tid, "audio_path": f"{tid}.wav",
                       "duration": 8.0, "split": "test" if i < n_test else "train", "bpm": bpm, "source": "test"})
        chosen = {"genre": rng.choice(TAGS["genre"], size=1 + i % 2, replace=False),
                  "mood": rng.choice(TAGS["mood"], size=1) if (i < 5 or i % 2 == 0) else [],
                  "instrument": rng.choice(TAGS["instrument"], size=1)}
        for category, values in chosen.items():
            tags += [{"track_id": tid, "tag": str(t), "original_tag": str(t), "category": category, "score": 100.0}
                     for t in values]
    artists = pd.DataFrame({"artist_id": [f"a{i}" for i in range(7)], "name": [f"artist {i}" for i in range(7)]})
    return Catalog(pd.DataFrame(tracks), artists, pd.DataFrame(tags))


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return make_catalog()


@pytest.mark.parametrize("dimension", ["genre", "mood", "instrument"])
def test_category_triplets_follow_shared_tag_rule(catalog, dimension):
    frame = category_triplets(catalog, dimension, n=500, seed=3)
    assert list(frame.columns) == ["anchor", "positive", "negative"] and len(frame) == 500
    test = set(catalog.split_ids("test"))
    rows = catalog.track_tags[catalog.track_tags["category"] == dimension]
    tags = {tid: set(group["tag"]) for tid, group in rows.groupby("track_id")}
    for a, p, n in frame.itertuples(index=False):
        assert {a, p, n} <= test and len({a, p, n}) == 3
        ta, tp, tn = (tags.get(t, set()) for t in (a, p, n))
        assert ta and tp and tn, "only tracks labelled in the dimension take part"
        assert ta & tp, "the positive shares a tag of the category"
        assert not ta & tn, "the negative shares none"


def test_tempo_triplets_use_bpm_within_5(catalog):
    frame = category_triplets(catalog, "tempo", n=500, seed=1)
    bpm = catalog.tracks.set_index("track_id")["bpm"]
    assert len(frame) == 500
    assert (abs(bpm[frame["anchor"]].to_numpy() - bpm[frame["positive"]].to_numpy()) <= 5).all()
    assert (abs(bpm[frame["anchor"]].to_numpy() - bpm[frame["negative"]].to_numpy()) > 5).all()
    assert np.isfinite(bpm[frame["negative"]].to_numpy()).all()


def test_similarity_matrix_rules():
    cat = make_catalog()
    ids = ["t00", "t01", "t04"]
    similar, labelled = similarity(cat, ids, "tempo")
    assert list(labelled) == [True, True, False]  # t04 has no BPM
    assert not similar[2].any() and not similar[:, 2].any()
    sim_genre, lab_genre = similarity(cat, ids, "genre")
    assert lab_genre.all() and (sim_genre == sim_genre.T).all() and sim_genre.diagonal().all()
    with pytest.raises(ParameterError, match="dimension"):
        similarity(cat, ids, "location")


def test_sampling_is_deterministic_and_order_independent(catalog):
    first = category_triplets(catalog, "genre", n=300, seed=5)
    shuffled = Catalog(catalog.tracks.sample(frac=1.0, random_state=1), catalog.artists,
                       catalog.track_tags.sample(frac=1.0, random_state=2))
    pd.testing.assert_frame_equal(first, category_triplets(shuffled, "genre", n=300, seed=5))
    assert not first.equals(category_triplets(catalog, "genre", n=300, seed=6))
    frames = {f"t{i:02d}": 344 for i in range(10)}
    pd.testing.assert_frame_equal(track_triplets(frames, 200, seed=2), track_triplets(dict(reversed(frames.items())),
                                                                                      200, seed=2))


def test_excerpt_grid_overlaps_at_most_half():
    starts = excerpt_starts(344)
    assert starts[0] == 0 and starts[-1] + EXCERPT_FRAMES <= 344 and len(starts) == 4
    assert np.diff(starts).min() * 2 >= EXCERPT_FRAMES  # overlap = 129 - 65 = 64 frames <= 50%
    assert list(excerpt_starts(50)) == [0]


def test_track_triplets_respect_overlap_and_other_song():
    frames = {"a": 344, "b": 861, "c": 100, "d": 200}
    frame = track_triplets(frames, n=1000, seed=0)
    assert len(frame) == 1000
    assert (frame["anchor"] == frame["positive"]).all() and (frame["anchor"] != frame["negative"]).all()
    assert set(frame["anchor"]) <= {"a", "b", "d"}  # "c" is shorter than two excerpts
    overlap = EXCERPT_FRAMES - (frame["anchor_start"] - frame["positive_start"]).abs()
    assert (overlap <= EXCERPT_FRAMES / 2).all()
    for col, track in (("anchor_start", "anchor"), ("positive_start", "positive"), ("negative_start", "negative")):
        ends = frame[col] + EXCERPT_FRAMES
        limit = frame[track].map(lambda t: max(frames[t], EXCERPT_FRAMES))
        assert (ends <= limit).all()
    assert {"b", "c", "d"} <= set(frame["negative"])  # negatives come from every other song
    assert track_triplets({"a": 344}, n=10).empty  # a single song has no negative


def test_evaluation_triplets_only_uses_tracks_with_features(catalog):
    frames = {tid: 344 for tid in catalog.split_ids("test")[:12]}
    sets = evaluation_triplets(catalog, frames, n=200, seed=0)
    assert set(sets) == {"genre", "mood", "instrument", "tempo", "track"}
    for frame in sets.values():
        assert len(frame) == 200
        assert set(frame["anchor"]) | set(frame["negative"]) <= set(frames)


def test_invalid_n_and_empty_dimension(catalog):
    with pytest.raises(ParameterError, match="positive integer"):
        category_triplets(catalog, "genre", n=0)
    no_bpm = Catalog(catalog.tracks.assign(bpm=float("nan")), catalog.artists, catalog.track_tags)
    assert category_triplets(no_bpm, "tempo", n=10).empty


def test_similarity_agrees_with_the_training_sampler(catalog):
    """Evaluation and training (core.training.samplers) must use the same Lee et al. rules."""
    samplers = pytest.importorskip("core.training.samplers")
    ids = catalog.split_ids("test")
    labels = {dim: [set(catalog.tags_of(t).get(dim, [])) for t in ids] for dim in ("genre", "mood", "instrument")}
    bpm = catalog.tracks.set_index("track_id")["bpm"].reindex(ids).to_numpy()
    dims = ("genre", "mood", "instrument", "tempo")
    sampler = samplers.CategoryTripletSampler(labels, bpm, dims)
    off_diagonal = ~np.eye(len(ids), dtype=bool)
    for dim in dims:
        similar, labelled = similarity(catalog, ids, dim)
        assert (labelled == sampler.known[dim]).all()
        both = labelled[:, None] & labelled[None, :]
        assert ((similar & both & off_diagonal) == sampler.similar[dim]).all(), dim
