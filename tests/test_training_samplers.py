"""Samplers: balanced is uniform over tags, random follows song frequency, weighted rules prefer hard negatives."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from core.training.samplers import (CategoryTripletSampler, TagTripletSampler, TrackTripletSampler,
                                    distance_weights, mine_negatives)


def _skewed_matrix():
    # tag 0 on 90 songs, tags 1-3 on 10 each: random sampling is dominated by tag 0
    m = np.zeros((120, 4), dtype=bool)
    m[:90, 0] = True
    for j in range(1, 4):
        m[90 + 10 * (j - 1):90 + 10 * j, j] = True
    return m


def test_balanced_is_uniform_over_tags():
    sampler = TagTripletSampler(_skewed_matrix(), "balanced")
    tags, songs = sampler.sample(8000, np.random.default_rng(0))
    counts = np.bincount(tags, minlength=4)
    assert chisquare(counts).pvalue > 0.001
    assert _skewed_matrix()[songs, tags].all()  # every positive carries its tag


def test_random_follows_song_frequency():
    sampler = TagTripletSampler(_skewed_matrix(), "random")
    tags, songs = sampler.sample(8000, np.random.default_rng(0))
    share = np.mean(tags == 0)
    assert 0.70 < share < 0.80  # 90 of 120 songs carry tag 0
    assert _skewed_matrix()[songs, tags].all()


def test_negatives_never_carry_the_anchor_tag():
    torch.manual_seed(0)
    valid = torch.rand(64, 64) > 0.5
    valid[0] = False  # a row without any valid negative
    for rule in ("uniform", "cosine-weighted", "distance-weighted"):
        neg, usable = mine_negatives(torch.rand(64, 64) * 2 - 1, valid, rule, dim=16)
        assert not usable[0] and usable[1:].all()
        assert valid[torch.arange(1, 64), neg[1:]].all()


@pytest.mark.parametrize("rule", ["cosine-weighted", "distance-weighted"])
def test_weighted_rules_prefer_harder_negatives(rule):
    torch.manual_seed(0)
    # one anchor, candidates from very dissimilar (cos -0.9) to similar (cos 0.6)
    cos = torch.linspace(-0.9, 0.6, 16)[None].repeat(4000, 1)
    valid = torch.ones_like(cos, dtype=torch.bool)
    neg, _ = mine_negatives(cos, valid, rule, dim=8)
    uniform, _ = mine_negatives(cos, valid, "uniform", dim=8)
    assert cos[0, neg].mean() > cos[0, uniform].mean() + 0.1
    assert abs(float(cos[0, uniform].mean()) - float(cos[0].mean())) < 0.05


def test_cosine_weighted_probabilities_match_rule():
    torch.manual_seed(0)
    cos = torch.tensor([[-0.5, 0.0, 0.5]]).repeat(30000, 1)
    neg, _ = mine_negatives(cos, torch.ones_like(cos, dtype=torch.bool), "cosine-weighted")
    freq = np.bincount(neg.numpy(), minlength=3) / len(neg)
    assert np.allclose(freq, np.array([0.25, 0.5, 0.75]) / 1.5, atol=0.02)


def test_distance_weights_cutoffs():
    cos = torch.tensor([[0.99, 0.875, 0.5, 0.0, -0.5]])  # distances ~0.14, 0.5, 1.0, 1.41, 1.73
    w = distance_weights(cos, dim=16, cutoff=0.5, nonzero_cutoff=1.4)
    assert torch.isclose(w[0, 0], w[0, 1], rtol=1e-3)  # below the cut-off all count as 0.5
    assert w[0, 3] == 0 and w[0, 4] == 0                 # beyond 1.4: never drawn
    assert w[0, 1] > w[0, 2] > 0                        # in high dimension, nearer is rarer hence heavier


def test_category_triplets():
    labels = {"genre": [{"rock"}, {"rock"}, {"jazz"}, {"jazz", "rock"}, set()],
              "mood": [set()] * 5, "instrument": [set()] * 5}
    bpm = np.array([100.0, 103.0, 140.0, np.nan, 120.0])
    sampler = CategoryTripletSampler(labels, bpm, ("genre", "mood", "instrument", "tempo"))
    assert sampler.active == [0, 3]  # no mood or instrument tags at all
    rng = np.random.default_rng(0)
    for a, p, n in sampler.sample_dimension(0, 200, rng):
        assert labels["genre"][a] & labels["genre"][p] and not labels["genre"][a] & labels["genre"][n]
        assert 4 not in (a, p, n)  # untagged tracks are never used
    for a, p, n in sampler.sample_dimension(3, 200, rng):
        assert abs(bpm[a] - bpm[p]) <= 5 and abs(bpm[a] - bpm[n]) > 5 and 3 not in (a, p, n)


def test_track_triplets_overlap_at_most_half():
    sampler = TrackTripletSampler([300, 200, 150], n_frames=129, max_overlap=0.5)
    rows = sampler.sample(500, np.random.default_rng(0))
    assert set(rows[:, 0]) <= {0, 1}  # song 2 is too short for two half-overlapping excerpts
    overlap = np.maximum(0, 129 - np.abs(rows[:, 1] - rows[:, 2])) / 129
    assert overlap.max() <= 0.5 and (rows[:, 3] != rows[:, 0]).all()
    lengths = np.array([300, 200, 150])
    assert (np.maximum(rows[:, 1], rows[:, 2]) + 129 <= lengths[rows[:, 0]]).all()
