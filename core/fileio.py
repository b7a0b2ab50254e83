"""File plumbing shared by every room: atomic writes, content hashes, JSON readers.

Every file Tagspace writes goes through :func:`write_atomic` (a temporary file in
the same directory, then a rename), so a crash never leaves a half-written file.
Caches decide "has this changed?" with :func:`file_hash`. Versioned JSON files
(``format_version``) are read with :func:`read_versioned_json`, which names the
file in every error. CSV files meant for spreadsheets are written with
:func:`write_csv`, which neutralises cells that a spreadsheet would run as formulas.
Vectors stored as a Parquet list column (model embeddings, word vectors) are read with
:func:`read_parquet` and :func:`parquet_matrix`, which name the file and the row in every error.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

from .errors import DataError

_BLOCK = 1 << 20


def write_atomic(path: str | os.PathLike, payload: bytes | str | Callable[[Path], None]) -> Path:
    """Write ``path`` through a temporary file in its directory, then rename it into place.

    Parameters
    ----------
    path : path
        Destination; its directory is created if absent.
    payload : bytes, str or callable
        The content, or ``write(tmp_path)`` for writers that need a path (``torch.save``,
        ``np.save``, ``DataFrame.to_parquet``).

    Returns
    -------
    Path
        ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # the temporary keeps the destination's suffix: np.save would append ".npy" to any other name
    fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{path.suffix}")
    tmp = Path(tmp_name)
    try:
        if callable(payload):
            os.close(fd)
            payload(tmp)
        else:
            with os.fdopen(fd, "wb") as f:
                f.write(payload.encode() if isinstance(payload, str) else payload)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a written file gets the usual mode
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, data, indent: int | None = 2, sort_keys: bool = False) -> Path:
    """Write ``data`` as JSON atomically (non-JSON values such as paths become strings)."""
    return write_atomic(path, json.dumps(data, indent=indent, sort_keys=sort_keys, default=str))


def read_json(path: str | os.PathLike, error: type[Exception] = DataError):
    """Parse a JSON file; a missing or invalid file raises ``error`` naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise error(f"file missing: {path}") from err
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise error(f"{path}: not a readable JSON file ({err})") from err
    except RecursionError as err:  # e.g. 100,000 nested brackets
        raise error(f"{path}: not a readable JSON file (nested too deeply)") from err


def read_versioned_json(path: str | os.PathLike, version: int, error: type[Exception] = DataError) -> dict:
    """A JSON object whose ``format_version`` is ``version``; anything else raises ``error`` naming the file."""
    data = read_json(path, error)
    if not isinstance(data, dict):
        raise error(f"{path}: expected a JSON object")
    if data.get("format_version") != version:
        raise error(f"{path}: unsupported format_version {data.get('format_version')!r} (expected {version})")
    return data


#: First characters that make a spreadsheet read a cell as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A CSV cell that a spreadsheet shows as text: a string starting like a formula gets a leading ``'``.

    Numbers are left alone (a negative number is data, not a formula).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(frame, path: str | os.PathLike) -> Path:
    """Write a DataFrame as CSV atomically, every text cell made :func:`spreadsheet_safe`."""
    from pandas.api.types import is_object_dtype, is_string_dtype

    safe = frame.copy()
    for column in safe.columns:
        if is_object_dtype(safe[column]) or is_string_dtype(safe[column]):
            safe[column] = safe[column].map(spreadsheet_safe)
    return write_atomic(path, safe.to_csv(index=False))


def sha256_file(path: str | os.PathLike) -> str:
    """Full SHA-256 hex digest of one file's content."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            h.update(block)
    return h.hexdigest()


def file_hash(paths: Iterable[str | os.PathLike], length: int = 16) -> str:
    """SHA-256 over the names and contents of files (sorted), first ``length`` hex digits.

    The one "has this changed?" hash of Tagspace: model directories, word-embedding
    files and caches are keyed by it.
    """
    h = hashlib.sha256()
    for path in sorted(Path(p) for p in paths):
        h.update(path.name.encode())
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_BLOCK), b""):
                h.update(block)
    return h.hexdigest()[:length]


def directory_hash(directory: str | os.PathLike, length: int = 16) -> str:
    """:func:`file_hash` of the regular files directly inside ``directory``."""
    return file_hash([p for p in Path(directory).iterdir() if p.is_file()], length)


__all__ = ["directory_hash", "file_hash", "read_json", "read_versioned_json", "sha256_file", "spreadsheet_safe",
           "write_atomic", "write_csv", "write_json"]


# ------------------------------------------------------------------ Parquet vectors
def read_parquet(path: str | os.PathLike):
    """The Parquet file at ``path`` as a pyarrow Table; a damaged or foreign file is a :class:`DataError`."""
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except Exception as err:  # pyarrow raises several types for damaged files
        raise DataError(f"{path}: not a readable Parquet file ({err})") from err


def is_list_type(dtype) -> bool:
    """Whether a pyarrow type is a list (plain, large or fixed-size): a column that can hold vectors."""
    import pyarrow as pa

    return pa.types.is_list(dtype) or pa.types.is_large_list(dtype) or pa.types.is_fixed_size_list(dtype)


def parquet_matrix(table, column: str, ids: list[str], path: str | os.PathLike):
    """The list column ``column`` of ``table`` as a float32 array of shape ``(len(ids), dim)``.

    Every row must hold the same positive number of numbers, none of them null; an error names
    ``path``, the row (from 1) and its id (``ids``, row by row). Finiteness is the caller's check.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    values = table.column(column).combine_chunks()
    if not is_list_type(values.type) or not (pa.types.is_floating(values.type.value_type)
                                             or pa.types.is_integer(values.type.value_type)):
        raise DataError(f"{path}: column {column!r} holds {values.type}, not lists of numbers")
    if len(ids) == 0:
        raise DataError(f"{path}: no rows")
    if values.null_count:
        row = int(np.flatnonzero(values.is_null().to_numpy(zero_copy_only=False))[0])
        raise DataError(f"{path}: row {row + 1} ({ids[row]!r}) has no vector (null)")
    lengths = pc.list_value_length(values).to_numpy(zero_copy_only=False)
    dim = int(lengths[0])
    bad = np.flatnonzero(lengths != dim)
    if dim == 0 or len(bad):
        row = int(bad[0]) if len(bad) else 0
        raise DataError(f"{path}: row {row + 1} ({ids[row]!r}) has {int(lengths[row])} values where "
                        f"{dim or 'a positive number'} are expected")
    flat = values.flatten()
    if flat.null_count:
        row = int(np.flatnonzero(flat.is_null().to_numpy(zero_copy_only=False))[0]) // dim
        raise DataError(f"{path}: row {row + 1} ({ids[row]!r}) has a missing (null) value")
    return flat.to_numpy(zero_copy_only=False).astype(np.float32, copy=False).reshape(len(ids), dim)
