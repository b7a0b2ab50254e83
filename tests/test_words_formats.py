"""Word-vector files: every format round-trips, broken or hostile files give clear DataErrors naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors

from core.errors import DataError, ParameterError
from core.words import detect_format, import_word_vectors, load_word_vectors, read_vectors
from core.words.compare import neighbours
from core.words.formats import read_native
from core.workspace import Workspace

WORDS = ["the", "Smooth_Jazz", "jazz", "smooth", "house", "club", "home", "café"]


@pytest.fixture()
def kv() -> KeyedVectors:
    rng = np.random.default_rng(0)
    kv = KeyedVectors(6)
    kv.add_vectors(WORDS, rng.normal(size=(len(WORDS), 6)).astype(np.float32))
    return kv


@pytest.fixture()
def ws(tmp_path) -> Workspace:
    return Workspace.create(tmp_path / "ws", name="t")


def _same(a: KeyedVectors, b: KeyedVectors) -> None:
    assert list(a.index_to_key) == list(b.index_to_key)
    np.testing.assert_allclose(np.asarray(a.vectors), np.asarray(b.vectors), rtol=1e-5, atol=1e-6)


def _glove_text(kv, path):
    with open(path, "w", encoding="utf-8") as f:
        for w in kv.index_to_key:
            f.write(w + " " + " ".join(f"{x:.7f}" for x in kv[w]) + "\n")


@pytest.mark.parametrize("name,binary", [("v.bin", True), ("v.txt", False), ("v.bin.gz", True), ("v.txt.gz", False)])
def test_word2vec_round_trip(kv, tmp_path, name, binary):
    path = tmp_path / name
    kv.save_word2vec_format(str(path), binary=binary)
    assert detect_format(path) == ("word2vec-binary" if binary else "word2vec-text")
    _same(read_vectors(path), kv)


def test_c_tool_newlines_after_vectors(kv, tmp_path):
    # the original word2vec C tool writes "\n" after every vector
    path = tmp_path / "c.bin"
    with open(path, "wb") as f:
        f.write(f"{len(kv)} 6\n".encode())
        for w in kv.index_to_key:
            f.write(w.encode() + b" " + kv[w].astype("<f4").tobytes() + b"\n")
    _same(read_vectors(path, "word2vec-binary"), kv)


def test_glove_text_round_trip_and_limit(kv, tmp_path):
    path = tmp_path / "glove.txt"
    _glove_text(kv, path)
    assert detect_format(path) == "glove-text"
    _same(read_vectors(path), kv)
    assert read_vectors(path, limit=3).index_to_key == WORDS[:3]


def test_mwe_parquet_token_and_content_columns(kv, tmp_path):
    for column in ("token", "content"):
        path = tmp_path / f"{column}.parquet"
        pd.DataFrame({column: WORDS, "vector": [kv[w].tolist() for w in WORDS]}).to_parquet(path)
        assert detect_format(path) == "mwe"
        _same(read_vectors(path), kv)


def test_gensim_native_needs_trust_pickle(kv, tmp_path):
    path = tmp_path / "v.kv"
    kv.save(str(path), sep_limit=0)
    with pytest.raises(DataError, match=r"v\.kv: a gensim \.kv file is a Python pickle.*--trust-pickle"):
        read_vectors(path)
    with pytest.raises(DataError, match="--trust-pickle"):
        read_native(path)
    _same(read_vectors(path, trust_pickle=True), kv)
    assert read_vectors(path, limit=3, trust_pickle=True).index_to_key == WORDS[:3]


def test_googlenews_format_import_mmap_and_neighbour_query(tmp_path, ws):
    # a GoogleNews-like binary (case-sensitive phrases) written by gensim itself
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(300)] + ["Smooth_Jazz", "smooth_jazz_radio", "Jazz"]
    vecs = rng.normal(size=(len(words), 30)).astype(np.float32)
    vecs[-2] = vecs[-3] + 0.01 * rng.normal(size=30)  # a clear nearest neighbour
    src = KeyedVectors(30)
    src.add_vectors(words, vecs)
    path = tmp_path / "GoogleNews-vectors-negative300.bin"
    src.save_word2vec_format(str(path), binary=True)

    meta = import_word_vectors(ws, path, "gn", label="GoogleNews-like", limit=None)
    assert (meta["format"], meta["vocab_size"], meta["dim"]) == ("word2vec-binary", len(words), 30)
    wv = load_word_vectors(ws, "gn")
    assert isinstance(wv.kv.vectors, np.memmap) and isinstance(wv.kv.norms, np.memmap)
    found, lookup = neighbours(wv, "smooth jazz", k=3)
    assert (lookup.form, lookup.method) == ("Smooth_Jazz", "case")
    assert found[0][0] == "smooth_jazz_radio" and found[0][1] > 0.99
    assert import_word_vectors(ws, path, "gn-small", limit=10)["vocab_size"] == 10


def test_broken_binary_files(kv, tmp_path):
    good = tmp_path / "v.bin"
    kv.save_word2vec_format(str(good), binary=True)
    data = good.read_bytes()

    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(data[:-7])
    with pytest.raises(DataError, match=r"truncated\.bin: truncated"):
        read_vectors(truncated)

    for wrong in (5, 7):  # header dimension off by one either way
        bad = tmp_path / f"dim{wrong}.bin"
        bad.write_bytes(data.replace(b"8 6\n", f"8 {wrong}\n".encode(), 1))
        with pytest.raises(DataError, match=rf"dim{wrong}\.bin: .*(dimension|truncated)"):
            read_vectors(bad)

    header = tmp_path / "header.bin"
    header.write_bytes(b"eight six\n" + data.split(b"\n", 1)[1])
    with pytest.raises(DataError, match="header.bin: .*not a word2vec header"):
        read_vectors(header, "word2vec-binary")


def test_text_opened_as_binary_and_binary_as_text(kv, tmp_path):
    text, binary = tmp_path / "v.txt", tmp_path / "v.bin"
    kv.save_word2vec_format(str(text), binary=False)
    kv.save_word2vec_format(str(binary), binary=True)
    with pytest.raises(DataError, match="v.txt: looks like a text file"):
        read_vectors(text, "word2vec-binary")
    with pytest.raises(DataError, match="v.bin: .*not UTF-8"):
        read_vectors(binary, "word2vec-text")


def test_text_dimension_mismatch_rows(kv, tmp_path):
    path = tmp_path / "glove.txt"
    _glove_text(kv, path)
    lines = path.read_text().splitlines()
    lines[3] += " 0.5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="glove.txt: line 4 has 7 values where 6 are expected"):
        read_vectors(path)
    w2v = tmp_path / "short.txt"
    kv.save_word2vec_format(str(w2v), binary=False)
    w2v.write_text("\n".join(w2v.read_text().splitlines()[:-2]) + "\n")
    with pytest.raises(DataError, match="short.txt: truncated: the header promises 8 vectors, the file has 6"):
        read_vectors(w2v)


def test_other_bad_inputs(tmp_path, ws):
    with pytest.raises(DataError, match="no such file"):
        read_vectors(tmp_path / "absent.bin")
    junk = tmp_path / "junk.dat"
    junk.write_text("hello world\n")
    with pytest.raises(DataError, match="junk.dat: not a recognised word-vector file"):
        read_vectors(junk)
    fake = tmp_path / "fake.kv"
    fake.write_bytes(b"not a pickle")
    with pytest.raises(DataError, match="fake.kv: a gensim .kv file is a Python pickle"):
        read_vectors(fake)
    with pytest.raises(DataError, match="fake.kv: not a gensim KeyedVectors file"):
        read_vectors(fake, trust_pickle=True)
    gz = tmp_path / "bad.txt.gz"
    gz.write_bytes(gzip.compress(b"3 2\na 1 2\n")[:-12])
    with pytest.raises(DataError, match="bad.txt.gz"):
        read_vectors(gz, "word2vec-text")
    nan = tmp_path / "nan.txt"
    nan.write_text("a 1 2\nb nan 2\n")
    with pytest.raises(DataError, match="nan.txt: vector of 'b' \\(row 2\\) contains NaN"):
        read_vectors(nan)
    with pytest.raises(ParameterError, match="unknown word-vector format"):
        read_vectors(junk, "fasttext")
    with pytest.raises(ParameterError, match="invalid word-embedding name"):
        import_word_vectors(ws, junk, "../escape")
    with pytest.raises(DataError, match="no word embedding 'nope'"):
        load_word_vectors(ws, "nope")


@pytest.mark.parametrize("header", [b"1 99999999999999999999\n", b"99999999999999999999 1\n",
                                    b"3000000 300\n", b"2 3\n"])
def test_impossible_headers_fail_before_allocating(tmp_path, header):
    # "2 3" needs two 3-d rows, which a plain 8-byte body cannot hold (a .gz could, so it is left out there)
    cases = [("h.bin", "word2vec-binary"), ("h.txt", "word2vec-text")]
    if header != b"2 3\n":
        cases += [("h.bin.gz", "word2vec-binary"), ("h.txt.gz", "word2vec-text")]
    for name, fmt in cases:
        path = tmp_path / name
        body = header + b"a 1\n"
        path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
        with pytest.raises(DataError, match=rf"{name}: the header promises [0-9,]+ vectors of dimension "):
            read_vectors(path, fmt)


def test_gzip_header_bound_uses_the_deflate_ratio(tmp_path):
    # a small .gz may hold much more than its size; the bound is deflate's ~1032:1, not the compressed size
    rng = np.random.default_rng(0)
    kv = KeyedVectors(50)
    kv.add_vectors([f"w{i}" for i in range(200)], np.zeros((200, 50), np.float32) + rng.normal(size=50))
    path = tmp_path / "zeros.bin.gz"
    kv.save_word2vec_format(str(path), binary=True)
    assert path.stat().st_size < 200 * 50 * 4
    _same(read_vectors(path), kv)


def test_non_finite_values_name_file_and_row(kv, tmp_path):
    vectors = np.asarray(kv.vectors).copy()
    vectors[2, 1] = np.inf
    bad = KeyedVectors(6)
    bad.add_vectors(WORDS, vectors)
    for name, binary in (("inf.bin", True), ("inf.txt", False)):
        path = tmp_path / name
        bad.save_word2vec_format(str(path), binary=binary)
        with pytest.raises(DataError, match=rf"{name}: vector of 'jazz' \(row 3\) contains NaN or infinity"):
            read_vectors(path)
    parquet = tmp_path / "inf.parquet"
    pd.DataFrame({"token": ["a", "b"], "vector": [[1.0, 2.0], [-np.inf, 1.0]]}).to_parquet(parquet)
    with pytest.raises(DataError, match=r"inf.parquet: vector of 'b' \(row 2\) contains NaN or infinity"):
        read_vectors(parquet)
    nulls = tmp_path / "nan.parquet"  # pandas writes NaN inside a list as a null
    pd.DataFrame({"token": ["a", "b"], "vector": [[1.0, 2.0], [float("nan"), 1.0]]}).to_parquet(nulls)
    with pytest.raises(DataError, match=r"nan.parquet: row 2 \('b'\) has a missing \(null\) value"):
        read_vectors(nulls)
    no_vector = tmp_path / "none.parquet"  # the same checks as a model's embedding file (core.fileio.parquet_matrix)
    pd.DataFrame({"token": ["a", "b"], "vector": [[1.0, 2.0], None]}).to_parquet(no_vector)
    with pytest.raises(DataError, match=r"none.parquet: row 2 \('b'\) has no vector \(null\)"):
        read_vectors(no_vector)


def test_empty_garbage_and_ragged_files(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    for fmt in ("auto", "glove-text", "word2vec-binary", "word2vec-text"):
        with pytest.raises(DataError, match="empty.txt: empty file"):
            read_vectors(empty, fmt)
    blank = tmp_path / "blank.txt"
    blank.write_text("\n\n  \n")
    with pytest.raises(DataError, match="blank.txt: empty file"):
        read_vectors(blank)
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(DataError, match="garbage.bin: "):
        read_vectors(garbage)
    for fmt in ("word2vec-binary", "word2vec-text", "glove-text"):
        with pytest.raises(DataError, match="garbage.bin: "):
            read_vectors(garbage, fmt)
    ragged = tmp_path / "ragged.parquet"
    pd.DataFrame({"token": ["a", "b"], "vector": [[1.0, 2.0], [1.0]]}).to_parquet(ragged)
    with pytest.raises(DataError, match=r"ragged.parquet: row 2 \('b'\) has 1 values where 2 are expected"):
        read_vectors(ragged)
    strings = tmp_path / "strings.parquet"
    pd.DataFrame({"token": ["a"], "vector": ["1 2"]}).to_parquet(strings)
    with pytest.raises(DataError, match="strings.parquet: column 'vector' holds (large_)?string, not lists of numbers"):
        read_vectors(strings)
    short_row = tmp_path / "short.txt"
    short_row.write_text("2 3\na 1 2 3\nb 1 2\n")
    with pytest.raises(DataError, match="short.txt: line 3 has 2 values where 3 are expected"):
        read_vectors(short_row)


def test_memory_follows_the_rows_read_not_the_header(tmp_path):
    # a .gz may legitimately hold ~1000x its size, so this lying header passes the size bound:
    # 2,000,000 x 50 promises 400 MB, the file holds one vector and then random bytes
    import tracemalloc

    rng = np.random.default_rng(0)
    body = b"2000000 50\nw0 " + np.ones(50, "<f4").tobytes() + rng.integers(0, 256, 420_000, np.uint8).tobytes()
    path = tmp_path / "liar.bin.gz"
    path.write_bytes(gzip.compress(body))
    assert path.stat().st_size * 1032 > 2_000_000 * 202
    tracemalloc.start()
    try:
        with pytest.raises(DataError, match="liar.bin.gz: "):
            read_vectors(path, "word2vec-binary")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50e6
