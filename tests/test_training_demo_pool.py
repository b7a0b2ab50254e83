"""The demo build's ``models`` step on a pool of worker processes: every family trains there.

The pool path (``workers`` > 1) hands each worker a thread count; a family whose config has no
``threads`` option (MFCC-VQ) once failed the whole step on it, at ``default`` size only, where
the pool is the default.
"""

from __future__ import annotations

import json
import os
import shutil

from core.cores import available_cores
from core.training.demo import train_presets
from core.training.runner import is_trained
from core.workspace import Workspace

ONE_PER_FAMILY = ["won-random", "lee-disentangled", "mfcc-vq", "muslse-warp", "mwe-tag+artist+track"]


def _without_models(source: Workspace, root) -> Workspace:
    """A workspace sharing ``source``'s catalog, features and word embeddings (hard links), no models."""
    root.mkdir(parents=True)
    manifest = json.loads((source.root / "workspace.json").read_text())
    manifest["audio_root"] = str(source.audio_root)
    (root / "workspace.json").write_text(json.dumps(manifest))
    for part in ("catalog", "features", "words", "cache/numba"):
        if (source.root / part).is_dir():
            shutil.copytree(source.root / part, root / part, copy_function=os.link)
    return Workspace.open(root)


def test_every_family_trains_on_the_pool(tiny_workspace, tmp_path):
    ws = _without_models(tiny_workspace, tmp_path / "ws")
    results = train_presets(ws, ONE_PER_FAMILY, "tiny", seed=0, workers=2, log=lambda *a: None)
    assert sorted(results) == sorted(ONE_PER_FAMILY)
    assert not [name for name, r in results.items() if "error" in r]
    assert all(is_trained(ws, name) for name in ONE_PER_FAMILY)
    recorded = {name: json.loads((ws.models_dir / name / "config.json").read_text())["train"].get("threads")
                for name in ONE_PER_FAMILY}
    share = max(1, available_cores() // 2)  # each worker's share of the cores
    assert recorded["won-random"] == share and recorded["lee-disentangled"] == share
