"""Any two evaluated models compared metric by metric and tag by tag, from the cached units.

For pages that let the user pick models A and B (not only the stated claims):
both read the per-unit values cached beside ``evaluation.json``
(:func:`core.evaluation.run.cached_units`) and resample them with the
evaluation's own bootstrap settings, so the intervals match the stored ones.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .bootstrap import CONFIDENCE, N_RESAMPLES, Resampler
from .comparisons import Claim, compare, per_tag_differences
from .run import cached_units


def _resampler(evaluation: dict) -> tuple[Resampler, float]:
    settings = (evaluation.get("protocol") or {}).get("bootstrap") or {}
    return (Resampler(int(settings.get("seed", 0)), int(settings.get("resamples", N_RESAMPLES))),
            float(settings.get("confidence", CONFIDENCE)))


def _units(out: str | Path, evaluation: dict, name: str) -> tuple[dict, dict]:
    cached = cached_units(out, evaluation, "models", name)
    if cached is None:
        raise DataError(f"no cached evaluation units for model {name!r} beside {out}: run "
                        f"`python -m core evaluate` again")
    return cached


def model_differences(out: str | Path, evaluation: dict, a: str, b: str, metrics: list[str] | None = None) -> list[dict]:
    """Metric A - metric B with paired 95% intervals, for any two evaluated models.

    Parameters
    ----------
    out : path
        The ``evaluation.json`` the evaluation was written to.
    evaluation : dict
        Its content.
    a, b : str
        Model names.
    metrics : list of str, optional
        Dotted metric paths (default: every metric both models have, e.g.
        ``by_category.mood.roc_auc_tag``).

    Returns
    -------
    list of dict
        The entries of :func:`~core.evaluation.comparisons.compare` (``metric``,
        ``a_value``, ``b_value``, ``difference``, ``interval``, ``distinguishable``, ...).

    Raises
    ------
    DataError
        If a model's cached units are missing or stale.
    """
    units_a, _ = _units(out, evaluation, a)
    units_b, _ = _units(out, evaluation, b)
    if metrics is None:
        metrics = [".".join(p) for p in units_a if p in units_b]
    resampler, confidence = _resampler(evaluation)
    claim = Claim(f"{a} vs {b}", a, b, tuple(metrics))
    return compare([claim], {"models": {a: units_a, b: units_b}}, resampler, confidence)


def tag_differences(out: str | Path, evaluation: dict, a: str, b: str) -> list[dict]:
    """Per-tag ROC-AUC of two tag models on their common tags, with paired intervals over test tracks.

    See :func:`~core.evaluation.comparisons.per_tag_differences`; empty when
    either model has no text side.
    """
    _, arrays_a = _units(out, evaluation, a)
    _, arrays_b = _units(out, evaluation, b)
    if "tag_scores" not in arrays_a or "tag_scores" not in arrays_b:
        return []
    if list(arrays_a["track_ids"]) != list(arrays_b["track_ids"]):
        raise DataError(f"{a!r} and {b!r} were evaluated on different test tracks: run `python -m core evaluate` again")
    resampler, confidence = _resampler(evaluation)
    return per_tag_differences([str(t) for t in arrays_a["track_ids"]], arrays_a, arrays_b, resampler, confidence)
