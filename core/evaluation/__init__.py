"""Evaluation on the test split: metrics, held-out triplets, tag and similarity evaluation, reports.

* :mod:`~core.evaluation.metrics` — plain metric functions (validated against scikit-learn);
* :mod:`~core.evaluation.triplets` — Lee et al.'s held-out triplets, sampled deterministically;
* :mod:`~core.evaluation.tagging` — tag models: tagging, query by tag, zero-shot, query by track;
* :mod:`~core.evaluation.similarity` — triplet accuracy per dimension and on track triplets;
* :mod:`~core.evaluation.run` — :func:`evaluate_workspace` -> ``evaluation.json`` (``evaluate`` command);
* :mod:`~core.evaluation.report` — tables like the papers', published numbers, markdown.

Submodules are imported on use, so ``import core.evaluation`` stays light.
"""
