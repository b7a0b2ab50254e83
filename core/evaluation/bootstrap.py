"""Seeded bootstrap intervals of metrics and paired differences, vectorised over resamples.

Each metric is ``sum(num) / sum(den)`` over its units (:mod:`core.evaluation.units`).
A bootstrap resample draws ``n`` units with replacement from the metric's
*population* of ``n`` units; with ``c_u`` the number of times unit ``u`` was drawn,
the resampled metric is ``sum(c * num) / sum(c * den)`` -- exactly the metric
recomputed on the resampled units (a macro average over the drawn queries, each
as often as drawn; triplet accuracy over the triplets of the drawn anchor
tracks). All resamples are one matrix product.

Populations
    Test tracks are resampled from the whole test split for every per-song,
    query-by-track and triplet metric, so all of a model's track metrics (and
    every model's) use the same resamples; the four triplet dimensions of
    ``overall`` are resampled jointly. Tags are resampled from the tags a per-tag
    metric averages (those with a defined value).
Seeds
    The resamples of a population depend only on the evaluation seed, the unit
    kind and the population's ids: the same units give the same resamples in
    every run, for every model.
Intervals
    Percentile intervals: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
    quantiles of :data:`N_RESAMPLES` resampled values (resamples where the metric
    is undefined, e.g. no drawn tag has a positive, are left out).
Paired differences
    Both metrics are recomputed on the *same* resamples of the units they share
    (the common tags of two tag models; the test tracks), so the difference's
    interval accounts for what the two sides have in common. A difference is
    *distinguishable* when its interval does not contain 0.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ParameterError
from .units import KINDS, MeanOf, MetricPath, Units

#: Resamples per interval.
N_RESAMPLES = 2000
#: Coverage of the intervals.
CONFIDENCE = 0.95
#: Interval method (stored in the protocol).
METHOD = "percentile"


def resample_indices(n: int, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_resamples, n)`` unit indices drawn uniformly with replacement."""
    if n < 1 or n_resamples < 1:
        raise ParameterError(f"need at least one unit and one resample, got n={n}, n_resamples={n_resamples}")
    return rng.integers(0, n, size=(n_resamples, n))


def resample_counts(indices: np.ndarray, n: int) -> np.ndarray:
    """How often each of ``n`` units is drawn in each resample: ``(n_resamples, n)`` float64."""
    b = indices.shape[0]
    flat = (indices + n * np.arange(b)[:, None]).ravel()
    return np.bincount(flat, minlength=b * n).reshape(b, n).astype(np.float64)


class Resampler:
    """Bootstrap resamples per population, seeded by ``(seed, kind, ids)`` and cached.

    Parameters
    ----------
    seed : int >= 0
    n_resamples : int >= 1
    """

    def __init__(self, seed: int = 0, n_resamples: int = N_RESAMPLES):
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ParameterError(f"the bootstrap seed must be a non-negative integer, got {seed!r}")
        if isinstance(n_resamples, bool) or not isinstance(n_resamples, (int, np.integer)) or n_resamples < 1:
            raise ParameterError(f"n_resamples must be a positive integer, got {n_resamples!r}")
        self.seed, self.n_resamples = int(seed), int(n_resamples)
        self._counts: dict[tuple[str, str], np.ndarray] = {}

    def rng(self, kind: str, ids) -> np.random.Generator:
        """The generator of one population (a function of the seed, the kind and the ids only)."""
        digest = hashlib.sha256((kind + "\0" + "\0".join(map(str, ids))).encode()).digest()
        words = np.frombuffer(digest[:16], dtype=np.uint32)
        return np.random.default_rng([self.seed, KINDS.index(kind), *map(int, words)])

    def indices(self, kind: str, ids) -> np.ndarray:
        """``(n_resamples, len(ids))`` indices into ``ids`` (the draws behind :meth:`counts`)."""
        return resample_indices(len(ids), self.n_resamples, self.rng(kind, ids))

    def counts(self, kind: str, ids) -> np.ndarray:
        """``(n_resamples, len(ids))`` draw counts of the population ``ids``."""
        key = (kind, hashlib.sha256("\0".join(map(str, ids)).encode()).hexdigest())
        if key not in self._counts:
            self._counts[key] = resample_counts(self.indices(kind, ids), len(ids))
        return self._counts[key]


def percentile_interval(replicates: np.ndarray, confidence: float = CONFIDENCE) -> list[float] | None:
    """``[low, high]`` percentile interval of the finite replicates; None if there is none."""
    if not 0 < confidence < 1:
        raise ParameterError(f"confidence must be in (0, 1), got {confidence}")
    finite = np.asarray(replicates, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return None
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(finite, [tail, 100 - tail])
    return [float(low), float(high)]


# --------------------------------------------------------------- populations
def populations(units: dict, path: MetricPath) -> dict[str, np.ndarray]:
    """The ids a metric is resampled over, per unit kind (a :class:`MeanOf` joins its parts')."""
    node = units[path]
    if isinstance(node, Units):
        return {node.kind: node.population()}
    out: dict[str, np.ndarray] = {}
    for part in node.parts:
        for kind, ids in populations(units, part).items():
            out[kind] = ids if kind not in out else np.union1d(out[kind], ids)
    return out


def _common(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    if set(a) != set(b):
        raise ParameterError(f"cannot pair metrics over different units ({sorted(a)} vs {sorted(b)})")
    return {kind: np.intersect1d(a[kind], b[kind]) for kind in a}


def replicates(units: dict, path: MetricPath, resampler: Resampler,
               population: dict[str, np.ndarray] | None = None) -> tuple[float | None, np.ndarray]:
    """A metric and its bootstrap replicates over a population.

    Parameters
    ----------
    units : dict
        Path -> :class:`Units` / :class:`MeanOf` of one model.
    path : tuple of str
    resampler : Resampler
    population : dict, optional
        Kind -> ids to use (default: the metric's own, :func:`populations`);
        units outside it are left out of both the value and the replicates.

    Returns
    -------
    value : float or None
        The metric on the population.
    replicates : np.ndarray, shape (n_resamples,)
        NaN where a resample leaves it undefined.
    """
    population = populations(units, path) if population is None else population
    node = units[path]
    if isinstance(node, MeanOf):
        parts = [replicates(units, p, resampler, population) for p in node.parts]
        parts = [(v, r) for v, r in parts if v is not None]
        if not parts:
            return None, np.full(resampler.n_resamples, np.nan)
        stacked = np.stack([r for _, r in parts])
        defined = np.isfinite(stacked)
        with np.errstate(invalid="ignore", divide="ignore"):
            reps = np.where(defined, stacked, 0.0).sum(0) / defined.sum(0)
        return float(np.mean([v for v, _ in parts])), reps
    ids = population.get(node.kind, np.array([], dtype=str))
    if len(ids) == 0:
        return None, np.full(resampler.n_resamples, np.nan)
    position = {u: i for i, u in enumerate(node.ids)}
    rows = np.array([position[u] for u in ids if u in position], dtype=np.int64)
    num = np.zeros(len(ids))
    den = np.zeros(len(ids))
    inside = np.array([u in position for u in ids])
    num[inside], den[inside] = node.num[rows], node.den[rows]
    if den.sum() == 0:
        return None, np.full(resampler.n_resamples, np.nan)
    counts = resampler.counts(node.kind, ids)
    with np.errstate(invalid="ignore", divide="ignore"):
        reps = (counts @ num) / (counts @ den)
    return float(num.sum() / den.sum()), reps


def interval_tree(units: dict, resampler: Resampler, confidence: float = CONFIDENCE) -> dict:
    """Intervals of every metric with units, as a tree mirroring the metrics (``[low, high]`` or None)."""
    tree: dict = {}
    for path in units:
        value, reps = replicates(units, path, resampler)
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = None if value is None else percentile_interval(reps, confidence)
    return tree


def paired_difference(units_a: dict, path_a: MetricPath, units_b: dict, path_b: MetricPath,
                      resampler: Resampler, confidence: float = CONFIDENCE) -> dict | None:
    """Metric A minus metric B on the units both have, with the paired bootstrap interval.

    Returns
    -------
    dict or None
        ``{"a_value", "b_value", "difference", "interval", "distinguishable",
        "n_units"}`` (values on the shared units, so they may differ from the
        tables' when the two sides averaged different tags); None if either
        metric is missing or undefined on the shared units.
    """
    if path_a not in units_a or path_b not in units_b:
        return None
    common = _common(populations(units_a, path_a), populations(units_b, path_b))
    a, reps_a = replicates(units_a, path_a, resampler, common)
    b, reps_b = replicates(units_b, path_b, resampler, common)
    if a is None or b is None:
        return None
    interval = percentile_interval(reps_a - reps_b, confidence)
    return {"a_value": a, "b_value": b, "difference": a - b, "interval": interval,
            "distinguishable": interval is not None and (interval[0] > 0 or interval[1] < 0),
            "n_units": {kind: int(len(ids)) for kind, ids in common.items()}}
