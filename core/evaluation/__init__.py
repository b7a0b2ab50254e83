"""Evaluation on the test split: metrics, held-out triplets, intervals, paired comparisons, reports.

* :mod:`~core.evaluation.metrics` — plain metric functions (validated against scikit-learn);
* :mod:`~core.evaluation.triplets` — Lee et al.'s held-out triplets, sampled deterministically;
* :mod:`~core.evaluation.similarity` — triplet accuracy per dimension and on track triplets;
* :mod:`~core.evaluation.query_by_tag` — models with a text side: query by tag, tagging, zero-shot, common tags;
* :mod:`~core.evaluation.query_by_track` — R@K per relevance rule (same piece excluded) and its chance level;
* :mod:`~core.evaluation.units` — the per-unit values behind each metric, cached as ``.npz``;
* :mod:`~core.evaluation.bootstrap` — seeded, vectorised bootstrap intervals and paired differences;
* :mod:`~core.evaluation.comparisons` — the stated claims and their paired differences;
* :mod:`~core.evaluation.pairs` — any two evaluated models, metric by metric and tag by tag (cached units);
* :mod:`~core.evaluation.run` — :func:`evaluate_workspace` -> ``evaluation.json`` (``evaluate`` command);
* :mod:`~core.evaluation.report` — tables like the papers', with intervals; markdown;
* :mod:`~core.evaluation.published` — the papers' published numbers (another dataset);
* :mod:`~core.evaluation.seeds` — mean and spread over training seeds (``bench/bench_seeds.py``).

Submodules are imported on use, so ``import core.evaluation`` stays light.
"""
