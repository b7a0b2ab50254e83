"""Two models side by side: where their neighbourhoods and judgements differ (the Compare page).

Modules: ``capabilities`` (which queries both models can answer), ``neighbourhoods``
(k-NN of every track through each model's index, Jaccard@k, the on-disk cache keyed
by the embeddings' source keys), ``rankings`` (two top-k lists of one query: overlap,
rank correlation, tracks only one model returns), ``triplets`` (anchor, x, y on which
the models make opposite similarity judgements), ``metrics`` (per-category and per-tag
metric differences with paired intervals, from ``core.evaluation.pairs``), ``export``
(CSV and M3U of a selection or a disagreement list). Everything reads vectors through
:class:`core.engine.engine.Engine`; no model weights are needed except for uploads and
words outside a model's vocabulary.
"""
