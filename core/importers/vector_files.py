"""Read precomputed vectors with their ids: ``.npy`` (+ ids file), ``.npz``, Parquet (MWE's tables included).

Every reader returns a :class:`VectorTable` of string ids and a numeric
``(n, d)`` or per-segment ``(n, segments, d)`` array, checked row by row; any
problem is a :class:`~core.errors.DataError` naming the file (and the row,
1-based, or line of an ids file). Arrays are read with
``np.load(..., allow_pickle=False)``: an object array (a pickle) is refused,
never unpickled.

Formats
    ``.npy``
        The array; ids come from a separate file (``--ids``): text, one id per
        line, or a JSON list.
    ``.npz``
        ``embeddings`` (the array) and ``ids`` (strings or integers); an ids
        file may stand in for a missing ``ids`` entry.
    ``.parquet``
        An id column (``id``, ``track_id``, ``term``, ``tag``, ``artist_id``
        or ``token``) and a vector column (``vector``, ``embedding`` or
        ``embeddings``; or the only list column) holding lists or fixed-size
        lists of numbers. MWE's released tables (``token``, ``content``,
        ``vector``) hold tracks, tags and artists in one table: the rows whose
        ``content`` equals the kind asked for (``track``, ``tag``, ``artist``)
        are read.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DataError, ParameterError
from ..fileio import is_list_type, parquet_matrix, read_parquet

#: Id columns tried in order in a Parquet table.
ID_COLUMNS = ("id", "track_id", "term", "tag", "artist_id", "token")
#: Vector columns tried in order in a Parquet table.
VECTOR_COLUMNS = ("vector", "embedding", "embeddings")
#: Entries of an ``.npz`` file.
NPZ_VECTORS, NPZ_IDS = "embeddings", "ids"
SUFFIXES = (".npy", ".npz", ".parquet")


@dataclass
class VectorTable:
    """Ids and their vectors as read from one file.

    Attributes
    ----------
    path : Path
        The file (named in errors).
    ids : list of str
    vectors : np.ndarray
        ``(n, d)`` or ``(n, segments, d)``, float32.
    format : str
        ``npy``, ``npz``, ``parquet`` or ``mwe-parquet``.
    """

    path: Path
    ids: list[str]
    vectors: np.ndarray
    format: str


def read_vector_table(path: str | Path, ids_path: str | Path | None = None, kind: str = "track") -> VectorTable:
    """Read one vectors file (and its ids) and check it.

    Parameters
    ----------
    path : path
        ``.npy``, ``.npz`` or ``.parquet``.
    ids_path : path, optional
        Ids for a ``.npy`` (required) or an ``.npz`` without ``ids``: text lines or a JSON list.
    kind : str
        ``track``, ``tag`` or ``artist``: the rows of an MWE-style table to read.

    Raises
    ------
    DataError
        Unreadable file, object array, non-numeric values, NaN/Inf, wrong shape,
        ids that do not match the rows in number, empty or duplicate ids.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        if ids_path is None:
            raise ParameterError(f"{path}: a .npy file holds no ids; give them with --ids (text lines or JSON) "
                                 f"for vectors, --term-ids for terms")
        vectors, ids, fmt = _load_npy(path), read_ids(ids_path), "npy"
        ids_where = Path(ids_path)
    elif suffix == ".npz":
        vectors, ids = _load_npz(path, ids_path)
        fmt, ids_where = "npz", Path(ids_path) if ids_path is not None else path
    elif suffix == ".parquet":
        if ids_path is not None:
            raise ParameterError(f"{path}: a Parquet table holds its ids in a column; do not give an ids file")
        ids, vectors, fmt = _load_parquet(path, kind)
        ids_where = path
    else:
        raise ParameterError(f"{path}: unsupported vectors file; use one of {SUFFIXES}")
    _check_array(vectors, path)
    if len(ids) != len(vectors):
        raise DataError(f"{ids_where}: {len(ids)} ids for the {len(vectors)} rows of {path}")
    _check_ids(ids, ids_where)
    return VectorTable(path, ids, np.asarray(vectors, dtype=np.float32), fmt)


# ----------------------------------------------------------------- ids
def read_ids(path: str | Path) -> list[str]:
    """Ids from a JSON list or from text lines (one per line; trailing blank lines ignored)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise DataError(f"{path}: no such ids file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DataError(f"{path}: not UTF-8 text ({err})") from err
    if path.suffix.lower() == ".json":
        try:
            ids = json.loads(text)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: invalid JSON ({err})") from err
        if not isinstance(ids, list):
            raise DataError(f"{path}: expected a JSON list of ids, got {type(ids).__name__}")
        for i, value in enumerate(ids):
            if not isinstance(value, (str, int)) or isinstance(value, bool):
                raise DataError(f"{path}: item {i + 1} is {value!r}, not a string or integer id")
        return [str(v) for v in ids]
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.strip() for line in lines]


def _check_ids(ids: list[str], where: Path) -> None:
    seen: dict[str, int] = {}
    for row, value in enumerate(ids, start=1):
        if not value:
            raise DataError(f"{where}: row {row} has an empty id")
        if value in seen:
            raise DataError(f"{where}: duplicate id {value!r} at rows {seen[value]} and {row}")
        seen[value] = row


# -------------------------------------------------------------- arrays
def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(f"{path}: holds Python objects (an object array, stored as a pickle); Tagspace never "
                            "unpickles a file: save a numeric array (float32)") from err
        raise DataError(f"{path}: not a readable .npy array ({err})") from err
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npy array ({err})") from err


def _load_npz(path: Path, ids_path) -> tuple[np.ndarray, list[str]]:
    try:
        with np.load(path, allow_pickle=False) as data:
            if NPZ_VECTORS not in data.files:
                raise DataError(f"{path}: no {NPZ_VECTORS!r} array (it has {data.files})")
            vectors = data[NPZ_VECTORS]
            raw_ids = data[NPZ_IDS] if NPZ_IDS in data.files else None
    except ValueError as err:
        if "allow_pickle" in str(err):
            raise DataError(f"{path}: holds Python objects (an object array, stored as a pickle); Tagspace never "
                            f"unpickles a file: save {NPZ_VECTORS!r} as float32 and {NPZ_IDS!r} as strings") from err
        raise DataError(f"{path}: not a readable .npz file ({err})") from err
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: not a readable .npz file ({err})") from err
    if raw_ids is not None and ids_path is not None:
        raise ParameterError(f"{path}: has its own {NPZ_IDS!r}; do not give an ids file too")
    if raw_ids is None:
        if ids_path is None:
            raise DataError(f"{path}: no {NPZ_IDS!r} array; add one or give the ids in a file (--ids)")
        return vectors, read_ids(ids_path)
    if raw_ids.ndim != 1 or raw_ids.dtype.kind not in "USiu":
        raise DataError(f"{path}: {NPZ_IDS!r} must be a 1-D array of strings or integers, "
                        f"got shape {raw_ids.shape} dtype {raw_ids.dtype}")
    return vectors, [str(v).strip() for v in raw_ids.tolist()]


def _check_array(vectors: np.ndarray, path: Path) -> None:
    if vectors.dtype.kind not in "fiu":
        raise DataError(f"{path}: vectors must be numbers (float or integer), got dtype {vectors.dtype}")
    if vectors.ndim not in (2, 3):
        raise DataError(f"{path}: expected shape (n, d) or per-segment (n, segments, d), got {vectors.shape}")
    if vectors.shape[0] == 0 or vectors.shape[-1] == 0 or (vectors.ndim == 3 and vectors.shape[1] == 0):
        raise DataError(f"{path}: no vectors (shape {vectors.shape})")
    finite = np.isfinite(vectors.reshape(len(vectors), -1)).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise DataError(f"{path}: row {int(bad[0]) + 1} has NaN or infinite values "
                        f"({len(bad)} row(s) in all)")


# ------------------------------------------------------------- Parquet
def _load_parquet(path: Path, kind: str) -> tuple[list[str], np.ndarray, str]:
    import pyarrow.compute as pc

    table = read_parquet(path)
    names = table.column_names
    fmt = "parquet"
    if "token" in names and "content" in names:  # MWE's released table: token, content (kind), vector
        contents = table.column("content")
        mask = pc.equal(contents, kind)
        if not pc.any(mask).as_py():
            found = sorted({str(v) for v in pc.unique(contents).to_pylist()})
            raise DataError(f"{path}: no rows with content {kind!r} (its contents: {found[:10]})")
        table = table.filter(mask)
        id_column, fmt = "token", "mwe-parquet"
    else:
        id_column = next((c for c in ID_COLUMNS if c in names), None)
    list_columns = [c for c in names if is_list_type(table.schema.field(c).type)]
    vector_column = next((c for c in VECTOR_COLUMNS if c in names), None)
    if vector_column is None and len(list_columns) == 1:
        vector_column = list_columns[0]
    if id_column is None or vector_column is None:
        raise DataError(f"{path}: needs an id column (one of {ID_COLUMNS}) and a vector column (one of "
                        f"{VECTOR_COLUMNS}, or a single list column); found {names}")
    ids_col = table.column(id_column)
    if ids_col.null_count:
        row = int(np.flatnonzero(ids_col.is_null().to_numpy(zero_copy_only=False))[0]) + 1
        raise DataError(f"{path}: row {row} has no id (null in column {id_column!r})")
    ids = [str(v).strip() for v in ids_col.to_pylist()]
    return ids, parquet_matrix(table, vector_column, ids, path), fmt
