"""Music corpus (deterministic, no test-split leakage), skip-gram, demo build, evaluation metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import ndcg_score, roc_auc_score

from core.catalog import Catalog
from core.errors import ParameterError
from core.tag_split import load_tag_split
from core.words import load_word_vectors, read_meta
from core.words.demo_embeddings import GLOVE_NAME, MUSIC_NAME, build_glove, build_music_skipgram
from core.words.corpus import build_music_corpus, genre_walks, short_form, token
from core.words.evaluate import evaluate_word_embedding, ndcg_at_k, roc_auc, tag_rank_ndcg
from core.words.train import SkipGramConfig, train_skipgram
from core.workspace import Workspace

STYLES = {  # genre -> (instruments, moods, tempo)
    "celtic": (["fiddle", "flute", "harp"], ["happy", "energetic"], "fast"),
    "baroque": (["harpsichord", "organ", "strings"], ["calm", "dark"], "medium"),
    "smooth jazz": (["saxophone", "piano"], ["relaxing", "mellow"], "slow"),
    "house": (["synthesizer", "drums"], ["party", "energetic"], "fast"),
}


def synthetic_workspace(root, n_tracks: int = 80, seed: int = 0) -> Workspace:
    """A catalog whose tags co-occur by style; every fifth track is test, one in five valid."""
    rng = np.random.default_rng(seed)
    styles = list(STYLES)
    tracks, tags = [], []
    for i in range(n_tracks):
        tid, genre = f"trk {i:03d}", styles[i % len(styles)]  # a blank inside an id stays one token
        inst, mood, tempo = STYLES[genre]
        tracks.append(dict(track_id=tid, artist_id=f"a{i % 10}", title=tid, audio_path=f"{i}.wav", duration=8.0,
                           split=("train", "train", "train", "valid", "test")[i % 5], bpm=100.0, source="test"))
        for tag, cat in ((genre, "genre"), (str(rng.choice(inst)), "instrument"), (str(rng.choice(mood)), "mood"),
                         (tempo, "tempo")):
            tags.append(dict(track_id=tid, tag=tag, original_tag=tag, category=cat, score=100.0))
    artists = pd.DataFrame({"artist_id": [f"a{j}" for j in range(10)], "name": [f"A{j}" for j in range(10)]})
    ws = Workspace.create(root, name="synthetic")
    ws.save_catalog(Catalog(pd.DataFrame(tracks), artists, pd.DataFrame(tags)))
    return ws


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Workspace:
    ws = synthetic_workspace(tmp_path_factory.mktemp("words") / "ws")
    build_glove(ws, limit=20000)
    build_music_skipgram(ws, seed=0, vector_size=32, epochs=5, n_walks=1500)
    return ws


def test_corpus_is_deterministic_and_seed_dependent(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    a, b = build_music_corpus(ws, seed=3, n_walks=300), build_music_corpus(ws, seed=3, n_walks=300)
    assert a.sentences == b.sentences and a.digest() == b.digest()
    assert build_music_corpus(ws, seed=4, n_walks=300).digest() != a.digest()
    assert set(a.sources) == {"tracks", "genre_walks", "genre_groups", "glossary", "general_text"}
    assert sum(a.sources.values()) == a.n_tokens


def test_corpus_has_train_tracks_only_with_exact_ids(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    tokens = {t for s in build_music_corpus(ws, seed=0, n_walks=10).sentences for t in s}
    cat = ws.catalog
    assert set(cat.split_ids("train")) <= tokens
    assert not (set(cat.split_ids("test")) | set(cat.split_ids("valid"))) & tokens
    assert "smooth_jazz" in tokens and "a5" in tokens and "a3" not in tokens  # a3 has no train track


def test_genre_walks_use_short_forms_about_half_the_time():
    assert (short_form("Heavy Metal"), short_form("chillout"), short_form("lounge music")) == \
        ("metal", "chill", "lounge")
    assert short_form("jungle") is None and token("Smooth  Jazz") == "smooth_jazz"
    counts = pd.Series([t for w in genre_walks(np.random.default_rng(0), 4000) for t in w]).value_counts()
    share = counts["hiphop"] / (counts["hiphop"] + counts["hip_hop"])
    assert 0.4 < share < 0.6


def test_skipgram_is_deterministic_with_one_worker():
    rng = np.random.default_rng(0)
    sentences = [[f"w{j}" for j in rng.integers(0, 30, size=12)] for _ in range(200)]
    cfg = SkipGramConfig(vector_size=16, epochs=2, seed=5)
    a, b = train_skipgram(sentences, cfg), train_skipgram(sentences, cfg)
    np.testing.assert_array_equal(a.vectors, b.vectors)
    assert a.get_vecattr("w0", "count") > 0
    with pytest.raises(ParameterError):
        SkipGramConfig(window=0)


def test_build_is_idempotent_and_labelled(built):
    glove, music = read_meta(built, GLOVE_NAME), read_meta(built, MUSIC_NAME)
    assert (glove["domain"], music["domain"]) == ("general", "musical")
    assert glove["label"].startswith("GloVe 6B 50d") and "GoogleNews" not in glove["label"]
    assert "saxophone" in load_word_vectors(built, GLOVE_NAME)  # catalog words kept despite the limit
    again = build_music_skipgram(built, seed=0, vector_size=32, epochs=5, n_walks=1500)
    assert again["created"] == music["created"]  # skipped: same corpus and settings
    assert build_glove(built, limit=20000)["created"] == glove["created"]
    wv = load_word_vectors(built, MUSIC_NAME)
    assert wv.lookup("smooth jazz").form == "smooth_jazz" and wv.has_counts()


def test_evaluation_keys_and_musical_beats_general(built):
    general = evaluate_word_embedding(built, GLOVE_NAME)
    musical = evaluate_word_embedding(built, MUSIC_NAME)
    assert general["domain"] == "general" and musical["domain"] == "musical"
    gm, mm = general["metrics"], musical["metrics"]
    for key in ("ndcg30_tag_rank", "ndcg30_ctn_ctn", "ndcg30_ctn_ctx", "ndcg30_ctx_ctn", "tag_coverage"):
        assert key in gm and key in mm
    assert "roc_auc_query_by_tag" not in gm  # GloVe holds no track ids
    assert mm["n_tracks"] == len(built.catalog.split_ids("train"))
    assert 0.5 < mm["roc_auc_query_by_tag"] <= 1.0 and 0 <= mm["recall@1_query_by_track"] <= 1
    assert mm["ndcg30_tag_rank"] > gm["ndcg30_tag_rank"]


def test_missing_candidate_tags_rank_last(built):
    wv = load_word_vectors(built, MUSIC_NAME)
    tags = built.catalog.tags()
    _, found, missing = wv.vectors_for(tags)
    # unseen tags that only track paragraphs mention are not in the skip-gram's vocabulary
    assert missing and set(missing) <= set(load_tag_split(built).unseen)
    full = tag_rank_ndcg(wv, built.catalog)
    assert full["tag_coverage"] == pytest.approx(len(found) / len(tags)) and full["n_tag_queries"] > 0
    assert 0.0 <= full["ndcg30_tag_rank"] <= 1.0


def test_ndcg_matches_sklearn():
    rng = np.random.default_rng(0)
    for k in (1, 5, 30):
        for _ in range(20):
            n = int(rng.integers(2, 60))
            y_true = rng.integers(0, 5, size=n).astype(float)
            y_score = np.round(rng.normal(size=n), 1)  # rounding makes ties
            if y_true.sum() == 0:
                continue
            assert ndcg_at_k(y_true, y_score, k) == pytest.approx(ndcg_score([y_true], [y_score], k=k), abs=1e-12)
    assert ndcg_at_k(np.zeros(3), np.arange(3.0), 2) == 0.0
    with pytest.raises(ParameterError):
        ndcg_at_k([1, 2], [0.1], 2)
    with pytest.raises(ParameterError):
        ndcg_at_k([-1, 2], [0.1, 0.2], 2)


def test_roc_auc_matches_sklearn():
    rng = np.random.default_rng(1)
    for _ in range(20):
        y = rng.integers(0, 2, size=40)
        y[:2] = (0, 1)
        s = np.round(rng.normal(size=40), 1)
        assert roc_auc(y, s) == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    with pytest.raises(ParameterError, match="both positive and negative"):
        roc_auc(np.ones(4), np.arange(4.0))
