"""Spread over training seeds: mean, sample sd and verdict counts per metric and per comparison."""

from __future__ import annotations

import numpy as np
import pytest

from core.evaluation.seeds import seed_spread, seed_tables


def _evaluation(roc, overall, difference, low, high):
    comparison = {"claim": "c", "a": "won-a", "b": "won-b", "metric": "roc_auc_tag", "metric_b": "roc_auc_tag",
                  "difference": difference, "interval": [low, high], "distinguishable": low > 0 or high < 0}
    return {"models": {"won-a": {"metrics": {"roc_auc_tag": roc, "p_at_10": None,
                                             "triplet_acc": {"all_dims": {"overall": overall}}}}},
            "comparisons": [comparison]}


def test_spread_over_seeds():
    evaluations = {0: _evaluation(0.80, 0.6, 0.05, 0.01, 0.09), 1: _evaluation(0.84, 0.7, 0.02, -0.03, 0.07),
                   2: _evaluation(0.83, 0.65, -0.04, -0.07, -0.01)}
    spread = seed_spread(evaluations)
    roc = spread["models"]["won-a"]["roc_auc_tag"]
    assert roc["mean"] == pytest.approx(np.mean([0.80, 0.84, 0.83]))
    assert roc["sd"] == pytest.approx(np.std([0.80, 0.84, 0.83], ddof=1))
    assert (roc["min"], roc["max"], roc["n_seeds"]) == (0.80, 0.84, 3)
    assert roc["values"] == {"0": 0.80, "1": 0.84, "2": 0.83}
    assert spread["models"]["won-a"]["p_at_10"]["mean"] is None  # undefined in every seed
    assert spread["models"]["won-a"]["triplet_acc.all_dims.overall"]["mean"] == pytest.approx(0.65)
    (comparison,) = spread["comparisons"]
    assert comparison["mean"] == pytest.approx(0.01)
    assert (comparison["a_higher"], comparison["b_higher"], comparison["not_distinguishable"]) == (1, 1, 1)
    metrics, comparisons = seed_tables(spread)
    assert set(metrics["metric"]) == {"roc_auc_tag", "triplet_acc.all_dims.overall"}
    assert comparisons.loc[0, "A higher / B higher / not distinguishable"] == "1 / 1 / 1"


def test_model_missing_in_one_seed():
    evaluations = {0: _evaluation(0.8, 0.6, 0.0, -0.1, 0.1), 1: {"models": {}, "comparisons": []}}
    spread = seed_spread(evaluations)
    roc = spread["models"]["won-a"]["roc_auc_tag"]
    assert roc["n_seeds"] == 1 and roc["sd"] is None and roc["values"]["1"] is None
    assert spread["comparisons"][0]["n_seeds"] == 1
