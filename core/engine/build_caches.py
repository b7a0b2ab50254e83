"""``build-demo`` step ``embed``: embeddings, indexes and maps for every model and word embedding.

Runs after ``evaluate``. Idempotent: each cache is reused while its inputs are
unchanged. The UMAP fits here compile numba's kernels (cached under
``ws.cache_dir/numba``); the app itself never fits, transforms or compiles.
"""

from __future__ import annotations

from ..progress import Progress
from ..workspace import Workspace
from .embed import extract_embeddings
from .index import build_index
from .projection import compute_projection


def build_engine_caches(ws: Workspace, demo, progress: Progress) -> None:
    """Extract embeddings, build indexes and fit maps for everything in ``ws``.

    Parameters
    ----------
    ws : Workspace
    demo : core.demo.build.DemoConfig
        Unused: the caches depend on the workspace's contents, not on the demo size.
    progress : callable
        See :mod:`core.progress`.
    """
    for name in ws.model_names():
        emb = extract_embeddings(ws, name, progress=progress)
        build_index(ws, emb)
        compute_projection(ws, "model", name)
    for name in ws.word_embedding_names():
        compute_projection(ws, "words", name)
