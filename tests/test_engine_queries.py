"""Queries: rankings against brute-force numpy references, how text is read, bad queries."""

from __future__ import annotations

import io

import numpy as np
import pytest
import soundfile as sf

from core.engine import queries as q
from core.engine.embed import EmbeddingSet, extract_embeddings
from core.engine.engine import Engine
from core.engine.results import QueryError

from tests.fixtures.engine_fakes import DIM, SUBSPACES


@pytest.fixture()
def engine(synthetic):
    emb = extract_embeddings(synthetic["ws"], "fake", model=synthetic["model"], words=synthetic["words"],
                             mel=synthetic["mel"])
    return Engine(synthetic["ws"], emb, synthetic["model"], synthetic["words"])


@pytest.fixture()
def plain_engine(synthetic):
    emb = extract_embeddings(synthetic["ws"], "plain", model=synthetic["plain"], mel=synthetic["mel"])
    return Engine(synthetic["ws"], emb, synthetic["plain"])


def reference(vectors: np.ndarray, query: np.ndarray, k: int, exclude=()) -> list[int]:
    """Brute force: float64 scores of every row, best first, ties by row."""
    scores = vectors.astype(np.float64) @ query.astype(np.float64)
    order = [int(i) for i in np.lexsort((np.arange(len(scores)), -scores)) if i not in set(exclude)]
    return order[:k]


def test_weighted_search_equals_brute_force_for_random_weights(engine):
    rng = np.random.default_rng(0)
    x = engine.emb.tracks
    for trial in range(25):
        weights = {name: float(rng.uniform(0, 2)) for name in [*SUBSPACES, "track"] if rng.random() < 0.8}
        if not any(weights.values()):
            continue
        tid = engine.track_ids[rng.integers(len(x))]
        k = int(rng.integers(1, 30))
        result = q.weighted_subspace_search(engine, tid, weights, k=k)
        w = np.full(DIM, weights.get("track", 0.0))
        for name, sl in SUBSPACES.items():
            w[sl] += weights.get(name, 0.0)
        qv = x[engine.track_row(tid)]
        expected = reference(x, qv * w, k, exclude=[engine.track_row(tid)])
        assert result.ids == [engine.track_ids[i] for i in expected], trial
        brute = x[expected].astype(np.float64) @ (qv * w)
        np.testing.assert_allclose(result.scores, brute, rtol=1e-6)
        # the per-subspace similarities explain the score: sum_s (w_s + w_track) * sim_s
        for hit in result.hits:
            explained = sum((weights.get(s, 0) + weights.get("track", 0)) * hit.subspaces[s] for s in SUBSPACES)
            assert hit.score == pytest.approx(explained, rel=1e-5, abs=1e-6)
            assert hit.subspaces["track"] == pytest.approx(sum(hit.subspaces[s] for s in SUBSPACES), abs=1e-6)


def test_weight_vector_agrees_with_model_weighted_query(engine):
    weights = {"genre": 0.5, "mood": 0.0, "instrument": 2.0, "tempo": 1.0}
    vector = engine.emb.tracks[3]
    np.testing.assert_allclose(vector * q.weight_vector(engine.subspaces, DIM, weights),
                               engine.model.weighted_query(vector, weights), rtol=1e-6)


def test_weighted_search_with_a_vector_and_only_one_subspace(engine):
    vector = np.random.default_rng(1).normal(size=DIM).astype(np.float32)
    result = q.weighted_subspace_search(engine, vector=vector, weights={"tempo": 1.0}, k=5)
    only_tempo = np.zeros(DIM)
    only_tempo[SUBSPACES["tempo"]] = 1
    assert result.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, vector * only_tempo, 5)]
    assert result.used["weights"] == {"tempo": 1.0}


@pytest.mark.parametrize("weights, message", [
    ({"genre": 0.0, "track": 0.0}, "all weights are zero"),
    ({"colour": 1.0}, "unknown weight"),
    ({"genre": -1.0}, ">= 0"),
    ({"genre": float("nan")}, "finite"),
])
def test_bad_weights_are_query_errors(engine, weights, message):
    with pytest.raises(QueryError, match=message) as err:
        q.weighted_subspace_search(engine, "t001", weights)
    assert err.value.message


def test_subspace_weights_on_a_model_without_subspaces(plain_engine):
    with pytest.raises(QueryError) as err:
        q.weighted_subspace_search(plain_engine, "t001", {"genre": 1.0})
    assert "no subspaces" in err.value.hint
    assert q.weighted_subspace_search(plain_engine, "t001", {"track": 1.0}).ids == \
        q.track_to_tracks(plain_engine, "t001").ids


def test_mix_and_match_uses_each_subspace_of_its_own_track(engine):
    x = engine.emb.tracks
    sources = {"genre": "t001", "tempo": "t002"}
    result = q.mix_and_match(engine, sources, k=8)
    query = np.zeros(DIM, dtype=np.float32)
    query[SUBSPACES["genre"]] = x[1, SUBSPACES["genre"]]
    query[SUBSPACES["tempo"]] = x[2, SUBSPACES["tempo"]]
    assert result.ids == [engine.track_ids[i] for i in reference(x, query, 8, exclude=[1, 2])]
    top = engine.track_row(result.ids[0])
    assert result.hits[0].subspaces["genre"] == pytest.approx(float(x[1, :4] @ x[top, :4]), abs=1e-6)
    assert result.hits[0].subspaces["mood"] == 0.0
    with pytest.raises(QueryError, match="unknown subspace"):
        q.mix_and_match(engine, {"rhythm": "t001"})
    with pytest.raises(QueryError, match="unknown track id"):
        q.mix_and_match(engine, {"genre": "nope"})


def test_track_to_tracks_excludes_itself_and_matches_reference(engine):
    result = q.track_to_tracks(engine, "t005", k=10)
    assert "t005" not in result.ids
    assert result.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, engine.emb.tracks[5], 10, [5])]
    assert q.track_to_tracks(engine, "t005", k=1, exclude_self=False).ids == ["t005"]
    assert result.index == "exact" and result.warnings == []


def test_unknown_track_id_is_a_query_error(engine):
    with pytest.raises(QueryError, match="unknown track id 'nope'") as err:
        q.track_to_tracks(engine, "nope")
    assert "search" in err.value.hint


def _wav_bytes(samples: np.ndarray, sr: int = 22050) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, sr, format="WAV")
    return buffer.getvalue()


@pytest.fixture()
def clip_engine(engine, monkeypatch):
    """The engine, its fake model reading the first 12 of the real 128 mel bands."""
    monkeypatch.setattr(engine.model, "track_inputs", lambda mel, f=type(engine.model).track_inputs,
                        m=engine.model: f(m, mel[:12]))
    return engine


@pytest.fixture()
def decodes(monkeypatch):
    """File names of the uploads the engine decodes, in order."""
    import core.engine.engine as engine_module

    calls, decode = [], engine_module.decode_audio
    monkeypatch.setattr(engine_module, "decode_audio",
                        lambda data, name, **kwargs: calls.append(name) or decode(data, name, **kwargs))
    return calls


def test_uploaded_clip_is_embedded_on_the_fly(clip_engine):
    from core.audio import log_mel

    engine = clip_engine
    y = np.random.default_rng(0).normal(scale=0.1, size=22050).astype(np.float32)
    result = q.track_to_tracks(engine, _wav_bytes(y), k=5, filename="clip.wav")
    expected = engine.model.encode_track(log_mel(y, 22050, scale="log1p10"))
    assert result.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, expected, 5)]
    assert result.used == {"upload": "clip.wav"}
    assert q.track_to_tracks(engine, y, k=5).ids == result.ids  # samples work like the file


@pytest.mark.parametrize("data", [b"", b"not audio at all" * 10, np.zeros(0, dtype=np.float32)])
def test_unreadable_upload_is_a_query_error(engine, data):
    with pytest.raises(QueryError, match="cannot read the uploaded audio") as err:
        q.track_to_tracks(engine, data, filename="x.wav")
    assert "upload a wav" in err.value.hint


def test_text_through_vocabulary_and_word_embedding(engine):
    seen = q.text_to_tracks(engine, "  Rock ", k=5)
    assert seen.used["source"] == "vocabulary" and seen.used["form"] == "rock" and seen.used["seen"] is True
    rock = engine.term_vector("rock")
    assert seen.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, rock, 5)]
    zero_shot = q.text_to_tracks(engine, "dreamy piano xylophonic", k=5)
    assert zero_shot.used["source"] == "word_embedding"
    assert zero_shot.used["used_words"] == ["dreamy", "piano"]
    assert zero_shot.used["missing_words"] == ["xylophonic"]
    lookup = engine.words.lookup("dreamy piano xylophonic")
    expected = engine.encode_word_vector(lookup.vector)
    assert zero_shot.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, expected, 5)]


@pytest.mark.parametrize("text, message", [("", "empty"), ("   ", "empty"), ("qwxz vbnm", "no word of")])
def test_bad_text_is_a_query_error(engine, text, message):
    with pytest.raises(QueryError, match=message) as err:
        q.text_to_tracks(engine, text)
    assert err.value.hint


def test_text_needs_a_text_side(plain_engine):
    with pytest.raises(QueryError, match="no text side") as err:
        q.text_to_tracks(plain_engine, "rock")
    assert "similar" in err.value.hint.lower() or "example" in err.value.hint
    with pytest.raises(QueryError, match="no text side"):
        q.track_to_tags(plain_engine, "t001")


def test_terms_only_models_read_free_text_as_known_terms(synthetic):
    emb = extract_embeddings(synthetic["ws"], "fake", model=synthetic["model"], words=synthetic["words"],
                             mel=synthetic["mel"])
    engine = Engine(synthetic["ws"], emb, synthetic["model"], words=None)  # like Muslse: no word vectors
    result = q.text_to_tracks(engine, "sad hip hop banjo", k=3)
    assert result.used["source"] == "terms"
    assert result.used["used_words"] == ["sad", "hip hop"] and result.used["missing_words"] == ["banjo"]
    mean = (engine.term_vector("sad") + engine.term_vector("hip hop")) / 2
    assert result.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, mean, 3)]


def test_track_to_tags_seen_and_all(engine):
    seen = q.track_to_tags(engine, "t003", k=50, vocabulary="seen")
    assert all(h.seen for h in seen.hits) and len(seen.hits) == 6
    everything = q.track_to_tags(engine, "t003", k=50, vocabulary="all")
    assert any(not h.seen for h in everything.hits) and len(everything.hits) == len(engine.emb.terms)
    scores = [h.score for h in everything.hits]
    assert scores == sorted(scores, reverse=True)
    top = everything.hits[0]
    assert top.score == pytest.approx(float(engine.term_vector(top.id) @ engine.emb.tracks[3]), abs=1e-6)
    assert {h.category for h in everything.hits} >= {"genre", "mood"}
    frame = everything.to_frame()
    assert list(frame.columns[:3]) == ["rank", "id", "score"] and "seen" in frame.columns
    with pytest.raises(QueryError, match="unknown vocabulary"):
        q.track_to_tags(engine, "t003", vocabulary="some")


def test_multi_query_averages_tracks_and_words_and_reports_skips(engine):
    result = q.multi_query(engine, ["t001", "rock", "t002", "qwxz"], k=6)
    x = engine.emb.tracks
    mean = (x[1] + engine.term_vector("rock") + x[2]) / 3
    assert result.ids == [engine.track_ids[i] for i in reference(x, mean, 6, exclude=[1, 2])]
    assert result.used["tracks"] == ["t001", "t002"] and result.used["texts"][0]["form"] == "rock"
    assert len(result.warnings) == 1 and "qwxz" in result.warnings[0]
    with pytest.raises(QueryError, match="none of the items"):
        q.multi_query(engine, ["qwxz", "nope123"])
    with pytest.raises(QueryError, match="empty"):
        q.multi_query(engine, [])


def test_k_must_be_positive(engine):
    with pytest.raises(QueryError, match="positive integer"):
        q.track_to_tracks(engine, "t001", k=0)


def test_search_tracks_by_title_artist_or_id(synthetic):
    catalog = synthetic["ws"].catalog
    assert q.search_tracks(catalog, "T007")["track_id"].iloc[0] == "t007"
    blue = q.search_tracks(catalog, "blue")
    assert len(blue) == 9 and all("Blue" in t for t in blue["title"])
    by_artist = q.search_tracks(catalog, "artist 3")
    assert set(by_artist["artist_id"]) == {"a3"} and len(by_artist) == 6
    assert q.search_tracks(catalog, "(unclosed").empty  # regex characters are literal
    assert len(q.search_tracks(catalog, "", limit=5)) == 5


def test_engine_arrays_are_read_only(engine):
    with pytest.raises(ValueError):
        engine.emb.tracks[0, 0] = 1.0
    assert isinstance(engine.emb, EmbeddingSet)


def _clip(seed: int, seconds: float = 1.0) -> bytes:
    return _wav_bytes(np.random.default_rng(seed).normal(scale=0.1, size=int(seconds * 22050)).astype(np.float32))


def test_an_upload_is_decoded_once_whatever_is_asked_of_it(clip_engine, decodes):
    engine, data = clip_engine, _clip(1)
    rankings = [q.weighted_subspace_search(engine, data, weights, k=8, filename="clip.wav").ids
                for weights in ({"genre": 1.0}, {"tempo": 1.0, "track": 0.5}, {"genre": 1.0})]
    tags = q.track_to_tags(engine, data, k=3, filename="clip.wav")
    plain = q.track_to_tracks(engine, data, k=8, filename="clip.wav")
    assert decodes == ["clip.wav"]
    assert rankings[0] == rankings[2] != rankings[1] and len(tags.hits) == 3
    from core.audio import decode_audio, log_mel

    fresh = engine.model.encode_track(log_mel(decode_audio(data, "clip.wav")))
    assert plain.ids == [engine.track_ids[i] for i in reference(engine.emb.tracks, fresh, 8)]


def test_an_unreadable_upload_is_remembered_too(clip_engine, decodes):
    for _ in range(3):
        with pytest.raises(QueryError, match="bad clip.ogg"):
            q.track_to_tracks(clip_engine, b"not audio" * 50, filename="bad clip.ogg")
    assert decodes == ["bad clip.ogg"]


def test_the_upload_cache_keeps_the_latest_uploads(clip_engine, decodes, monkeypatch):
    import core.engine.engine as engine_module

    monkeypatch.setattr(engine_module, "UPLOAD_CACHE_SIZE", 2)
    for name in ["a", "b", "c", "a", "c", "a"]:
        q.track_to_tracks(clip_engine, _clip(ord(name)), k=3, filename=name)
    assert decodes == ["a", "b", "c", "a"]  # "a" had been evicted by "c"; "c" and "a" were then both kept


def test_upload_errors_name_the_file_and_no_server_path(clip_engine):
    import tempfile

    nine_channels = _wav_bytes(np.zeros((1000, 9), dtype=np.float32))
    with pytest.raises(QueryError, match="my clip.wav has 9 channels; at most 8") as err:
        q.track_to_tracks(clip_engine, nine_channels, filename="my clip.wav")
    assert tempfile.gettempdir() not in str(err.value) and "8 channels" in err.value.hint
    with pytest.raises(QueryError, match="my clip.wav declares a sample rate of 4000 Hz"):
        q.track_to_tracks(clip_engine, _wav_bytes(np.zeros(4000, dtype=np.float32), sr=4000), filename="my clip.wav")


def test_uploads_are_cut_to_the_duration_bound(clip_engine, monkeypatch):
    from core.audio import frames_for_seconds
    from core.engine.engine import MAX_UPLOAD_SECONDS

    frames = []
    encode = clip_engine.model.encode_track
    monkeypatch.setattr(clip_engine.model, "encode_track", lambda mel: frames.append(mel.shape[1]) or encode(mel))
    long_clip = _wav_bytes(np.full(int((MAX_UPLOAD_SECONDS + 10) * 8000), 0.1, dtype=np.float32), sr=8000)
    q.track_to_tracks(clip_engine, long_clip, k=3, filename="long.wav")
    assert frames == [frames_for_seconds(MAX_UPLOAD_SECONDS)]


@pytest.mark.parametrize("text, message", [
    ("rock " * 17, "17 words; the limit is 16"),
    ("r" * 201, "201 characters long; the limit is 200"),
])
def test_query_text_limits_are_enforced_by_the_queries(engine, synthetic, text, message):
    with pytest.raises(QueryError, match=message):
        q.text_to_tracks(engine, text)
    with pytest.raises(QueryError, match=message):
        q.search_tracks(synthetic["ws"].catalog, text)
    with pytest.raises(QueryError, match="items; the limit is 16"):
        q.multi_query(engine, ["t001"] * 17)
    assert q.text_to_tracks(engine, "rock " * 16).hits  # at the limit: answered
