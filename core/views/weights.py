"""Subspace weights as URL text (``genre:1,tempo:0.5``) and back."""

from __future__ import annotations


def weights_to_text(weights: dict[str, float]) -> str:
    return ",".join(f"{k}:{v:g}" for k, v in weights.items())


def weights_from_text(text: str | None, names: list[str], default: float = 1.0) -> dict[str, float]:
    """Parse ``name:value`` pairs (values clipped to 0-1; bad items ignored).

    Without text every name gets ``default``; with text, names it leaves out weigh 0,
    as in :func:`core.engine.queries.weighted_subspace_search`.
    """
    out = {n: (0.0 if text else default) for n in names}
    for item in (text or "").split(","):
        name, _, value = item.partition(":")
        if name in out:
            try:
                out[name] = min(max(float(value), 0.0), 1.0)
            except ValueError:
                continue
    return out

