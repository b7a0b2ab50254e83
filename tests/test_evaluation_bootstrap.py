"""Bootstrap intervals and paired differences against a brute-force bootstrap, coverage, unit caching."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ParameterError
from core.evaluation.bootstrap import Resampler, interval_tree, paired_difference, percentile_interval, replicates
from core.evaluation.comparisons import _auc_replicates, per_tag_differences
from core.evaluation.metrics import roc_auc_clip, roc_auc_tag, triplet_accuracy
from core.evaluation.units import MeanOf, Units, load_units, node_value, save_units

TRACKS = [f"t{i:02d}" for i in range(14)]
TAGS = [f"tag{j}" for j in range(9)]
B = 300


def _labels(seed):
    rng = np.random.default_rng(seed)
    y = rng.random((len(TRACKS), len(TAGS))) < 0.35
    y[:, 0] = False  # a tag with no positive: skipped
    y[2] = False  # a song with no tag: skipped
    scores = rng.normal(size=y.shape) + 0.8 * y
    return y, np.round(scores, 1)  # ties


def _triplets(seed, n=400):
    rng = np.random.default_rng(seed)
    anchors = rng.choice(TRACKS[:11], size=n)  # three tracks are never anchors
    d_pos, d_neg = np.round(rng.random(n), 1), np.round(rng.random(n), 1)
    return anchors, d_pos, d_neg


def _units(y, scores, triplets):
    anchors, d_pos, d_neg = triplets
    index = {t: i for i, t in enumerate(TRACKS)}
    scores_per_triplet = (d_pos < d_neg) + 0.5 * (d_pos == d_neg)
    half = len(anchors) // 2
    return {("roc_auc_tag",): Units.mean("tag", TAGS, roc_auc_tag(y, scores).values),
            ("roc_auc_clip",): Units.mean("track", TRACKS, roc_auc_clip(y, scores).values),
            ("acc", "a"): Units.grouped("track", TRACKS, [index[t] for t in anchors[:half]], scores_per_triplet[:half]),
            ("acc", "b"): Units.grouped("track", TRACKS, [index[t] for t in anchors[half:]], scores_per_triplet[half:]),
            ("acc", "overall"): MeanOf((("acc", "a"), ("acc", "b")))}


def _brute(y, scores, triplets, draws_tracks, draws_tags):
    """Every metric recomputed from scratch on one resample (the metric functions on the drawn units)."""
    anchors, d_pos, d_neg = triplets
    tags_defined = [j for j in range(len(TAGS)) if 0 < y[:, j].sum() < len(TRACKS)]
    cols = [tags_defined[i] for i in draws_tags]
    out = {("roc_auc_tag",): roc_auc_tag(y[:, cols], scores[:, cols]).mean,
           ("roc_auc_clip",): roc_auc_clip(y[draws_tracks], scores[draws_tracks]).mean}
    half = len(anchors) // 2
    parts = []
    for key, sl in ((("acc", "a"), slice(0, half)), (("acc", "b"), slice(half, None))):
        rows = [i for t in np.asarray(TRACKS)[draws_tracks] for i in np.flatnonzero(anchors[sl] == t)]
        value = triplet_accuracy(d_pos[sl][rows], d_neg[sl][rows]) if rows else np.nan
        out[key] = value
        parts.append(value)
    out[("acc", "overall")] = np.nanmean(parts) if not np.isnan(parts).all() else np.nan
    return out


def test_vectorised_bootstrap_equals_brute_force_recomputation():
    y, scores = _labels(0)
    triplets = _triplets(1)
    units = _units(y, scores, triplets)
    resampler = Resampler(seed=5, n_resamples=B)
    tag_population = units[("roc_auc_tag",)].population()
    assert len(tag_population) == len(TAGS) - 1  # the tag without positives is not resampled
    track_draws = resampler.indices("track", np.asarray(TRACKS))
    tag_draws = resampler.indices("tag", tag_population)
    brute = [_brute(y, scores, triplets, track_draws[b], tag_draws[b]) for b in range(B)]
    for path in units:
        value, reps = replicates(units, path, resampler)
        assert value == pytest.approx(node_value(units, path))
        np.testing.assert_allclose(reps, [row[path] for row in brute], rtol=0, atol=1e-12, equal_nan=True)
    intervals = interval_tree(units, resampler)
    expected = np.nanpercentile([row[("roc_auc_clip",)] for row in brute], [2.5, 97.5])
    np.testing.assert_allclose(intervals["roc_auc_clip"], expected, atol=1e-12)
    assert set(intervals) == {"roc_auc_tag", "roc_auc_clip", "acc"} and set(intervals["acc"]) == {"a", "b", "overall"}


def test_paired_difference_uses_the_same_resamples_for_both_sides():
    y, scores_a = _labels(0)
    _, scores_b = _labels(7)
    triplets = _triplets(1)
    units_a, units_b = _units(y, scores_a, triplets), _units(y, scores_b, _triplets(2))
    resampler = Resampler(seed=0, n_resamples=B)
    track_draws = resampler.indices("track", np.asarray(TRACKS))
    result = paired_difference(units_a, ("roc_auc_clip",), units_b, ("roc_auc_clip",), resampler)
    brute = [roc_auc_clip(y[d], scores_a[d]).mean - roc_auc_clip(y[d], scores_b[d]).mean for d in track_draws]
    np.testing.assert_allclose(result["interval"], np.nanpercentile(brute, [2.5, 97.5]), atol=1e-12)
    assert result["difference"] == pytest.approx(result["a_value"] - result["b_value"])
    assert result["n_units"] == {"track": len(TRACKS)}
    # a model against itself: every resampled difference is 0, never distinguishable
    same = paired_difference(units_a, ("acc", "overall"), units_a, ("acc", "overall"), resampler)
    assert same["interval"] == [0.0, 0.0] and not same["distinguishable"]


def test_paired_per_tag_metric_uses_the_common_tags():
    y, _ = _labels(0)
    scores = y + np.random.default_rng(0).normal(0, 0.3, size=y.shape)  # a good model
    units_a = {("m",): Units.mean("tag", TAGS, roc_auc_tag(y, scores).values)}
    keep = [1, 2, 3, 5, 8]  # model B is scored on fewer tags
    units_b = {("m",): Units.mean("tag", np.asarray(TAGS)[keep], roc_auc_tag(y[:, keep], -scores[:, keep]).values)}
    result = paired_difference(units_a, ("m",), units_b, ("m",), Resampler(0, B))
    common = [j for j in keep if 0 < y[:, j].sum() < len(TRACKS)]
    assert result["n_units"] == {"tag": len(common)}
    assert result["a_value"] == pytest.approx(roc_auc_tag(y[:, common], scores[:, common]).mean)
    assert result["distinguishable"] and result["difference"] > 0  # B ranks every tag backwards


def test_resamples_depend_only_on_seed_kind_and_ids():
    ids = np.asarray(TRACKS)
    a, b = Resampler(3, 50), Resampler(3, 50)
    np.testing.assert_array_equal(a.counts("track", ids), b.counts("track", ids))
    assert not np.array_equal(a.counts("track", ids), Resampler(4, 50).counts("track", ids))
    assert not np.array_equal(a.counts("track", ids), a.counts("tag", ids))
    counts = a.counts("track", ids)
    assert counts.shape == (50, len(ids)) and (counts.sum(axis=1) == len(ids)).all()


@pytest.mark.parametrize("make", ["mean", "ratio"])
def test_interval_coverage_on_synthetic_data(make):
    # 95% intervals of a mean (values per unit) and of a ratio (triplets grouped by anchor) cover the truth
    rng = np.random.default_rng(11)
    ids = np.array([f"u{i}" for i in range(60)])
    truth, covered, n_datasets = 0.7, 0, 300
    for seed in range(n_datasets):
        if make == "mean":
            units = {("m",): Units.mean("track", ids, rng.random(60) < truth)}
        else:
            counts = rng.integers(1, 30, size=60)
            group = np.repeat(np.arange(60), counts)
            p = np.clip(truth + rng.normal(0, 0.15, size=60), 0, 1)[group]  # anchors differ in difficulty
            units = {("m",): Units.grouped("track", ids, group, rng.random(len(group)) < p)}
        low, high = interval_tree(units, Resampler(seed, 500))["m"]
        covered += low <= truth <= high
    assert 0.90 <= covered / n_datasets <= 0.99


def test_per_tag_auc_replicates_equal_brute_force():
    y, scores_a = _labels(3)
    _, scores_b = _labels(4)
    resampler = Resampler(1, 200)
    draws = resampler.indices("track", np.asarray(TRACKS))
    counts = resampler.counts("track", np.asarray(TRACKS))
    for j in range(1, len(TAGS)):
        brute = [roc_auc_tag(y[d][:, [j]], scores_a[d][:, [j]]).mean for d in draws]
        np.testing.assert_allclose(_auc_replicates(y[:, j], scores_a[:, j], counts), brute, atol=1e-12,
                                   equal_nan=True)
    rows = per_tag_differences(TRACKS, {"tags": TAGS, "tag_scores": scores_a, "tag_truth": y},
                               {"tags": TAGS[::-1], "tag_scores": scores_b[:, ::-1], "tag_truth": y[:, ::-1]}, resampler)
    assert [r["tag"] for r in rows] == [t for j, t in enumerate(TAGS) if 0 < y[:, j].sum() < len(TRACKS)]
    for row in rows:
        j = TAGS.index(row["tag"])
        assert row["b_value"] == pytest.approx(roc_auc_tag(y[:, [j]], scores_b[:, [j]]).mean)


def test_units_round_trip_without_pickle(tmp_path):
    y, scores = _labels(0)
    units = _units(y, scores, _triplets(1))
    key = {"protocol": {"version": 2}, "files": "abc"}
    path = save_units(tmp_path / "m.npz", units, key, {"tag_scores": scores, "tags": np.asarray(TAGS)})
    loaded, arrays = load_units(path, key)
    assert list(loaded) == list(units)
    for p in units:
        assert node_value(loaded, p) == node_value(units, p)
    np.testing.assert_array_equal(arrays["tag_scores"], scores)
    assert load_units(path, {**key, "files": "other"}) is None  # another checkpoint: stale
    path.write_bytes(b"not a zip")
    assert load_units(path, key) is None  # damaged: recomputed
    with np.load(save_units(path, units, key), allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)


def test_validation():
    with pytest.raises(ParameterError, match="unknown unit kind"):
        Units("song", ["a"], [1.0], [1.0])
    with pytest.raises(ParameterError, match="unique"):
        Units("track", ["a", "a"], [1.0, 1.0], [1.0, 1.0])
    with pytest.raises(ParameterError, match="seed"):
        Resampler(-1)
    assert percentile_interval(np.array([np.nan, np.nan])) is None
    units_tag = {("m",): Units.mean("tag", ["a", "b"], [0.5, 0.7])}
    units_track = {("m",): Units.mean("track", ["a", "b"], [0.5, 0.7])}
    with pytest.raises(ParameterError, match="different units"):
        paired_difference(units_tag, ("m",), units_track, ("m",), Resampler(0, 10))
    assert paired_difference(units_tag, ("x",), units_tag, ("m",), Resampler(0, 10)) is None
