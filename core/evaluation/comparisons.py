"""Paired comparisons behind the claims the README and the Results page state.

Each :class:`Claim` names two models (or word embeddings) and the metrics on
which the README or the Results page compares them. :func:`stated_claims` lists
those whose models exist; :func:`compare` computes, for every metric, the
difference A - B with its paired bootstrap interval
(:func:`~core.evaluation.bootstrap.paired_difference`: same resamples of the
shared units for both sides) and whether it is distinguishable from no
difference (the interval excludes 0). Comparisons whose models are absent or
whose metric is missing are skipped.

:func:`per_tag_differences` compares two tag models tag by tag (ROC-AUC per
common tag, with an interval that resamples the test tracks), for pages that
compare any two models.

``evaluation.json`` key ``comparisons``: a list of
``{"claim", "a", "b", "metric", "metric_b", "a_value", "b_value", "difference",
"interval", "distinguishable", "n_units", "kind"}``; ``kind`` is ``models`` or
``word_embeddings``; ``metric``/``metric_b`` are dotted paths into the two
entries' ``metrics`` (equal unless one model's sub-dimensions are compared with
the other's full space); ``a_value``/``b_value`` are on the units both share
(the common tags of two tag models), so they can differ slightly from the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..catalog import SIMILARITY_DIMENSIONS
from .bootstrap import CONFIDENCE, Resampler, paired_difference, percentile_interval
from .metrics import roc_auc_tag

_DIMS_AND_OVERALL = (*SIMILARITY_DIMENSIONS, "overall")
#: Metrics compared between a model with the rhythm branch and its paper network (those both have).
RHYTHM_METRICS = ("roc_auc_tag", "pr_auc_tag", *(f"by_category.{c}.roc_auc_tag" for c in ("genre", "mood",
                                                                                           "instrument", "tempo")),
                  "seen_roc_auc_tag", "zeroshot_roc_auc_tag",
                  *(f"triplet_acc.sub_dims.{d}" for d in _DIMS_AND_OVERALL),
                  *(f"triplet_acc.all_dims.{d}" for d in _DIMS_AND_OVERALL), "triplet_acc.track")
#: Suffix of the presets that add the rhythm branch to a paper preset.
RHYTHM_SUFFIX = "-rhythm"


@dataclass(frozen=True)
class Claim:
    """A stated comparison: A against B on some metrics.

    Attributes
    ----------
    text : str
        The claim as the README / Results page states it ("A beats B on ...").
    a, b : str
        Model (or word-embedding) names.
    metrics : tuple of str
        Dotted metric paths of A.
    metrics_b : tuple of str, optional
        B's paths, one per A path, when they differ (default: the same).
    kind : {"models", "word_embeddings"}
    """

    text: str
    a: str
    b: str
    metrics: tuple[str, ...]
    metrics_b: tuple[str, ...] | None = None
    kind: str = "models"

    def pairs(self) -> list[tuple[str, str]]:
        """``(metric of A, metric of B)`` pairs."""
        return list(zip(self.metrics, self.metrics_b or self.metrics))


def _sub_dims(dims=_DIMS_AND_OVERALL) -> tuple[str, ...]:
    return tuple(f"triplet_acc.sub_dims.{d}" for d in dims)


def _all_dims(dims=_DIMS_AND_OVERALL) -> tuple[str, ...]:
    return tuple(f"triplet_acc.all_dims.{d}" for d in dims)


#: The fixed claims (models named after the demo presets).
CLAIMS = (
    Claim("Won: balanced-weighted sampling beats random sampling (Won et al. README)",
          "won-balanced-weighted", "won-random", ("roc_auc_tag", "pr_auc_tag", "p_at_10")),
    Claim("Won: balanced sampling beats random sampling", "won-balanced", "won-random",
          ("roc_auc_tag", "pr_auc_tag", "p_at_10")),
    Claim("Won: a musical word embedding for the tag branch vs GloVe (Won et al. README)",
          "won-balanced-weighted-musical", "won-balanced-weighted", ("roc_auc_tag", "pr_auc_tag", "p_at_10")),
    Claim("Muslse: WARP beats AUC on tag prediction P@k (Weston et al. Table 3)", "muslse-warp", "muslse-auc",
          ("p_at_3", "p_at_6")),
    Claim("Lee: the disentangled model's sub-dimensions beat its full space, per dimension (Lee et al. Table 1)",
          "lee-disentangled", "lee-disentangled", _sub_dims(), _all_dims()),
    Claim("Lee: disentangled (sub-dimensions) beats the category model (Lee et al. Table 1)",
          "lee-disentangled", "lee-category", _sub_dims(), _all_dims()),
    Claim("Lee: disentangled (sub-dimensions) beats MFCC-VQ overall (Lee et al. Table 1)",
          "lee-disentangled", "mfcc-vq", _sub_dims(("overall",)), _all_dims(("overall",))),
    Claim("Lee: track regularisation raises track-triplet accuracy (Lee et al. Table 2)",
          "lee-disentangled-trackreg", "lee-disentangled", ("triplet_acc.track",)),
    Claim("Lee: one disentangled network matches the set of specialised networks (Lee et al. Table 1)",
          "lee-disentangled", "lee-specialised", _sub_dims()),
    Claim("MWE: the musical word embedding vs GloVe for the audio-word model (Doh et al. Table VIII)",
          "mwe-tag+artist+track", "mwe-tag+artist+track-glove",
          ("seen_roc_auc_tag", "zeroshot_roc_auc_tag", "roc_auc_tag")),
)


def stated_claims(model_names, word_embedding_domains: dict[str, str] | None = None) -> list[Claim]:
    """The claims whose two sides exist.

    Parameters
    ----------
    model_names : iterable of str
        Evaluated models.
    word_embedding_domains : dict, optional
        Word-embedding name -> domain (``musical``/``general``).

    Returns
    -------
    list of Claim
        :data:`CLAIMS` with both models present; one claim per model
        ``<preset>-rhythm`` whose ``<preset>`` exists (the rhythm branch against
        the paper network, on :data:`RHYTHM_METRICS`); one per musical/general
        pair of word embeddings (tag-rank nDCG@30).
    """
    names = set(model_names)
    claims = [c for c in CLAIMS if c.a in names and c.b in names]
    for name in sorted(names):
        base = name[:-len(RHYTHM_SUFFIX)] if name.endswith(RHYTHM_SUFFIX) else None
        if base in names:
            claims.append(Claim(f"Rhythm branch (not in the papers) vs the paper network: {base}", name, base,
                                RHYTHM_METRICS))
    domains = word_embedding_domains or {}
    for musical in sorted(n for n, d in domains.items() if d == "musical"):
        for general in sorted(n for n, d in domains.items() if d == "general"):
            claims.append(Claim("A musical word embedding beats a general one on tag-rank nDCG@30 (Doh et al. "
                                "Table III)", musical, general, ("ndcg30_tag_rank",), kind="word_embeddings"))
    return claims


def compare(claims: list[Claim], units: dict[str, dict[str, dict]], resampler: Resampler,
            confidence: float = CONFIDENCE) -> list[dict]:
    """The paired differences of the claims' metrics.

    Parameters
    ----------
    claims : list of Claim
    units : dict
        ``{"models": {name: units}, "word_embeddings": {name: units}}`` where
        ``units`` maps metric paths (tuples) to :class:`~core.evaluation.units.Units`.
    resampler : Resampler
    confidence : float

    Returns
    -------
    list of dict
        One entry per claim and metric both sides have (see the module docstring).
    """
    out = []
    for claim in claims:
        side = units.get(claim.kind, {})
        if claim.a not in side or claim.b not in side:
            continue
        for metric_a, metric_b in claim.pairs():
            result = paired_difference(side[claim.a], tuple(metric_a.split(".")), side[claim.b],
                                       tuple(metric_b.split(".")), resampler, confidence)
            if result is None:
                continue
            out.append({"claim": claim.text, "kind": claim.kind, "a": claim.a, "b": claim.b, "metric": metric_a,
                        "metric_b": metric_b, **result})
    return out


def _auc_replicates(truth: np.ndarray, score: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """ROC-AUC of one tag on each resample of the tracks (``counts``: draws per track, ``(B, n)``).

    On a resample, the AUC is the share of (positive, negative) draws in which the
    positive scores higher (ties: 1/2), each pair weighted by how often both were drawn.
    """
    pos, neg = np.flatnonzero(truth), np.flatnonzero(~truth)
    if len(pos) == 0 or len(neg) == 0:
        return np.full(counts.shape[0], np.nan)
    diff = score[pos][:, None] - score[neg][None, :]
    wins = (diff > 0) + 0.5 * (diff == 0)
    cp, cn = counts[:, pos], counts[:, neg]
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((cp @ wins) * cn).sum(axis=1) / (cp.sum(axis=1) * cn.sum(axis=1))


def per_tag_differences(track_ids: list[str], arrays_a: dict, arrays_b: dict, resampler: Resampler,
                        confidence: float = CONFIDENCE) -> list[dict]:
    """Per-tag ROC-AUC of two tag models on their common tags, with paired intervals over test tracks.

    Parameters
    ----------
    track_ids : list of str
        The test tracks (rows of both score matrices).
    arrays_a, arrays_b : dict
        ``{"tags", "tag_scores", "tag_truth"}`` of each model (cached with its units).
    resampler : Resampler
    confidence : float

    Returns
    -------
    list of dict
        ``{"tag", "a_value", "b_value", "difference", "interval", "distinguishable"}``
        per common tag with a positive and a negative test track; the interval
        resamples the test tracks (the same resamples for both models).
    """
    column_a = {str(t): j for j, t in enumerate(arrays_a["tags"])}
    column_b = {str(t): j for j, t in enumerate(arrays_b["tags"])}
    counts = resampler.counts("track", np.asarray(track_ids, dtype=str))
    out = []
    for tag in sorted(set(column_a) & set(column_b)):
        truth = np.asarray(arrays_a["tag_truth"], bool)[:, column_a[tag]]
        score_a = np.asarray(arrays_a["tag_scores"], np.float64)[:, column_a[tag]]
        score_b = np.asarray(arrays_b["tag_scores"], np.float64)[:, column_b[tag]]
        a = roc_auc_tag(truth[:, None], score_a[:, None]).mean
        b = roc_auc_tag(truth[:, None], score_b[:, None]).mean
        if np.isnan(a) or np.isnan(b):
            continue
        interval = percentile_interval(_auc_replicates(truth, score_a, counts)
                                       - _auc_replicates(truth, score_b, counts), confidence)
        out.append({"tag": tag, "a_value": float(a), "b_value": float(b), "difference": float(a - b),
                    "interval": interval,
                    "distinguishable": interval is not None and (interval[0] > 0 or interval[1] < 0)})
    return out
