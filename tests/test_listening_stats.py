"""Agreement statistics against published worked examples and hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.errors import ParameterError
from core.listening.stats import fleiss_kappa, krippendorff_alpha_nominal, wilson_interval

NAN = np.nan


def test_fleiss_kappa_matches_the_wikipedia_worked_example():
    # Fleiss' kappa article: 10 subjects, 14 raters, 5 categories; P = 0.378, Pe = 0.213, kappa = 0.210.
    counts = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
              [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    assert fleiss_kappa(counts) == pytest.approx(0.20993, abs=5e-5)


def test_fleiss_kappa_hand_computed_binary_case():
    # 3 items x 4 raters: P_i = 1, (2*1 + 2*1)/(4*3) = 1/3, 1 -> P = 7/9; p = (1/2, 1/2) -> Pe = 1/2;
    # kappa = (7/9 - 1/2) / (1/2) = 5/9.
    assert fleiss_kappa([[4, 0], [2, 2], [0, 4]]) == pytest.approx(5 / 9)
    assert fleiss_kappa([[4, 0], [0, 4]]) == pytest.approx(1.0)


def test_fleiss_kappa_refuses_unequal_rater_counts():
    with pytest.raises(ParameterError, match="Krippendorff"):
        fleiss_kappa([[3, 0], [1, 1]])


def test_krippendorff_alpha_matches_krippendorffs_published_example():
    # Krippendorff (2011), "Computing Krippendorff's alpha-reliability", 4 observers x 12 units
    # with missing values; nominal alpha = 0.743.
    data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
            [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
            [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
            [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN]]
    assert krippendorff_alpha_nominal(data) == pytest.approx(0.743, abs=5e-4)


def test_krippendorff_alpha_hand_computed_binary_case():
    # units (0,0), (0,1), (1,1): o00 = 2, o01 = o10 = 1, o11 = 2; n0 = n1 = 3, n = 6
    # alpha = 1 - (n-1) * 2 / (2 * 3 * 3) = 1 - 10/18 = 4/9. The lone rating (unit 4) is not pairable.
    data = [[0, 0, 1, 1], [0, 1, 1, NAN]]
    assert krippendorff_alpha_nominal(data) == pytest.approx(4 / 9)
    assert krippendorff_alpha_nominal([[0, 1, 0], [0, 1, 0]]) == pytest.approx(1.0)


def test_alpha_and_kappa_agree_in_the_large_sample_limit_for_complete_data():
    rng = np.random.default_rng(0)
    truth = rng.integers(2, size=400)
    ratings = np.where(rng.random((5, 400)) < 0.8, truth, 1 - truth).astype(float)
    counts = np.stack([(ratings == 0).sum(0), (ratings == 1).sum(0)], axis=1)
    assert krippendorff_alpha_nominal(ratings) == pytest.approx(fleiss_kappa(counts), abs=0.01)


def test_wilson_interval_hand_values():
    low, high = wilson_interval(0, 10)
    assert low == 0.0 and high == pytest.approx(1.959964 ** 2 / (10 + 1.959964 ** 2), rel=1e-6)
    low, high = wilson_interval(5, 10)
    half = 1.959964 * math.sqrt(0.025 + 1.959964 ** 2 / 400) / (1 + 1.959964 ** 2 / 10)
    assert (low, high) == pytest.approx((0.5 - half, 0.5 + half), rel=1e-6)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))
