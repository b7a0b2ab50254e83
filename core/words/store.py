"""Word embeddings in a workspace, stored without pickle.

One embedding ``<name>`` is four files in ``words/``:

``<name>.json``
    Metadata (``format_version`` 2, ``name``, ``label``, ``domain``, ``source``,
    ``format`` (what it was made from), ``dim``, ``vocab_size``, ``created``, ...);
    written last, so an interrupted save leaves no listed embedding.
``<name>.vectors.npy``
    ``(vocab_size, dim)`` float32 matrix.
``<name>.norms.npy``
    ``(vocab_size,)`` float32 L2 norms, precomputed so the first neighbour query
    needs no normalised copy of the matrix.
``<name>.vocab.parquet``
    Column ``word`` in matrix row order, and ``count`` (training counts) for
    embeddings trained here.

Arrays are opened with ``np.load(..., allow_pickle=False)``, memory-mapped, so a
3M-word embedding opens in seconds with little resident memory; gensim
``KeyedVectors`` are built around them in memory for its similarity functions.

Workspaces made before this layout hold ``<name>.kv``, gensim's pickle format.
Loading one would run any code it contains, so nothing here reads it implicitly:
:func:`load_word_vectors` names the command that converts it,
``python -m core words migrate --workspace W --trust-pickle``
(:func:`migrate_word_vectors`), and the demo build regenerates its own embeddings.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

from ..errors import DataError, ParameterError
from ..fileio import read_json, write_atomic, write_json
from ..paths import confined_path
from ..workspace import Workspace
from .formats import FORMATS, detect_format, read_native, read_vectors
from .vectors import WordVectors

DOMAINS = ("general", "musical")
#: ``format_version`` of ``words/<name>.json`` for the npy + Parquet layout (1: gensim ``.kv``).
FORMAT_VERSION = 2
#: The command that converts ``.kv`` embeddings (printed in errors).
MIGRATE_COMMAND = "python -m core words migrate --workspace {root} --trust-pickle"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_NPY_MAGIC = b"\x93NUMPY"
# norms are computed this many rows at a time so saving never copies the matrix
_NORM_ROWS = 65536


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise ParameterError(
            f"invalid word-embedding name {name!r}: use letters, digits, '.', '_' or '-' (at most 100)"
        )
    return name


def meta_path(ws: Workspace, name: str) -> Path:
    return confined_path(ws.words_dir, f"{_check_name(name)}.json")


def store_paths(ws: Workspace, name: str) -> dict[str, Path]:
    """The data files of embedding ``name``: ``vectors``, ``norms`` (``.npy``) and ``vocab`` (``.parquet``)."""
    stem = _check_name(name)  # and a symbolic link leading out of words/ is refused
    return {"vectors": confined_path(ws.words_dir, f"{stem}.vectors.npy"),
            "norms": confined_path(ws.words_dir, f"{stem}.norms.npy"),
            "vocab": confined_path(ws.words_dir, f"{stem}.vocab.parquet")}


def legacy_paths(ws: Workspace, name: str) -> list[Path]:
    """``words/<name>.kv`` and the arrays gensim saved beside it (the pickle layout), if present."""
    stem = _check_name(name)
    return sorted(p for p in ws.words_dir.glob(f"{stem}.kv*") if p.name == f"{stem}.kv"
                  or p.name.startswith(f"{stem}.kv."))


def legacy_names(ws: Workspace) -> list[str]:
    """Embeddings of ``ws`` still stored as gensim ``.kv`` (they load only after ``words migrate``)."""
    return [n for n in ws.word_embedding_names() if (ws.words_dir / f"{n}.kv").exists()
            and (read_meta(ws, n) or {}).get("format_version") != FORMAT_VERSION]


def read_meta(ws: Workspace, name: str) -> dict | None:
    """Metadata of a stored embedding, or None if there is none."""
    path = meta_path(ws, name)
    if not path.exists():
        return None
    meta = read_json(path)
    if not isinstance(meta, dict):
        raise DataError(f"{path}: expected a JSON object")
    return meta


def is_stored(ws: Workspace, name: str) -> bool:
    """Whether ``name`` is stored in the current (pickle-free) layout with all its files."""
    meta = read_meta(ws, name)
    return (meta is not None and meta.get("format_version") == FORMAT_VERSION
            and all(p.is_file() for p in store_paths(ws, name).values()))


def _norms(vectors: np.ndarray) -> np.ndarray:
    """Row L2 norms, computed in blocks (no matrix-sized temporary)."""
    norms = np.empty(len(vectors), dtype=np.float32)
    for start in range(0, len(norms), _NORM_ROWS):
        block = np.asarray(vectors[start:start + _NORM_ROWS], dtype=np.float32)
        norms[start:start + _NORM_ROWS] = np.sqrt(np.einsum("ij,ij->i", block, block))
    return norms


def _write(ws: Workspace, kv: KeyedVectors, meta: dict) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    name = meta["name"]
    words = list(kv.index_to_key)
    vectors = np.ascontiguousarray(kv.vectors, dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(words):
        raise DataError(f"word embedding {name!r}: {len(words)} words but vectors of shape {vectors.shape}")
    columns = {"word": pa.array(words, type=pa.string())}
    if "count" in kv.expandos:
        columns["count"] = pa.array(np.asarray(kv.expandos["count"], dtype=np.int64))
    paths = store_paths(ws, name)
    meta_path(ws, name).unlink(missing_ok=True)  # unlisted until complete
    write_atomic(paths["vectors"], lambda tmp: np.save(tmp, vectors, allow_pickle=False))
    write_atomic(paths["norms"], lambda tmp: np.save(tmp, _norms(vectors), allow_pickle=False))
    write_atomic(paths["vocab"], lambda tmp: pq.write_table(pa.table(columns), tmp))
    for old in legacy_paths(ws, name):  # the pickle layout, deleted unread
        old.unlink()
    meta = {**meta, "format_version": FORMAT_VERSION, "dim": int(vectors.shape[1]), "vocab_size": len(words)}
    write_json(meta_path(ws, name), meta, sort_keys=True)
    return meta


def save_word_vectors(ws: Workspace, kv: KeyedVectors, name: str, label: str, domain: str,
                      source: str, format: str, **extra) -> dict:
    """Store ``kv`` as ``words/<name>.*`` (vectors, norms, vocabulary) and write its metadata.

    Any earlier version of ``name`` is replaced; its ``.kv`` files (old layout) are
    deleted without being read. Training counts (``kv.expandos["count"]``) are kept.

    Returns
    -------
    dict
        The metadata written to ``words/<name>.json``.
    """
    if domain not in DOMAINS:
        raise ParameterError(f"unknown domain {domain!r}; use one of {DOMAINS}")
    meta = {"name": _check_name(name), "label": label, "domain": domain, "source": source, "format": format,
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), **extra}
    return _write(ws, kv, meta)


def import_word_vectors(ws: Workspace, path: str | os.PathLike, name: str, format: str = "auto",
                        label: str | None = None, domain: str = "general", limit: int | None = None,
                        trust_pickle: bool = False) -> dict:
    """Convert a word-vector file into the workspace, once.

    Parameters
    ----------
    ws : Workspace
    path : path
        File in one of :data:`core.words.formats.FORMATS`.
    name : str
        Stored name (``words/<name>.*``); letters, digits, ``._-``.
    format : str
        File format, default detected from the name and first bytes.
    label : str, optional
        Shown in the app; default ``name``.
    domain : {"general", "musical"}
    limit : int, optional
        Keep only the first ``limit`` words (word2vec files are frequency-ordered).
    trust_pickle : bool
        Allow a gensim ``.kv`` file, which is a pickle: loading it runs any code it holds.

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
    kv = read_vectors(path, format=fmt, limit=limit, trust_pickle=trust_pickle)
    return save_word_vectors(ws, kv, name, label=label or name, domain=domain,
                             source=str(path.resolve()), format=fmt, limit=limit)


def migrate_word_vectors(ws: Workspace, trust_pickle: bool = False, names: list[str] | None = None) -> list[dict]:
    """Convert embeddings stored as gensim ``.kv`` (pickle) to the npy + Parquet layout, keeping their metadata.

    Parameters
    ----------
    ws : Workspace
    trust_pickle : bool
        Must be True: reading a ``.kv`` unpickles it, which runs any code it holds.
        Say so only for a workspace you built yourself or got from someone you trust.
    names : list of str, optional
        Embeddings to convert (default: every one still in ``.kv`` form).

    Returns
    -------
    list of dict
        The new metadata of each converted embedding.
    """
    todo = legacy_names(ws) if names is None else [_check_name(n) for n in names]
    for name in todo:
        if not (ws.words_dir / f"{name}.kv").is_file():
            raise DataError(f"no {name}.kv to convert in {ws.words_dir}")
    if todo and not trust_pickle:
        raise DataError(
            f"{', '.join(f'{n}.kv' for n in todo)} in {ws.words_dir}: gensim .kv files are Python pickles, and "
            "reading one runs any code it contains. Convert them only if you built this workspace yourself or "
            "trust whoever did: " + MIGRATE_COMMAND.format(root=ws.root)
            + ". Otherwise delete them and rebuild (python -m core words build) or re-import the embeddings."
        )
    out = []
    for name in todo:
        kv = read_native(ws.words_dir / f"{name}.kv", trust_pickle=True)
        meta = {**(read_meta(ws, name) or {}), "name": name,
                "migrated": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        meta.setdefault("domain", "general")
        if meta["domain"] not in DOMAINS:
            raise DataError(f"{meta_path(ws, name)}: unknown domain {meta['domain']!r}")
        out.append(_write(ws, kv, meta))
    return out


def _load_npy(path: Path, shape: tuple[int, ...], mmap: str | None) -> np.ndarray:
    """A float32 array of ``shape`` from a ``.npy`` file, never unpickled, memory-mapped if ``mmap``."""
    try:
        with open(path, "rb") as f:
            magic = f.read(len(_NPY_MAGIC))
    except FileNotFoundError as err:
        raise DataError(f"{path}: missing; rebuild or re-import this word embedding") from err
    if magic != _NPY_MAGIC:
        raise DataError(f"{path}: not a .npy array file")
    try:
        array = np.load(path, mmap_mode=mmap, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:  # object arrays, damaged headers, short files
        raise DataError(f"{path}: not a readable float32 array ({err})") from err
    if array.dtype != np.float32 or array.shape != shape:
        raise DataError(f"{path}: holds {array.dtype} {array.shape}, expected float32 {shape}")
    return array


def _read_vocabulary(path: Path, meta: dict) -> tuple[list[str], np.ndarray | None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        with pq.ParquetFile(path) as reader:  # not read_table: that imports pyarrow.dataset (slow, memory)
            table = reader.read()
    except FileNotFoundError as err:
        raise DataError(f"{path}: missing; rebuild or re-import this word embedding") from err
    except Exception as err:  # pyarrow raises several types for damaged files
        raise DataError(f"{path}: not a readable Parquet vocabulary ({err})") from err
    word_type = table.schema.field("word").type if "word" in table.column_names else None
    if word_type is None or not (pa.types.is_string(word_type) or pa.types.is_large_string(word_type)) \
            or table.column("word").null_count:
        raise DataError(f"{path}: needs a text column 'word' without missing values")
    if table.num_rows != meta.get("vocab_size"):
        raise DataError(f"{path}: {table.num_rows} words, but the metadata says {meta.get('vocab_size')}")
    words = table.column("word").to_pylist()
    counts = None
    if "count" in table.column_names:
        if not pa.types.is_integer(table.schema.field("count").type) or table.column("count").null_count:
            raise DataError(f"{path}: column 'count' must hold integers")
        counts = table.column("count").to_numpy()
    return words, counts


def load_word_vectors(ws: Workspace, name: str, mmap: str | None = "r") -> WordVectors:
    """Open a stored embedding, memory-mapped (``mmap='r'``) by default; nothing is unpickled.

    Raises
    ------
    DataError
        If ``name`` is not stored in the workspace, is still a gensim ``.kv`` (the
        message names the command that converts it), or its files are damaged.
    """
    meta = read_meta(ws, name)
    if meta is None:
        known = ", ".join(ws.word_embedding_names()) or "none"
        raise DataError(f"no word embedding {name!r} in {ws.words_dir} (available: {known})")
    if meta.get("format_version") != FORMAT_VERSION:
        if (ws.words_dir / f"{name}.kv").exists():
            raise DataError(
                f"word embedding {name!r} is stored as {ws.words_dir / (name + '.kv')}, gensim's pickle format, "
                "which Tagspace no longer opens because loading a pickle runs any code it contains. If you "
                f"trust this workspace, convert it once: {MIGRATE_COMMAND.format(root=ws.root)} "
                "(the demo's embeddings can instead be rebuilt with python -m core words build)"
            )
        raise DataError(f"{meta_path(ws, name)}: format_version {meta.get('format_version')!r} is not "
                        f"{FORMAT_VERSION}; rebuild or re-import this word embedding")
    try:
        n, dim = int(meta["vocab_size"]), int(meta["dim"])
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{meta_path(ws, name)}: needs integer 'vocab_size' and 'dim'") from err
    paths = store_paths(ws, name)
    words, counts = _read_vocabulary(paths["vocab"], meta)
    kv = KeyedVectors(dim, count=0, dtype=np.float32)
    kv.vectors = _load_npy(paths["vectors"], (n, dim), mmap)
    kv.norms = _load_npy(paths["norms"], (n,), mmap)
    kv.index_to_key = words
    kv.key_to_index = dict(zip(words, range(n)))  # faster than a comprehension for millions of words
    if len(kv.key_to_index) != n:
        raise DataError(f"{paths['vocab']}: the vocabulary repeats words")
    if counts is not None:
        kv.expandos["count"] = counts
    return WordVectors(kv, meta)


__all__ = ["DOMAINS", "FORMAT_VERSION", "import_word_vectors", "is_stored", "legacy_names", "legacy_paths",
           "load_word_vectors", "meta_path", "migrate_word_vectors", "read_meta", "save_word_vectors",
           "store_paths"]
