"""Subspace weights as URL text (``genre:1,tempo:0.5``) and back."""

from __future__ import annotations

import math


def weights_to_text(weights: dict[str, float]) -> str:
    return ",".join(f"{k}:{v:g}" for k, v in weights.items())


def weights_from_text(text: str | None, names: list[str], default: float = 1.0) -> dict[str, float]:
    """Parse ``name:value`` pairs from a URL into one weight per name, each in 0-1.

    An item is ignored when its name is not in ``names`` or its value is not a
    number, not finite (``nan``, ``inf``) or outside 0-1: a URL can hold anything.
    Without a usable item every name gets ``default``; otherwise names the text
    leaves out weigh 0, as in :func:`core.engine.queries.weighted_subspace_search`.
    """
    given = {}
    for item in (text or "").split(","):
        name, _, value = item.partition(":")
        if name not in names:
            continue
        try:
            weight = float(value)
        except ValueError:
            continue
        if math.isfinite(weight) and 0.0 <= weight <= 1.0:
            given[name] = weight
    if not given:
        return {n: default for n in names}
    return {n: given.get(n, 0.0) for n in names}
