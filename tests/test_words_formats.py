"""Word-vector files: every format round-trips, broken files give clear DataErrors."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors

from core.errors import DataError, ParameterError
from core.words import detect_format, import_word_vectors, load_word_vectors, read_vectors
from core.words.compare import neighbours
from core.words.formats import read_native, save_native
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


def test_native_store_saves_norms_and_memory_maps(kv, tmp_path):
    path = save_native(kv, tmp_path / "v.kv")
    loaded = read_native(path)
    assert isinstance(loaded.vectors, np.memmap)
    assert loaded.norms is not None
    np.testing.assert_allclose(loaded.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-5)
    _same(loaded, kv)


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
    with pytest.raises(DataError, match="fake.kv: not a gensim KeyedVectors file"):
        read_vectors(fake)
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
