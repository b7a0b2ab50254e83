"""The ``models`` step of ``build-demo``: train every preset in :data:`DEMO_MODELS`."""

from __future__ import annotations

from ..progress import Progress
from .presets import resolve
from .runner import is_trained, train_model

#: Presets trained by the demo build, in order (other families append theirs).
#: ``won-balanced-distance-weighted`` is left out for the 2-core budget; train it with
#: ``python -m core train --model won-balanced-distance-weighted``.
DEMO_MODELS = [
    "won-random",
    "won-balanced",
    "won-balanced-weighted",
    "won-balanced-weighted-musical",
    "lee-disentangled",
    "lee-disentangled-trackreg",
    "lee-category",
    "mfcc-vq",
    "muslse-warp",
    "muslse-auc",
    "mwe-tag+artist+track",
]


def train_demo_models(ws, demo, progress: Progress) -> dict:
    """Train the demo presets at ``demo.size`` with ``demo.seed``; finished models are kept (idempotent)."""
    results = {}
    for name in DEMO_MODELS:
        if is_trained(ws, name):
            continue
        family, overrides = resolve(name, demo.size)
        results[name] = train_model(ws, name, family, {**overrides, "seed": demo.seed}, progress, resume=True)
    return results
