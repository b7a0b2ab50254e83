"""MWE audio-word model (core.models.mwe, core.training.mwe) and the zero-shot split."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from gensim.models import KeyedVectors

from core.errors import DataError, ParameterError, VocabularyError
from core.models.checkpoint import load_model, save_checkpoint
from core.models.mwe import MweModel
from core.training.config import MweTrainConfig
from core.training.mwe import build_run, load_data
from core.training.runner import train_model
from core.tag_split import create_tag_split, load_tag_split, split_tags
from core.training.samplers import SeenTagSampler
from core.words import WordVectors, load_word_vectors
from tests.fixtures.synthetic_workspace import WORD_DIM, make_workspace

TINY = {"width": 0.125, "dim": 16, "epochs": 2, "steps_per_epoch": 4, "batch_size": 8, "optimizer": "adam",
        "device": "cpu"}


def words_of_dim(dim: int) -> WordVectors:
    kv = KeyedVectors(dim)
    kv.add_vectors(["jazz", "calm", "piano"], np.random.default_rng(0).standard_normal((3, dim)).astype(np.float32))
    return WordVectors(kv, {"name": f"w{dim}"})


def test_cnn1d_follows_choi_et_al():
    model = MweModel({"word_dim": 300})
    assert model.dim == 100 and model.cfg.n_frames == 130
    convs = [m for m in model.audio.modules() if isinstance(m, torch.nn.Conv1d)]
    assert [(c.out_channels, c.kernel_size[0]) for c in convs] == [(128, 4), (128, 4), (128, 4), (128, 2), (100, 1)]
    out = model.encode_audio(torch.zeros(2, 128, 130))
    assert out.shape == (2, 100)
    mel = np.full((128, 400), 0.2262, dtype=np.float32)
    assert np.allclose(model.track_inputs(mel).numpy(), 0.0, atol=1e-6)  # normalised with Choi's mean
    assert model.track_inputs(mel).shape == (8, 128, 130)
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules())
    with_bn = MweModel({"word_dim": 300, "batch_norm": True})
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in with_bn.modules()) == 4


def test_short_chunk_option_and_bad_config():
    model = MweModel({"word_dim": 8, "encoder": "short_chunk", "width": 0.0625, "n_frames": 173, "dim": 12})
    assert model.encode_audio(torch.zeros(2, 128, 173)).shape == (2, 12)
    with pytest.raises(ParameterError, match="encoder"):
        MweModel({"word_dim": 8, "encoder": "transformer"})


def test_mismatched_word_dimensions_fail_clearly():
    model = MweModel({"word_dim": WORD_DIM, "word_embedding": "music-skipgram", "dim": 8})
    with pytest.raises(ParameterError, match=r"8-d vectors but this mwe model reads 16-d.*music-skipgram"):
        model.encode_terms(["jazz"], words_of_dim(8))
    with pytest.raises(ParameterError, match=r"\(n, 16\)"):
        model.encode_word_vectors(torch.zeros(2, 8))
    with pytest.raises(ParameterError, match="16-d"):
        model.encode_text("calm piano", words_of_dim(50))
    assert model.encode_terms(["jazz"], words_of_dim(WORD_DIM)).shape == (1, 8)


def test_text_side_zero_shot_and_free_text():
    words = words_of_dim(WORD_DIM)
    model = MweModel({"word_dim": WORD_DIM, "dim": 8, "n_tags": 1})
    model.vocab = {"tags": ["piano"]}
    model.tag_vectors.copy_(torch.as_tensor(words.lookup("piano").vector)[None])
    # a training tag needs no embedding; any other word goes through it
    assert torch.allclose(model.encode_terms(["piano"]), model.encode_terms(["piano"], words))
    with pytest.raises(VocabularyError, match="zero-shot"):
        model.encode_terms(["jazz"])
    unseen = model.encode_terms(["jazz"], words)
    assert torch.allclose(unseen, model.text(torch.as_tensor(words.lookup("jazz").vector))[None])
    # free text: the mean of the words' unit vectors, projected
    vector, lookup = model.encode_text("calm piano", words)
    mean = (words.unit("calm") + words.unit("piano")) / 2
    assert lookup.method == "mean" and lookup.used_words == ("calm", "piano")
    assert torch.allclose(vector, model.encode_word_vectors(torch.as_tensor(mean)[None])[0], atol=1e-6)
    with pytest.raises(VocabularyError):
        model.encode_text("zzz qqq", words)


def test_tag_split_per_category_is_seeded_and_stored(synthetic_ws):
    split = create_tag_split(synthetic_ws, seed=3, unseen_fraction=0.25)
    assert (synthetic_ws.catalog_dir / "tag_splits.json").exists()
    assert load_tag_split(synthetic_ws) == split
    for category, parts in split.categories.items():
        assert len(parts["unseen"]) >= 1 and len(parts["seen"]) >= 1, category
        assert set(parts["seen"]) | set(parts["unseen"]) == set(synthetic_ws.catalog.tags(category))
    assert split_tags({c: synthetic_ws.catalog.tags(c) for c in split.categories}, 3, 0.25) == split.categories
    assert split_tags({"genre": [f"g{i}" for i in range(10)]}, 0, 0.2)["genre"]["unseen"].__len__() == 2
    path = synthetic_ws.catalog_dir / "tag_splits.json"
    data = json.loads(path.read_text())
    data["categories"]["genre"]["seen"].append("disco")
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="does not match"):
        load_tag_split(synthetic_ws)


def test_unseen_tags_never_reach_training(synthetic_ws):
    split = create_tag_split(synthetic_ws, seed=0)
    config = MweTrainConfig.from_dict(TINY)
    data = load_data(synthetic_ws, config)
    unseen = set(split.unseen)
    assert unseen and not unseen & set(data.tags)
    run = build_run(data, config, synthetic_ws.models_dir / "x", "x")
    assert not unseen & set(run.model.vocab["tags"])
    sampler = SeenTagSampler(data.train_tags, data.tags, split.unseen)
    rows, cols = sampler.sample(2000, np.random.default_rng(0))
    assert {data.tags[c] for c in cols} <= set(split.seen)
    assert data.train_tags[rows, cols].all()  # every sampled tag is one of the track's own
    # the batches the loss sees: tag positives and negatives are columns of the seen-tag matrix
    for crops, targets in run.batches(np.random.default_rng(1)):
        pos, neg, ok = targets["tag"]
        assert max(pos.max(), neg.max()) < len(data.tags)
        assert not data.train_tags[np.asarray(targets["track"][0])[ok], neg[ok]].any()
        assert crops.shape == (8, 128, config.n_frames)
    with pytest.raises(ParameterError, match="unseen tags must not reach training"):
        SeenTagSampler(np.ones((2, 1), bool), [split.unseen[0]], split.unseen)


def test_variants_and_supervision_switches():
    assert MweTrainConfig().variant == "tag+artist+track, music-skipgram"
    assert MweTrainConfig.from_dict({"lambda_artist": 0}).variant == "tag+track, music-skipgram"
    assert MweTrainConfig.from_dict({"word_embedding": "glove-6b-50d", "rhythm": True}).variant == \
        "tag+artist+track, glove-6b-50d, rhythm"
    with pytest.raises(ParameterError, match="at least one"):
        MweTrainConfig.from_dict({"lambda_tag": 0, "lambda_artist": 0, "lambda_track": 0})


def test_learned_tables_when_the_embedding_lacks_ids(tmp_path):
    ws = make_workspace(tmp_path / "ws")
    kv = load_word_vectors(ws, "music-skipgram").kv
    from core.words import save_word_vectors

    keep = [w for w in kv.index_to_key if not w.startswith("t")]  # no track ids
    small = KeyedVectors(kv.vector_size)
    small.add_vectors(keep, np.stack([kv[w] for w in keep]))
    save_word_vectors(ws, small, "no-ids", label="no ids", domain="musical", source="test", format="test")
    data = load_data(ws, MweTrainConfig.from_dict({**TINY, "word_embedding": "no-ids"}))
    assert data.vocab_extra["prototypes"] == {"artist": "words", "track": "table"}
    run = build_run(data, MweTrainConfig.from_dict({**TINY, "word_embedding": "no-ids"}), tmp_path / "m", "m")
    assert run.model.track_table is not None and run.model.track_table.num_embeddings == 10
    assert run.model.artist_table is None


def test_training_and_checkpoint_round_trip(synthetic_ws):
    result = train_model(synthetic_ws, "mwe-test", "mwe", TINY)
    assert result["best"]["metric"] == "valid_seen_roc_auc"
    model = load_model(synthetic_ws, "mwe-test")
    assert isinstance(model, MweModel) and model.variant == "tag+artist+track, music-skipgram"
    split = load_tag_split(synthetic_ws)
    assert not set(split.unseen) & set(model.vocab["tags"])
    words = load_word_vectors(synthetic_ws, "music-skipgram")
    vectors = model.encode_terms(split.unseen, words)  # zero-shot: unseen tags through the embedding
    assert vectors.shape == (len(split.unseen), 16)
    # the saved weights give the same outputs as a model rebuilt by hand from them
    again = MweModel(model.config)
    again.load_state_dict(model.state_dict())
    again.vocab = model.vocab
    mel = np.random.default_rng(0).random((128, 300)).astype(np.float32)
    assert np.allclose(again.encode_track(mel), model.encode_track(mel), atol=1e-6)
    save_checkpoint(synthetic_ws.models_dir / "copy", model, {"train": {}, "best": None}, model.vocab)
    copy = load_model(synthetic_ws, "copy")
    assert np.allclose(copy.encode_track(mel), model.encode_track(mel), atol=1e-6)
    assert torch.allclose(copy.encode_terms(split.unseen, words), vectors)
