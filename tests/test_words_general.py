"""The general-text source of the musical skip-gram: GloVe nearest-neighbour walks (deterministic, cached)."""

from __future__ import annotations

import numpy as np
import pytest

from core.errors import ParameterError
from core.words import load_word_vectors
from core.words.demo_embeddings import MUSIC_NAME, build_music_skipgram
from core.words.corpus import GENERAL_SKIP_TOP, build_music_corpus, general_sentences, glove_neighbours

from .test_words_corpus import synthetic_workspace

N = 400  # enough for everyday words such as 'home' (GloVe frequency rank 163); fast to search


def test_general_sentences_are_deterministic_for_a_seed(tmp_path):
    a = general_sentences(np.random.default_rng(7), N, 3)
    b = general_sentences(np.random.default_rng(7), N, 3, cache_dir=tmp_path)
    c = general_sentences(np.random.default_rng(7), N, 3, cache_dir=tmp_path)  # from the cache
    assert a == b == c and list((tmp_path).glob("glove-knn-*.npz"))
    assert general_sentences(np.random.default_rng(8), N, 3) != a
    assert len(a) == N and {len(w) for w in a} == {4}
    assert general_sentences(np.random.default_rng(0), 0) == []
    with pytest.raises(ParameterError):
        general_sentences(np.random.default_rng(0), N, n_neighbours=0)


def test_glove_neighbours_are_frequent_plain_words():
    words, nbrs = glove_neighbours(N, 5)
    assert len(words) == N and nbrs.shape == (N, 5)
    assert "the" not in words and "," not in words and "home" in words  # function words and punctuation skipped
    assert all(w.isascii() and w[0].isalpha() for w in words)
    assert not (nbrs == np.arange(N)[:, None]).any()  # a word is not its own neighbour
    assert GENERAL_SKIP_TOP > 0


def test_corpus_with_general_text(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    music = build_music_corpus(ws, seed=0, n_walks=200)
    mixed = build_music_corpus(ws, seed=0, n_walks=200, n_general=N)
    again = build_music_corpus(ws, seed=0, n_walks=200, n_general=N)
    assert mixed.digest() == again.digest() != music.digest()  # the idempotent build retrains
    assert music.sources["general_text"] == 0 and mixed.sources["general_text"] > 0
    for name in ("tracks", "genre_walks", "genre_groups", "glossary"):  # music sources unchanged
        assert mixed.sources[name] == music.sources[name]
    tokens = {t for s in mixed.sentences for t in s}
    assert {"home", "smooth_jazz"} <= tokens
    assert not set(ws.catalog.split_ids("test")) & tokens


def test_skipgram_with_general_text_knows_everyday_words(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws", n_tracks=40)
    meta = build_music_skipgram(ws, seed=0, vector_size=16, epochs=2, n_walks=300, n_general=N)
    assert "GloVe 6B" in meta["source"] and meta["build"]["n_general"] == N
    assert meta["corpus_sources"]["general_text"] > 0
    wv = load_word_vectors(ws, MUSIC_NAME)
    assert "home" in wv and "stone" not in wv  # 'stone' is rank 2155, beyond N
