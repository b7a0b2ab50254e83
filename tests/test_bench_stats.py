"""The intervals the benchmarks judge their targets by (bench/stats.py)."""

import numpy as np
import pytest

from bench.stats import interval, median, p95, ratio_interval, verdict


def test_ratio_interval_of_one_sample_against_itself_holds_one():
    times = np.random.default_rng(1).normal(1.0, 0.1, 12)
    low, high = ratio_interval(times, times)
    assert low < 1.0 < high


def test_ratio_interval_excludes_one_when_the_page_is_slower():
    rng = np.random.default_rng(2)
    page, bare = rng.normal(1.5, 0.05, 10), rng.normal(1.0, 0.05, 10)
    low, high = ratio_interval(page, bare)
    assert 1.3 < low < 1.5 < high < 1.7


def test_interval_brackets_the_statistic():
    times = np.random.default_rng(3).exponential(0.2, 40) + 0.1
    for statistic in (median, p95):
        low, high = interval(times, statistic)
        assert low <= float(statistic(times)) <= high and low < high


@pytest.mark.parametrize("bounds, expected", [([1.0, 1.2], "met"), ([1.21, 1.5], "not met"),
                                              ([1.1, 1.3], "undecided")])
def test_verdict_reads_the_whole_interval(bounds, expected):
    assert verdict(bounds, 1.2) == expected
