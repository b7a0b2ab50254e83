"""The ``models`` step of ``build-demo``: train every preset in :data:`DEMO_MODELS`."""

from __future__ import annotations

from ..progress import Progress
from .presets import resolve
from .runner import is_trained, train_model

#: Presets trained by the demo build, in order. The papers' networks come under the
#: papers' names; ``*-rhythm`` are the same presets with the rhythm branch added (not in
#: the papers) and ``lee-specialised`` is Lee et al.'s one-network-per-dimension baseline.
#: Every preset trains at its family's budget (``presets.SIZE_OVERRIDES``), so a rhythm
#: preset costs about what its paper preset costs, and ``lee-specialised`` (four networks)
#: about four ``lee-disentangled``. ``won-balanced-distance-weighted`` is left out for the
#: 2-core budget; train it with ``python -m core train --model won-balanced-distance-weighted``.
DEMO_MODELS = [
    "won-random",
    "won-balanced",
    "won-balanced-weighted",
    "won-balanced-weighted-rhythm",
    "won-balanced-weighted-musical",
    "lee-disentangled",
    "lee-disentangled-rhythm",
    "lee-disentangled-trackreg",
    "lee-category",
    "lee-specialised",
    "mfcc-vq",
    "muslse-warp",
    "muslse-auc",
    "mwe-tag+artist+track",
    "mwe-tag+artist+track-rhythm",
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
