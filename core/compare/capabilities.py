"""Which queries two models can both answer, asked of each model's capabilities."""

from __future__ import annotations

#: Query kinds of the Compare page, in the order they are offered.
QUERY_KINDS = ("track", "audio", "text")


def engine_capabilities(engine) -> frozenset[str]:
    """What a loaded engine's model can do (``core.models.base.CAPABILITIES`` names).

    Asked of the model (``model.capabilities``); an engine without a model can
    still rank catalog tracks and its cached terms, so it has ``text`` when its
    embeddings hold terms, never ``audio``.
    """
    model = engine.model
    caps = set(getattr(model, "capabilities", ()) or ()) if model is not None else set()
    if engine.has_text:
        caps.add("text")
    return frozenset(caps)


def shared_query_kinds(engine_a, engine_b) -> tuple[str, ...]:
    """Query kinds both models answer: ``track`` always, ``audio`` and ``text`` when both can."""
    both = engine_capabilities(engine_a) & engine_capabilities(engine_b)
    return tuple(kind for kind in QUERY_KINDS if kind == "track" or kind in both)
