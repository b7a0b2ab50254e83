"""Intervals for benchmark timings, so that a target is called met only when its interval says so.

A timing statistic (a median, a p95) of a few visits moves by tenths of a second from run
to run on a loaded two-core machine; the benchmarks print it with a 95% bootstrap interval
(visits resampled with replacement) and judge a target by the interval, not the point.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from core.evaluation.bootstrap import N_RESAMPLES, percentile_interval, resample_indices

Statistic = Callable[[np.ndarray], np.ndarray]  # rows of samples -> one value per row


def median(samples: np.ndarray) -> np.ndarray:
    return np.median(samples, axis=-1)


def p95(samples: np.ndarray) -> np.ndarray:
    return np.percentile(samples, 95, axis=-1)


def _replicates(times, statistic: Statistic, rng: np.random.Generator) -> np.ndarray:
    values = np.asarray(times, dtype=np.float64)
    return statistic(values[resample_indices(len(values), N_RESAMPLES, rng)])


def interval(times, statistic: Statistic = median, seed: int = 0) -> list[float]:
    """95% bootstrap interval ``[low, high]`` of ``statistic`` over the visits ``times``."""
    return percentile_interval(_replicates(times, statistic, np.random.default_rng(seed)))


def ratio_interval(times, reference, statistic: Statistic = median, seed: int = 0) -> list[float]:
    """95% bootstrap interval of ``statistic(times) / statistic(reference)``, both samples resampled apart."""
    rng = np.random.default_rng(seed)
    return percentile_interval(_replicates(times, statistic, rng) / _replicates(reference, statistic, rng))


def verdict(bounds: list[float], target: float) -> str:
    """``met`` (the whole interval at or under ``target``), ``not met`` (all above), else ``undecided``."""
    low, high = bounds
    if high <= target:
        return "met"
    if low > target:
        return "not met"
    return "undecided"
