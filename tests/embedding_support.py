"""An imported-embeddings workspace for the tests: the tiny demo's catalog and features, no trained models.

Vectors are built from the catalog's tags so metrics have something to find:
each similarity dimension (genre, mood, instrument, tempo) gets its own block of
:data:`BLOCK` dimensions, and a track's block is the sum of random tag vectors of
its tags in that category plus a little noise; a tag's vector is a unit vector
of its category's block, orthogonal to the other tags of that category (at most
:data:`BLOCK` tags per category).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from core.catalog import SIMILARITY_DIMENSIONS
from core.workspace import MANIFEST, Workspace

BLOCK = 16
DIM = BLOCK * len(SIMILARITY_DIMENSIONS)
SUBSPACES = ",".join(f"{d}:{i * BLOCK}-{(i + 1) * BLOCK - 1}" for i, d in enumerate(SIMILARITY_DIMENSIONS))


def _link_tree(src: Path, dst: Path) -> None:
    if src.is_dir():
        shutil.copytree(src, dst, copy_function=os.link)


def copy_without_models(source: Workspace, root: Path) -> Workspace:
    """A new workspace at ``root`` sharing ``source``'s catalog, audio, features and numba cache (hard links)."""
    root.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((source.root / MANIFEST).read_text())
    manifest["audio_root"] = str(source.audio_root)
    (root / MANIFEST).write_text(json.dumps(manifest))
    for part in ("catalog", "features", "cache/numba"):
        _link_tree(source.root / part, root / part)
    return Workspace.open(root)


def tag_vectors(ws: Workspace, seed: int = 0) -> tuple[list[str], np.ndarray]:
    """Catalog tags of the four similarity dimensions and their vectors ``(n_tags, DIM)``."""
    rng = np.random.default_rng(seed)
    categories = ws.catalog.tag_categories()
    tags = sorted(t for t, c in categories.items() if c in SIMILARITY_DIMENSIONS)
    out = np.zeros((len(tags), DIM), np.float32)
    for block, category in enumerate(SIMILARITY_DIMENSIONS):
        rows = [j for j, t in enumerate(tags) if categories[t] == category]
        basis, _ = np.linalg.qr(rng.normal(size=(BLOCK, BLOCK)))  # orthonormal: tags of a category do not overlap
        out[np.ix_(rows, range(block * BLOCK, (block + 1) * BLOCK))] = basis[:, :len(rows)].T
    return tags, out


def track_vectors(ws: Workspace, seed: int = 0, noise: float = 0.05) -> tuple[list[str], np.ndarray]:
    """Every catalog track and its vector ``(n_tracks, DIM)`` (sum of its tags' vectors + noise)."""
    tags, vectors = tag_vectors(ws, seed)
    ids = ws.catalog.track_ids
    matrix = ws.catalog.tag_matrix(ids, tags).astype(np.float32) @ vectors
    matrix += noise * np.random.default_rng(seed + 1).normal(size=matrix.shape).astype(np.float32)
    return ids, matrix
