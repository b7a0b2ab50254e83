"""Word embeddings in a workspace: ``words/<name>.kv`` (+ ``.npy`` arrays) and ``words/<name>.json``.

A file in any supported format is converted once by :func:`import_word_vectors`;
afterwards :func:`load_word_vectors` memory-maps it (vectors and precomputed
norms), so opening a 3M-word embedding costs seconds and little resident memory.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path

from gensim.models import KeyedVectors

from ..errors import DataError, ParameterError
from ..workspace import Workspace
from .formats import FORMATS, detect_format, read_native, read_vectors, save_native
from .vectors import WordVectors

DOMAINS = ("general", "musical")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ParameterError(
            f"invalid word-embedding name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return name


def kv_path(ws: Workspace, name: str) -> Path:
    return ws.words_dir / f"{_check_name(name)}.kv"


def meta_path(ws: Workspace, name: str) -> Path:
    return ws.words_dir / f"{_check_name(name)}.json"


def read_meta(ws: Workspace, name: str) -> dict | None:
    """Metadata of a stored embedding, or None if there is none."""
    path = meta_path(ws, name)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: invalid JSON ({err})") from err


def save_word_vectors(ws: Workspace, kv: KeyedVectors, name: str, label: str, domain: str,
                      source: str, format: str, **extra) -> dict:
    """Store ``kv`` as ``words/<name>.kv`` (norms precomputed) and write its metadata.

    The metadata is written last, so an interrupted save leaves no listed embedding.
    """
    if domain not in DOMAINS:
        raise ParameterError(f"unknown domain {domain!r}; use one of {DOMAINS}")
    mpath = meta_path(ws, name)
    if mpath.exists():
        mpath.unlink()
    for old in ws.words_dir.glob(f"{name}.kv*"):  # stale arrays of an earlier version
        old.unlink()
    save_native(kv, kv_path(ws, name))
    meta = {
        "name": name, "label": label, "domain": domain, "source": source, "format": format,
        "dim": int(kv.vector_size), "vocab_size": int(len(kv.index_to_key)),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra,
    }
    tmp = mpath.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=2, sort_keys=True))
    tmp.replace(mpath)
    return meta


def import_word_vectors(ws: Workspace, path: str | os.PathLike, name: str, format: str = "auto",
                        label: str | None = None, domain: str = "general", limit: int | None = None) -> dict:
    """Convert a word-vector file into the workspace, once.

    Parameters
    ----------
    ws : Workspace
    path : path
        File in one of :data:`core.words.formats.FORMATS`.
    name : str
        Stored name (``words/<name>.kv``); letters, digits, ``._-``.
    format : str
        File format, default detected from the name and first bytes.
    label : str, optional
        Shown in the app; default ``name``.
    domain : {"general", "musical"}
    limit : int, optional
        Keep only the first ``limit`` words (word2vec files are frequency-ordered).

    Returns
    -------
    dict
        The metadata written to ``words/<name>.json``.
    """
    _check_name(name)
    if format not in FORMATS:
        raise ParameterError(f"unknown word-vector format {format!r}; use one of {FORMATS}")
    if domain not in DOMAINS:
        raise ParameterError(f"unknown domain {domain!r}; use one of {DOMAINS}")
    path = Path(path).expanduser()
    fmt = detect_format(path) if format == "auto" else format
    kv = read_vectors(path, format=fmt, limit=limit)
    return save_word_vectors(ws, kv, name, label=label or name, domain=domain,
                             source=str(path.resolve()), format=fmt, limit=limit)


def load_word_vectors(ws: Workspace, name: str, mmap: str | None = "r") -> WordVectors:
    """Open a stored embedding, memory-mapped (``mmap='r'``) by default.

    Raises
    ------
    DataError
        If ``name`` is not stored in the workspace or its files are damaged.
    """
    meta = read_meta(ws, name)
    if meta is None:
        known = ", ".join(ws.word_embedding_names()) or "none"
        raise DataError(f"no word embedding {name!r} in {ws.words_dir} (available: {known})")
    kv = read_native(kv_path(ws, name), mmap=mmap)
    return WordVectors(kv, meta)
