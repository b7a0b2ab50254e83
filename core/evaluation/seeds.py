"""Spread over training seeds: the same presets trained with several seeds, evaluated with one protocol.

:func:`seed_spread` reads one evaluation per training seed (``evaluation.json``
of each seed's workspace copy, see ``bench/bench_seeds.py``) and gives, per
model and metric, the mean, the sample standard deviation, the range and the
per-seed values; per paired comparison, the same for the difference A - B plus
in how many seeds it was distinguishable in each direction. The bootstrap
intervals measure test-set noise for one trained model; this spread measures
training noise, which they do not include.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .units import metric_paths

#: Metrics printed by :func:`seed_tables` (all of them are in :func:`seed_spread`'s output).
HEADLINE_PATHS = ("roc_auc_tag", "pr_auc_tag", "p_at_10", "p_at_3", "seen_roc_auc_tag", "zeroshot_roc_auc_tag",
                  "triplet_acc.all_dims.overall", "triplet_acc.sub_dims.overall", "triplet_acc.sub_dims.tempo",
                  "triplet_acc.track", "r_at_k.1", "r_at_k.10")


def _spread(values: dict[int, float | None]) -> dict:
    defined = np.array([v for v in values.values() if v is not None], dtype=np.float64)
    return {"mean": float(defined.mean()) if defined.size else None,
            "sd": float(defined.std(ddof=1)) if defined.size > 1 else None,
            "min": float(defined.min()) if defined.size else None, "max": float(defined.max()) if defined.size else None,
            "n_seeds": int(defined.size), "values": {str(seed): v for seed, v in values.items()}}


def _at(tree: dict, path: tuple):
    for key in path:
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def seed_spread(evaluations: dict[int, dict]) -> dict:
    """Mean and spread over seeds of every model metric and every paired comparison.

    Parameters
    ----------
    evaluations : dict
        Training seed -> evaluation (as written to ``evaluation.json``).

    Returns
    -------
    dict
        ``{"seeds": [...], "models": {name: {dotted metric: spread}},
        "comparisons": [{"claim", "a", "b", "metric", "metric_b", **spread of
        the difference, "a_higher", "b_higher", "not_distinguishable"}]}`` where
        a spread is ``{"mean", "sd", "min", "max", "n_seeds", "values"}`` and the
        three counts say in how many seeds the paired interval put A above B,
        B above A, or covered 0.
    """
    seeds = sorted(evaluations)
    models: dict[str, dict] = {}
    names = sorted({name for e in evaluations.values() for name in e.get("models", {})})
    for name in names:
        paths = sorted({p for e in evaluations.values() for p in metric_paths(e["models"].get(name, {}).get(
            "metrics", {}))})
        models[name] = {".".join(p): _spread({s: _at(evaluations[s]["models"].get(name, {}).get("metrics", {}), p)
                                              for s in seeds}) for p in paths}
    keyed: dict[tuple, dict[int, dict]] = {}
    for seed in seeds:
        for c in evaluations[seed].get("comparisons", []):
            keyed.setdefault((c["claim"], c["a"], c["b"], c["metric"], c.get("metric_b", c["metric"])), {})[seed] = c
    comparisons = []
    for (claim, a, b, metric, metric_b), per_seed in keyed.items():
        verdicts = [c for c in per_seed.values()]
        comparisons.append({"claim": claim, "a": a, "b": b, "metric": metric, "metric_b": metric_b,
                            **_spread({s: per_seed[s]["difference"] if s in per_seed else None for s in seeds}),
                            "a_higher": sum(c["distinguishable"] and c["difference"] > 0 for c in verdicts),
                            "b_higher": sum(c["distinguishable"] and c["difference"] < 0 for c in verdicts),
                            "not_distinguishable": sum(not c["distinguishable"] for c in verdicts)})
    return {"seeds": seeds, "models": models, "comparisons": comparisons}


def seed_tables(spread: dict, paths: tuple[str, ...] = HEADLINE_PATHS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two tables for printing: headline metrics per model (mean ± sd over seeds), and the comparisons."""
    rows = []
    for name, metrics in spread["models"].items():
        for path in paths:
            s = metrics.get(path)
            if s is not None and s["mean"] is not None:
                rows.append({"model": name, "metric": path, "mean": s["mean"], "sd": s["sd"], "min": s["min"],
                             "max": s["max"], "seeds": s["n_seeds"]})
    metrics = pd.DataFrame(rows, columns=["model", "metric", "mean", "sd", "min", "max", "seeds"])
    comparisons = pd.DataFrame([
        {"claim": c["claim"], "A": c["a"], "B": c["b"],
         "metric": c["metric"] if c["metric"] == c["metric_b"] else f"{c['metric']} vs {c['metric_b']}",
         "mean A - B": c["mean"], "sd": c["sd"], "min": c["min"], "max": c["max"],
         "A higher / B higher / not distinguishable": f"{c['a_higher']} / {c['b_higher']} / {c['not_distinguishable']}"}
        for c in spread["comparisons"]])
    return metrics, comparisons
