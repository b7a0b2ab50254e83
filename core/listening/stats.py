"""Agreement statistics for binary listening-test ratings: Wilson intervals, Fleiss' kappa, Krippendorff's alpha.

Plain functions on counts and rating tables (no database), validated against
published worked examples in ``tests/test_listening_stats.py``.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ParameterError

Z95 = 1.959963984540054

def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n`` (NaN, NaN when n = 0)."""
    if n == 0:
        return float("nan"), float("nan")
    if not 0 <= k <= n:
        raise ParameterError(f"need 0 <= k <= n, got k={k}, n={n}")
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def fleiss_kappa(counts) -> float:
    """Fleiss' kappa from an ``(items, categories)`` table of rating counts.

    Every item must have the same number ``n >= 2`` of ratings (fixed raters).

    Raises
    ------
    ParameterError
        Unequal or fewer than two ratings per item, or no items.
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] == 0:
        raise ParameterError("Fleiss' kappa needs a non-empty (items, categories) count table")
    per_item = table.sum(axis=1)
    n = per_item[0]
    if n < 2 or not np.allclose(per_item, n):
        raise ParameterError("Fleiss' kappa needs the same number (>= 2) of ratings for every item; "
                             "use Krippendorff's alpha for missing ratings")
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table * table).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), float((p_j * p_j).sum())
    if math.isclose(p_e, 1.0):
        return float("nan")  # every rating in one category: kappa is undefined
    return float((p_bar - p_e) / (1 - p_e))


def krippendorff_alpha_nominal(data) -> float:
    """Krippendorff's alpha for nominal data with missing ratings.

    Parameters
    ----------
    data : array-like, shape (coders, units)
        Category codes; NaN (or None) where a coder did not rate a unit.
        Units with fewer than two ratings are not pairable and are ignored.

    Returns
    -------
    float
        ``1 - D_o / D_e`` from the coincidence matrix; NaN if undefined.
    """
    values = np.array(data, dtype=float)
    if values.ndim != 2:
        raise ParameterError("Krippendorff's alpha needs a (coders, units) table")
    cats = np.unique(values[~np.isnan(values)])
    index = {c: i for i, c in enumerate(cats)}
    coincidence = np.zeros((len(cats), len(cats)))
    for unit in values.T:
        present = unit[~np.isnan(unit)]
        m = len(present)
        if m < 2:
            continue
        counts = np.zeros(len(cats))
        for v in present:
            counts[index[v]] += 1
        coincidence += (np.outer(counts, counts) - np.diag(counts)) / (m - 1)
    n_c = coincidence.sum(axis=1)
    n = n_c.sum()
    if n <= 1:
        return float("nan")
    observed = coincidence.sum() - np.trace(coincidence)
    expected = (n_c.sum() ** 2 - (n_c * n_c).sum()) / (n - 1)
    if expected == 0:
        return float("nan")
    return float(1 - observed / expected)
