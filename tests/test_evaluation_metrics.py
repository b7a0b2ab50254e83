"""Metrics against scikit-learn and brute-force references, including ties and degenerate queries."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, average_precision_score, roc_auc_score

from core.errors import ParameterError
from core.evaluation.metrics import (MacroScore, pr_auc_tag, precision_at_k, recall_at_k, recall_at_k_among,
                                     recall_at_k_chance, roc_auc_clip, roc_auc_tag, triplet_accuracy, triplet_scores)


def _data(seed, shape=(40, 15), ties=False, p=0.3):
    rng = np.random.default_rng(seed)
    y = rng.random(shape) < p
    s = rng.normal(size=shape)
    if ties:
        s = np.round(s, 1)  # many tied scores
    return y, s


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_tag_matches_sklearn_per_tag_and_macro(seed, ties):
    y, s = _data(seed, ties=ties)
    y[:, 0] = False  # no positive
    y[:, 1] = True   # no negative
    result = roc_auc_tag(y, s)
    assert isinstance(result, MacroScore)
    ref = [roc_auc_score(y[:, j], s[:, j]) for j in range(2, y.shape[1])]
    np.testing.assert_allclose(result.values[2:], ref, rtol=1e-12)
    assert np.isnan(result.values[:2]).all()
    assert result.n_skipped == 2 and result.n_scored == y.shape[1] - 2
    assert result.mean == pytest.approx(roc_auc_score(y[:, 2:], s[:, 2:], average="macro"))


@pytest.mark.parametrize("seed", range(5))
def test_roc_auc_clip_matches_sklearn_per_row(seed):
    y, s = _data(seed, ties=seed % 2 == 0)
    y[3] = False
    result = roc_auc_clip(y, s)
    rows = [i for i in range(len(y)) if 0 < y[i].sum() < y.shape[1]]
    np.testing.assert_allclose(result.values[rows], [roc_auc_score(y[i], s[i]) for i in rows])
    assert result.n_skipped == len(y) - len(rows) >= 1
    assert float(result) == pytest.approx(np.mean([roc_auc_score(y[i], s[i]) for i in rows]))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("ties", [False, True])
def test_pr_auc_tag_matches_sklearn_average_precision(seed, ties):
    y, s = _data(seed, ties=ties, p=0.2)
    y[:, 4] = False
    result = pr_auc_tag(y, s)
    cols = [j for j in range(y.shape[1]) if 0 < y[:, j].sum() < len(y)]
    np.testing.assert_allclose(result.values[cols], [average_precision_score(y[:, j], s[:, j]) for j in cols],
                               rtol=1e-12)
    assert result.n_skipped == y.shape[1] - len(cols)
    assert result.mean == pytest.approx(average_precision_score(y[:, cols], s[:, cols], average="macro"))


def test_auc_perfect_inverted_and_constant_scores():
    y = np.array([[1, 0], [1, 0], [0, 1], [0, 1]])
    assert roc_auc_tag(y, y * 2.0).mean == 1.0
    assert roc_auc_tag(y, -y * 2.0).mean == 0.0
    assert roc_auc_tag(y, np.zeros(y.shape)).mean == 0.5
    assert pr_auc_tag(y, y * 1.0).mean == 1.0
    assert pr_auc_tag(y, np.zeros(y.shape)).mean == pytest.approx(0.5)  # prevalence for a constant scorer


def _brute_precision(truth, score, k):
    k = min(k, len(score))
    return truth[np.argsort(-score)[:k]].sum() / k


@pytest.mark.parametrize("k", [1, 3, 10, 15, 100])
def test_precision_at_k_brute_force_both_axes(k):
    y, s = _data(7, shape=(30, 20))
    y[:, 2] = False
    by_tag = precision_at_k(y, s, k, by="tag")
    cols = [j for j in range(y.shape[1]) if y[:, j].any()]
    np.testing.assert_allclose(by_tag.values[cols], [_brute_precision(y[:, j], s[:, j], k) for j in cols])
    assert by_tag.n_skipped == 1
    by_clip = precision_at_k(y, s, k, by="clip")
    rows = [i for i in range(len(y)) if y[i].any()]
    np.testing.assert_allclose(by_clip.values[rows], [_brute_precision(y[i], s[i], k) for i in rows])


def test_precision_at_k_ties_count_expected_share():
    y = np.array([[1, 1, 0, 0, 0, 0]])
    # constant scores: every order equally likely, expected precision = prevalence
    assert precision_at_k(y, np.zeros(y.shape), 3, by="clip").mean == pytest.approx(2 / 6)
    # one clear winner (a negative) then five ties containing both positives: (0 + 2 * 2/5) / 3
    s = np.array([[0.0, 0.0, 1.0, 0.0, 0.0, 0.0]])
    assert precision_at_k(y, s, 3, by="clip").mean == pytest.approx((2 * 2 / 5) / 3)
    # positives listed first must not help a constant scorer
    assert precision_at_k(y, np.ones(y.shape), 1, by="clip").mean == pytest.approx(1 / 3)


def _brute_recall(truth, score, k):
    return float(truth[np.argsort(-score)[:min(k, len(score))]].any())


@pytest.mark.parametrize("k", [1, 2, 5, 50])
def test_recall_at_k_brute_force(k):
    y, s = _data(11, shape=(25, 24), p=0.1)
    y[0] = False
    result = recall_at_k(y, s, k)
    rows = [i for i in range(len(y)) if y[i].any()]
    np.testing.assert_allclose(result.values[rows], [_brute_recall(y[i], s[i], k) for i in rows])
    assert result.n_skipped == len(y) - len(rows)


def test_recall_at_k_ties_equal_mean_over_all_orders():
    truth = np.array([0, 1, 0, 1, 0], dtype=bool)
    score = np.array([0.9, 0.5, 0.5, 0.5, 0.5])  # one negative on top, four tied (two relevant)
    expected = np.mean([truth[[0, *order[:1]]].any() for order in itertools.permutations([1, 2, 3, 4])])
    assert recall_at_k(truth[None], score[None], 2).mean == pytest.approx(expected)
    assert expected == pytest.approx(0.5)


def test_triplet_accuracy_matches_sklearn_and_counts_ties_half():
    rng = np.random.default_rng(0)
    dp, dn = rng.random(500), rng.random(500)
    assert triplet_accuracy(dp, dn) == pytest.approx(accuracy_score(np.ones(500, bool), dp < dn))
    assert triplet_accuracy([1.0, 1.0, 0.0], [1.0, 2.0, 0.5]) == pytest.approx((0.5 + 1 + 1) / 3)
    assert triplet_accuracy([2.0], [1.0]) == 0.0


def test_all_skipped_gives_nan_mean():
    y = np.zeros((4, 3), bool)
    result = roc_auc_tag(y, np.random.default_rng(0).random((4, 3)))
    assert np.isnan(result.mean) and result.n_skipped == 3


@pytest.mark.parametrize("call, message", [
    (lambda: roc_auc_tag(np.ones((3, 2)), np.ones((2, 3))), "shape"),
    (lambda: roc_auc_tag(np.ones(3), np.ones(3)), "2-D"),
    (lambda: pr_auc_tag(np.full((2, 2), 2), np.ones((2, 2))), "binary"),
    (lambda: roc_auc_clip(np.ones((2, 2)), np.array([[np.nan, 1], [1, 1]])), "NaN"),
    (lambda: roc_auc_tag(np.zeros((0, 2)), np.zeros((0, 2))), "empty"),
    (lambda: precision_at_k(np.ones((2, 2)), np.ones((2, 2)), 0), "k must"),
    (lambda: precision_at_k(np.ones((2, 2)), np.ones((2, 2)), 3, by="song"), "by must"),
    (lambda: recall_at_k(np.ones((2, 2)), np.ones((2, 2)), 2.5), "k must"),
    (lambda: triplet_accuracy([1.0, 2.0], [1.0]), "equal length"),
    (lambda: triplet_accuracy([], []), "no triplets"),
    (lambda: triplet_accuracy([np.inf], [1.0]), "NaN or infinite"),
    (lambda: recall_at_k_among(np.ones((2, 2)), np.ones((2, 2)), 1, np.ones((2, 3))), "candidates has shape"),
    (lambda: recall_at_k_among(np.ones((2, 2)), np.ones((2, 2)), 1, np.full((2, 2), 2)), "boolean mask"),
    (lambda: recall_at_k_chance([5], [6], 1), "n_relevant <= n_candidates"),
    (lambda: recall_at_k_chance([5, 4], [1], 1), "shape"),
    (lambda: recall_at_k_chance([5.5], [1], 1), "whole numbers"),
    (lambda: recall_at_k_chance([5], [1], 0), "k must"),
])
def test_validation_errors(call, message):
    with pytest.raises(ParameterError, match=message):
        call()


@pytest.mark.parametrize("k", [1, 2, 5, 50])
def test_recall_at_k_among_equals_recall_on_each_querys_candidates(k):
    y, s = _data(12, shape=(25, 24), p=0.15)
    candidates = np.random.default_rng(3).random(y.shape) < 0.7
    candidates[4] = False  # a query with no candidate at all: skipped
    result = recall_at_k_among(y, s, k, candidates)
    for i in range(len(y)):
        mask = candidates[i]
        if not (y[i] & mask).any():
            assert np.isnan(result.values[i])
        else:  # excluded items are neither ranked nor counted
            assert result.values[i] == _brute_recall(y[i, mask], s[i, mask], k)
    # without exclusions it is recall_at_k
    np.testing.assert_array_equal(recall_at_k_among(y, s, k, np.ones(y.shape, bool)).values,
                                  recall_at_k(y, s, k).values)


def test_recall_at_k_among_ignores_excluded_relevant_items():
    truth = np.array([[1, 0, 0, 1]], bool)
    score = np.array([[0.9, 0.8, 0.7, 0.1]])
    # the best item is relevant but excluded (e.g. a clip of the query's own piece): only the last one counts
    assert recall_at_k_among(truth, score, 1, [[0, 1, 1, 1]]).mean == 0.0
    assert recall_at_k_among(truth, score, 3, [[0, 1, 1, 1]]).mean == 1.0
    assert recall_at_k(truth, score, 1).mean == 1.0


@pytest.mark.parametrize("n, r, k", [(7, 1, 1), (7, 2, 3), (9, 4, 2), (6, 6, 2), (5, 2, 5), (4, 1, 9), (8, 3, 4)])
def test_recall_chance_equals_exact_enumeration(n, r, k):
    # every k-subset of the n candidates is equally likely to be the top k of a random ranking
    k_eff = min(k, n)
    subsets = list(itertools.combinations(range(n), k_eff))
    exact = np.mean([any(i < r for i in subset) for subset in subsets])
    assert recall_at_k_chance(n, r, k)[0] == pytest.approx(exact, abs=1e-12)


def test_recall_chance_matches_simulation_of_random_rankings():
    rng = np.random.default_rng(0)
    n_candidates = np.array([30, 30, 12, 60, 5, 40])
    n_relevant = np.array([1, 6, 3, 0, 5, 10])
    trials = 40_000
    for k in (1, 5, 10):
        chance = recall_at_k_chance(n_candidates, n_relevant, k)
        assert np.isnan(chance[3])  # no relevant candidate: skipped, like the recall
        for n, r, expected in zip(n_candidates, n_relevant, chance):
            if r == 0:
                continue
            scores = rng.random((trials, n))  # a random ranking per trial; the first r items are relevant
            kth_best = -np.partition(-scores, min(k, n) - 1, axis=1)[:, min(k, n) - 1]
            simulated = (scores[:, :r] >= kth_best[:, None]).any(axis=1).mean()
            se = np.sqrt(expected * (1 - expected) / trials)
            assert abs(simulated - expected) <= 4 * se + 1e-12, (n, r, k)
    # and the recall of one random ranking per query agrees with the formula on average
    truth = np.zeros((4000, 20), bool)
    truth[:, :3] = True
    assert recall_at_k(truth, rng.random(truth.shape), 4).mean == pytest.approx(
        recall_at_k_chance(20, 3, 4)[0], abs=4 * np.sqrt(0.25 / 4000))


def test_triplet_scores_mean_is_triplet_accuracy():
    rng = np.random.default_rng(1)
    dp, dn = np.round(rng.random(300), 1), np.round(rng.random(300), 1)  # ties
    scores = triplet_scores(dp, dn)
    assert set(np.unique(scores)) <= {0.0, 0.5, 1.0}
    assert scores.mean() == pytest.approx(triplet_accuracy(dp, dn))


def test_triplet_scores_of_index_rows_match_brute_force():
    """Each distinct (anchor, other) distance is computed once; the scores equal a per-triplet computation."""
    from core.evaluation.similarity import _triplet_scores, paired_distance

    rng = np.random.default_rng(2)
    matrix = rng.normal(size=(30, 8))
    rows = [rng.integers(0, 30, 2000) for _ in range(3)]  # many repeated pairs, some anchor = positive
    rows[1][:5] = rows[0][:5]
    for kind in ("euclidean", "dot"):
        for sl in (slice(None), slice(2, 5)):
            a, p, n = (matrix[r, sl] for r in rows)
            expected = triplet_scores(paired_distance(a, p, kind), paired_distance(a, n, kind))
            np.testing.assert_array_equal(_triplet_scores(matrix, rows, kind, sl), expected)
