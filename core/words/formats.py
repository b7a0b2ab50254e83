"""Readers for word-vector files in the formats other tools write.

Formats (``format=``):

``word2vec-binary``
    The GoogleNews-vectors-negative300.bin layout: an ASCII header ``"<count> <dim>\\n"``,
    then per word ``<word><space><dim float32 little-endian>`` (optionally followed
    by ``\\n``, as the original C tool writes).
``word2vec-text``
    The same header, then one ``<word> <v1> ... <vdim>`` line per word.
``glove-text``
    Lines like word2vec text, without the header (Stanford GloVe files).
``native``
    gensim ``KeyedVectors.save`` output (``.kv``). gensim writes it with pickle, so
    reading one runs whatever code the file holds: :func:`read_native` refuses unless
    called with ``trust_pickle=True`` (``words import --trust-pickle``).
``mwe``
    Token/vector rows as released with the Musical Word Embedding (Doh et al. 2023):
    a Parquet table with a ``token`` (or ``content``) column and a ``vector`` column
    of equal-length float lists.

Files ending in ``.gz`` are read through gzip (text formats and word2vec binary).
Every reader checks the file against its own header (count, dimension, row lengths)
and raises :class:`~core.errors.DataError` naming the file and the problem. A header
promising more than the file can hold is refused before anything is allocated, and
the vector matrix grows with the rows actually read, so a lying header never costs
memory. The workspace's own store is :mod:`core.words.store`.
"""

from __future__ import annotations

import gzip
import io
import os
import re
from pathlib import Path

import numpy as np
from gensim.models import KeyedVectors

from ..errors import DataError, ParameterError
from ..fileio import parquet_matrix, read_parquet

FORMATS = ("auto", "word2vec-binary", "word2vec-text", "glove-text", "native", "mwe")

_HEADER = re.compile(rb"^\s*(\d+)\s+(\d+)\s*$")
# bytes that make up a textual float vector: digits, signs, point, exponent, blanks
_TEXT_FLOAT_BYTES = frozenset(b"0123456789+-.eE \t\r\n")
_CHUNK = 1 << 20
# rows checked for NaN at a time (no matrix-sized boolean temporary)
_CHECK_ROWS = 65536
# deflate cannot expand data by more than about 1032:1, which bounds a .gz file's content
_DEFLATE_MAX_RATIO = 1032


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def _plain_suffix(path: Path) -> str:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


def detect_format(path: str | os.PathLike) -> str:
    """Guess the format of a word-vector file from its name and first bytes.

    ``.kv`` is native, ``.parquet`` is ``mwe``. Otherwise a first line of two
    integers means word2vec; the bytes after it decide binary or text. A first
    line of a word followed by numbers is GloVe text.

    Raises
    ------
    DataError
        If the file is missing or matches no known format.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    suffix = _plain_suffix(path)
    if suffix == ".kv":
        return "native"
    if suffix == ".parquet":
        return "mwe"
    try:
        with _open(path) as f:
            head = f.read(4096)
    except (OSError, EOFError) as err:  # e.g. a .gz that is not gzip
        raise DataError(f"{path}: cannot read ({err})") from err
    if not head.strip():
        raise DataError(f"{path}: empty file (no word vectors)")
    first, _, rest = head.partition(b"\n")
    if _HEADER.match(first):
        return "word2vec-text" if _looks_like_text_rows(rest) else "word2vec-binary"
    parts = first.split()
    if len(parts) >= 2 and _is_float(parts[-1]) and _is_float(parts[1]):
        return "glove-text"
    raise DataError(
        f"{path}: not a recognised word-vector file (first line {first[:60]!r}); "
        f"pass format= one of {FORMATS[1:]}"
    )


def _is_float(token: bytes) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _looks_like_text_rows(sample: bytes) -> bool:
    """True if the bytes after a word2vec header read as ``word float float ...`` text."""
    line, newline, _ = sample.partition(b"\n")
    parts = line.split()
    if not newline:  # the sample ends mid-line: its last token may be cut
        parts = parts[:-1]
    return len(parts) >= 2 and all(_is_float(p) for p in parts[1:])


# ---------------------------------------------------------------------- readers
def make_keyed_vectors(words: list[str], vectors: np.ndarray, path: Path) -> KeyedVectors:
    """KeyedVectors from words and a float32 matrix, rejecting duplicates and NaN (``path`` names the source)."""
    if len(set(words)) != len(words):
        seen, dup = set(), []
        for w in words:
            if w in seen:
                dup.append(w)
            seen.add(w)
        raise DataError(f"{path}: duplicate word(s) {dup[:5]}")
    for start in range(0, len(vectors), _CHECK_ROWS):  # blockwise: no matrix-sized boolean temporary
        finite = np.isfinite(vectors[start:start + _CHECK_ROWS]).all(axis=1)
        if not finite.all():
            row = start + int(np.argmin(finite))
            raise DataError(f"{path}: vector of {words[row]!r} (row {row + 1}) contains NaN or infinity")
    kv = KeyedVectors(vectors.shape[1], count=0, dtype=np.float32)
    kv.index_to_key = list(words)
    kv.key_to_index = {w: i for i, w in enumerate(words)}
    kv.vectors = vectors
    return kv


def _parse_header(line: bytes, path: Path) -> tuple[int, int]:
    match = _HEADER.match(line)
    if not match:
        raise DataError(
            f"{path}: first line {line[:60]!r} is not a word2vec header '<count> <dim>' "
            "(GloVe files have no header: use format='glove-text')"
        )
    count, dim = int(match.group(1)), int(match.group(2))
    if count <= 0 or dim <= 0:
        raise DataError(f"{path}: header says {count} words of dimension {dim}; both must be positive")
    return count, dim


def _content_limit(path: Path) -> tuple[int, str]:
    """The most bytes ``path`` can hold once decompressed, and how that bound was found."""
    size = path.stat().st_size
    if path.suffix == ".gz":
        return size * _DEFLATE_MAX_RATIO, f"a {size:,}-byte gzip file holds at most about {size * _DEFLATE_MAX_RATIO:,}"
    return size, f"the file holds {size:,}"


def _check_header_fits(path: Path, rows: int, dim: int, min_row_bytes: int) -> None:
    """Refuse a header whose ``rows`` vectors of ``dim`` cannot fit in the file (before allocating anything)."""
    limit, holds = _content_limit(path)
    need = rows * min_row_bytes
    if need > limit:
        raise DataError(
            f"{path}: the header promises {rows:,} vectors of dimension {dim:,}, at least {need:,} bytes, "
            f"but {holds} bytes: the header is damaged or the file is truncated"
        )


def read_word2vec_binary(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Read a word2vec binary file (GoogleNews format); see the module docstring."""
    path = Path(path)
    with _open(path) as f:
        count, dim = _parse_header(f.readline(64), path)
        n = count if limit is None else min(count, limit)
        record = dim * 4
        _check_header_fits(path, n, dim, record + 2)  # a word of >= 1 byte and its blank
        # allocated once a row's bytes are in hand and grown by doubling: memory follows the data read
        vectors = np.empty((0, dim), dtype=np.float32)
        words: list[str] = []
        buf, pos = b"", 0
        for i in range(n):
            while True:
                # skip the newline the C tool writes after each vector
                while pos < len(buf) and buf[pos] in (0x0A, 0x0D):
                    pos += 1
                space = buf.find(b" ", pos)
                if space != -1 and len(buf) - space - 1 >= record:
                    break
                more = f.read(_CHUNK)
                if not more:
                    raise DataError(
                        f"{path}: truncated: the header promises {count} vectors of dimension {dim} "
                        f"but the file ends inside vector {i + 1}"
                    )
                buf, pos = buf[pos:] + more, 0
            raw_word = buf[pos:space]
            if len(raw_word) > 1000 or not raw_word:
                raise DataError(
                    f"{path}: record {i + 1} has no sensible word ({raw_word[:40]!r}); the dimension "
                    f"header ({dim}) may be wrong or the file is not word2vec binary"
                )
            try:
                words.append(raw_word.decode("utf-8"))
            except UnicodeDecodeError as err:
                raise DataError(
                    f"{path}: word {i + 1} is not valid UTF-8 ({raw_word[:40]!r}); the dimension header "
                    f"({dim}) may be wrong or the file is not word2vec binary"
                ) from err
            body = buf[space + 1: space + 1 + record]
            if i == 0 and all(b in _TEXT_FLOAT_BYTES for b in body):
                raise DataError(
                    f"{path}: looks like a text file (vector bytes are ASCII numbers); "
                    "use format='word2vec-text'"
                )
            if i == len(vectors):
                vectors.resize((min(n, max(2 * i, _CHUNK // record, 1)), dim), refcheck=False)
            vectors[i] = np.frombuffer(body, dtype="<f4")
            pos = space + 1 + record
        if n == count:
            trailing = (buf[pos:] + f.read(_CHUNK)).strip()
            if trailing:
                raise DataError(
                    f"{path}: {len(trailing)}+ bytes left after the {count} vectors the header promises; "
                    f"the header's count or dimension ({dim}) is wrong"
                )
    return make_keyed_vectors(words, vectors, path)


def _read_text(path: Path, header: bool, limit: int | None) -> KeyedVectors:
    with _open(path) as raw:
        f = io.TextIOWrapper(raw, encoding="utf-8", errors="strict")
        count = dim = None
        if header:
            try:
                first = f.readline(64)
            except UnicodeDecodeError as err:
                raise DataError(f"{path}: not UTF-8 text; a binary file? use format='word2vec-binary'") from err
            count, dim = _parse_header(first.encode(), path)
            # a word and dim values of >= 1 character, each after a blank, and a newline
            _check_header_fits(path, count if limit is None else min(count, limit), dim, 2 * dim + 2)
        words: list[str] = []
        rows: list[np.ndarray] = []
        lineno = 1 if header else 0
        try:
            for line in f:
                lineno += 1
                line = line.rstrip()
                if not line:
                    continue
                if dim is None:
                    dim = len(line.split()) - 1
                    if dim < 1:
                        raise DataError(f"{path}: line {lineno} has a word but no vector")
                parts = line.rsplit(" ", dim)  # GloVe 840B has words containing spaces
                try:
                    values = np.array(parts[1:], dtype=np.float32)
                except ValueError:
                    values = None
                # an extra number makes a "word" with blanks: a longer row, not a GloVe 840B phrase
                extra = parts[0].split()[1:]
                if len(parts) != dim + 1 or values is None or not parts[0] \
                        or (extra and all(_is_float(x.encode()) for x in extra)):
                    found = len(line.split()) - 1
                    raise DataError(
                        f"{path}: line {lineno} has {found} values where {dim} are expected "
                        "(dimension mismatch or a damaged row)"
                    )
                words.append(parts[0])
                rows.append(values)
                if limit is not None and len(words) >= limit:
                    break
        except UnicodeDecodeError as err:
            raise DataError(
                f"{path}: line {lineno + 1} is not UTF-8 text; a binary file? use format='word2vec-binary'"
            ) from err
    if not words:
        raise DataError(f"{path}: no vectors found")
    if count is not None and len(words) < min(count, limit or count):
        raise DataError(f"{path}: truncated: the header promises {count} vectors, the file has {len(words)}")
    return make_keyed_vectors(words, np.vstack(rows), path)


def read_word2vec_text(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Read a word2vec text file (``<count> <dim>`` header, then ``word v1 ... vdim`` lines)."""
    return _read_text(Path(path), header=True, limit=limit)


def read_glove_text(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Read a GloVe text file (``word v1 ... vdim`` lines, no header)."""
    return _read_text(Path(path), header=False, limit=limit)


def read_mwe(path: str | os.PathLike, limit: int | None = None) -> KeyedVectors:
    """Read token/vector rows from Parquet (``token`` or ``content``, and ``vector`` columns)."""
    path = Path(path)
    table = read_parquet(path)
    names = table.column_names
    key = "token" if "token" in names else "content" if "content" in names else None
    if key is None or "vector" not in names:
        raise DataError(f"{path}: needs columns 'token' (or 'content') and 'vector'; found {names}")
    if limit is not None:
        table = table.slice(0, limit)
    if table.num_rows == 0:
        raise DataError(f"{path}: no vectors found")
    if table.column(key).null_count:
        raise DataError(f"{path}: column {key!r} has missing (null) tokens")
    words = [str(w) for w in table.column(key).to_pylist()]
    matrix = parquet_matrix(table, "vector", words, path)
    return make_keyed_vectors(words, matrix, path)


def read_native(path: str | os.PathLike, trust_pickle: bool = False, mmap: str | None = "r") -> KeyedVectors:
    """Load a gensim ``KeyedVectors.save`` file, memory-mapped by default.

    gensim stores these with pickle, and unpickling runs any code the file holds,
    so this refuses unless ``trust_pickle`` is True (for a file you made yourself
    or got from someone you trust).

    Raises
    ------
    DataError
        Without ``trust_pickle``; or a missing, damaged or foreign file.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if not trust_pickle:
        raise DataError(
            f"{path}: a gensim .kv file is a Python pickle, and loading one runs any code it contains. "
            "Load it only if you made it yourself or trust its author: pass --trust-pickle "
            "(trust_pickle=True). Safer: save it in word2vec format with gensim "
            "(KeyedVectors.save_word2vec_format) and import that."
        )
    try:
        kv = KeyedVectors.load(str(path), mmap=mmap)
    except Exception as err:  # unpickling raises many types for foreign/damaged files
        raise DataError(f"{path}: not a gensim KeyedVectors file ({type(err).__name__}: {err})") from err
    if not isinstance(kv, KeyedVectors):
        raise DataError(f"{path}: holds a {type(kv).__name__}, not KeyedVectors")
    return kv


def read_vectors(path: str | os.PathLike, format: str = "auto", limit: int | None = None,
                 trust_pickle: bool = False) -> KeyedVectors:
    """Read any supported file into gensim ``KeyedVectors``.

    Parameters
    ----------
    path : path
        The word-vector file.
    format : str
        One of :data:`FORMATS`; ``auto`` uses :func:`detect_format`.
    limit : int, optional
        Read only the first ``limit`` words (files are usually frequency-ordered).
    trust_pickle : bool
        Allow a gensim ``.kv`` (``native``) file, which is a pickle (see :func:`read_native`).

    Raises
    ------
    DataError
        Missing, empty, damaged or inconsistent file; a ``.kv`` without ``trust_pickle``.
    ParameterError
        Unknown format or a non-positive limit.
    """
    if format not in FORMATS:
        raise ParameterError(f"unknown word-vector format {format!r}; use one of {FORMATS}")
    if limit is not None and limit <= 0:
        raise ParameterError(f"limit must be positive, got {limit}")
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: empty file (no word vectors)")
    if format == "auto":
        format = detect_format(path)
    if format == "native":
        kv = read_native(path, trust_pickle=trust_pickle)
        if limit is not None and limit < len(kv):  # copies only the rows kept
            words = kv.index_to_key[:limit]
            return make_keyed_vectors(list(words), np.array(kv.vectors[:limit]), path)
        return kv
    reader = {
        "word2vec-binary": read_word2vec_binary,
        "word2vec-text": read_word2vec_text,
        "glove-text": read_glove_text,
        "mwe": read_mwe,
    }[format]
    try:
        return reader(path, limit=limit)
    except (OSError, EOFError) as err:  # damaged gzip streams
        raise DataError(f"{path}: cannot read as {format} ({err})") from err
