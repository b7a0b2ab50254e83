"""Phrase lookup and the comparison functions, on small hand-made embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from gensim.models import KeyedVectors

from core.errors import ParameterError, VocabularyError
from core.words import WordVectors
from core.words.compare import (comparison_markdown, is_music_term, music_vocabulary, neighbour_overlap,
                                neighbours, pair_cosines, rank_correlation, tag_vectors)
from core.words.phrases import candidate_forms


def _wv(words, vectors, name="t", counts=None, domain="general") -> WordVectors:
    kv = KeyedVectors(len(vectors[0]))
    kv.add_vectors(list(words), np.asarray(vectors, dtype=np.float32))
    if counts is not None:
        for w, c in zip(words, counts):
            kv.set_vecattr(w, "count", c)
    return WordVectors(kv, {"name": name, "label": name.upper(), "domain": domain})


@pytest.fixture()
def wv() -> WordVectors:
    rng = np.random.default_rng(0)
    words = ["smooth", "jazz", "Deep_House", "deephouse", "Rock", "acid_jazz", "club", "home"]
    return _wv(words, rng.normal(size=(len(words), 8)), counts=[50, 40, 30, 2, 20, 10, 5, 1])


def test_candidate_forms_order():
    forms = candidate_forms("smooth jazz")
    assert forms[:4] == [("smooth jazz", "exact"), ("smooth_jazz", "joined"), ("smoothjazz", "joined"),
                         ("smooth-jazz", "joined")]
    assert ("Smooth_Jazz", "case") in forms and ("SMOOTH_JAZZ", "case") in forms


def test_lookup_methods(wv):
    exact = wv.lookup("acid_jazz")
    assert (exact.form, exact.method, exact.missing_words) == ("acid_jazz", "exact", ())
    assert np.isclose(np.linalg.norm(exact.vector), 1.0)
    joined = wv.lookup("acid jazz")
    assert (joined.form, joined.method) == ("acid_jazz", "joined")
    assert (wv.lookup("deep house").form, wv.lookup("deep house").method) == ("deephouse", "joined")
    case = wv.lookup("DEEP HOUSE")
    assert (case.form, case.method) == ("Deep_House", "case")
    assert wv.lookup("rock").method == "case"


def test_lookup_mean_reports_used_and_missing(wv):
    lk = wv.lookup("smooth jazz quartet")
    assert lk.method == "mean"
    assert lk.used_words == ("smooth", "jazz") and lk.missing_words == ("quartet",)
    expected = wv.unit("smooth") + wv.unit("jazz")
    np.testing.assert_allclose(lk.vector, expected / np.linalg.norm(expected), rtol=1e-5)
    assert "not in vocabulary: quartet" in lk.describe()


def test_lookup_never_returns_zero_vector(wv):
    with pytest.raises(VocabularyError, match="'vaporwave', 'chillwave'"):
        wv.lookup("vaporwave chillwave")
    with pytest.raises(ParameterError):
        wv.lookup("   ")


def test_vectors_for_reports_each_term(wv):
    matrix, found, missing = wv.vectors_for(["jazz", "deep house", "nothing here"])
    assert list(found) == ["jazz", "deep house"] and matrix.shape == (2, 8)
    assert list(missing) == ["nothing here"] and "nothing" in missing["nothing here"]
    np.testing.assert_allclose(matrix[1], found["deep house"].vector)


def test_neighbours_filters_and_excludes_query():
    base = np.eye(4)
    words = ["house", "club", "clubs", "home"]
    vecs = [base[0], base[0] * 0.9 + base[1] * 0.1, base[0] * 0.8 + base[2] * 0.2, base[3]]
    wv = _wv(words, vecs, counts=[10, 5, 1, 7])
    found, lookup = neighbours(wv, "house", k=3)
    assert lookup.form == "house" and [w for w, _ in found] == ["club", "clubs", "home"]
    assert found[0][1] == pytest.approx(0.9 / math.hypot(0.9, 0.1), rel=1e-5)
    assert [w for w, _ in neighbours(wv, "house", k=3, min_count=2)[0]] == ["club", "home"]
    assert [w for w, _ in neighbours(wv, "house", k=3, vocabulary={"home", "clubs"})[0]] == ["clubs", "home"]
    no_counts = _wv(words, vecs)
    with pytest.raises(ParameterError, match="no word counts"):
        neighbours(no_counts, "house", min_count=2)


def test_overlap_and_rank_correlation():
    a = [("a", 0.9), ("b", 0.8), ("c", 0.7)]
    assert neighbour_overlap(a, ["a", "b", "c"]) == 1.0
    assert neighbour_overlap(a, ["c", "x", "y"]) == pytest.approx(1 / 3)
    assert rank_correlation(a, ["a", "b", "c"]) == pytest.approx(1.0)
    assert rank_correlation(a, ["c", "b", "a"]) == pytest.approx(-1.0)
    assert rank_correlation(a, ["x", "y", "z"], method="kendall") < 0
    # missing words tie at rank len+1: a,b,c,d vs a,b,c,- -> d ranked 4 in both (len+1 = 4)
    assert rank_correlation(["a", "b", "c", "d"], ["a", "b", "c"]) == pytest.approx(1.0)
    assert math.isnan(rank_correlation(["a"], ["a"]))


def test_pair_cosines_report_missing(wv):
    rows = pair_cosines(wv, [("smooth", "jazz"), ("jazz", "nowhere_word")])
    assert rows[0]["cosine"] == pytest.approx(float(wv.unit("smooth") @ wv.unit("jazz")), rel=1e-5)
    assert rows[0]["error"] is None
    assert math.isnan(rows[1]["cosine"]) and "nowhere_word" in rows[1]["error"]


def test_music_vocabulary_and_tag_vectors(wv):
    vocab = music_vocabulary()
    for term in ("heavy_metal", "metal", "chill", "bossa_nova", "jungle", "deep house"):
        assert is_music_term(term, vocab), term
    assert not is_music_term("building", vocab)
    matrix, found, missing = tag_vectors(wv, ["jazz", "acid jazz", "polka"])
    assert found == ["jazz", "acid jazz"] and matrix.shape == (2, 8) and list(missing) == ["polka"]


def test_comparison_markdown_marks_music_terms_and_missing_words():
    base = np.eye(3)
    general = _wv(["house", "home", "office"], [base[0], base[0] + 0.5 * base[1], base[2]], name="gen")
    musical = _wv(["house", "club", "techno"], [base[0], base[0] + 0.1 * base[2], base[0] + 0.2 * base[1]],
                  name="mus", domain="musical")
    md = comparison_markdown(general, musical, words=["house"], pairs=[("house", "home")], k=2,
                             music_terms=music_vocabulary())
    lines = md.splitlines()
    assert lines[0] == "| query | GEN | MUS |"
    assert lines[2].startswith("| house | home, office | **club**, **techno** |")
    assert lines[-1].startswith("| house / home | 0.89 | not in vocabulary |")
