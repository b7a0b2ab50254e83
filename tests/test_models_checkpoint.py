"""Checkpoint round trip, the Lightning-layout loader and mismatched checkpoints."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import CheckpointError
from core.models.checkpoint import load_model, save_checkpoint
from core.models.lee import LeeModel
from core.models.won import WonModel


class FakeWorkspace:
    def __init__(self, root):
        self.root = root
        self.models_dir = root / "models"
        self.words_dir = root / "words"

    def model_names(self):
        return sorted(p.parent.name for p in self.models_dir.glob("*/config.json"))


def _won(n_tags=3, word_dim=6):
    torch.manual_seed(0)
    model = WonModel({"width": 0.0625, "word_dim": word_dim, "n_tags": n_tags, "word_embedding": "glove-6b-50d"})
    model.tag_vectors.copy_(torch.randn(n_tags, word_dim))
    model.vocab = {"tags": [f"t{i}" for i in range(n_tags)]}
    return model.eval()


def test_round_trip(tmp_path):
    ws = FakeWorkspace(tmp_path)
    model = _won()
    save_checkpoint(ws.models_dir / "m", model, {"train": {"lr": 1e-3}, "best": {"value": 0.5}}, model.vocab)
    config = json.loads((ws.models_dir / "m" / "config.json").read_text())
    assert config["family"] == "won" and config["model"]["dim"] == 256 and config["word_embedding"] == "glove-6b-50d"
    loaded = load_model(ws, "m")
    assert loaded.name == "m" and loaded.text_vocabulary() == ["t0", "t1", "t2"] and not loaded.training
    mel = np.random.default_rng(0).random((128, 300)).astype(np.float32)
    assert np.allclose(loaded.encode_track(mel), model.encode_track(mel), atol=1e-5)
    assert torch.allclose(loaded.encode_terms(["t1"]), model.encode_terms(["t1"]))
    state = torch.load(ws.models_dir / "m" / "model.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_lee_round_trip(tmp_path):
    ws = FakeWorkspace(tmp_path)
    model = LeeModel({"width": 0.0625}).eval()
    save_checkpoint(ws.models_dir / "lee", model, {"train": {}}, {})
    loaded = load_model(ws, "lee")
    x = torch.randn(2, 128, 129)
    assert torch.allclose(loaded.encode_audio(x), model.encode_audio(x), atol=1e-6)
    assert loaded.subspaces() == model.subspaces()


def test_wrong_shapes_fail_clearly(tmp_path):
    ws = FakeWorkspace(tmp_path)
    model = _won()
    save_checkpoint(ws.models_dir / "m", model, {"train": {}}, model.vocab)
    config_path = ws.models_dir / "m" / "config.json"
    config = json.loads(config_path.read_text())
    config["model"]["width"] = 0.125
    config_path.write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="wrong shapes"):
        load_model(ws, "m")


def test_wrong_vocabulary_fails_clearly(tmp_path):
    ws = FakeWorkspace(tmp_path)
    model = _won()
    save_checkpoint(ws.models_dir / "m", model, {"train": {}}, model.vocab)
    (ws.models_dir / "m" / "vocab.json").write_text(json.dumps({"tags": ["a", "b", "c", "d"]}))
    with pytest.raises(CheckpointError, match="vocab"):
        load_model(ws, "m")


def test_wrong_word_embedding_dim_fails_clearly(tmp_path):
    ws = FakeWorkspace(tmp_path)
    model = _won(word_dim=6)
    save_checkpoint(ws.models_dir / "m", model, {"train": {}}, model.vocab)
    ws.words_dir.mkdir()
    (ws.words_dir / "glove-6b-50d.json").write_text(json.dumps({"dim": 50}))
    with pytest.raises(CheckpointError, match="50 dims"):
        load_model(ws, "m")


def test_missing_and_corrupt_checkpoints(tmp_path):
    ws = FakeWorkspace(tmp_path)
    with pytest.raises(CheckpointError, match="no trained model"):
        load_model(ws, "absent")
    with pytest.raises(CheckpointError):
        load_model(ws, "../outside")
    model = _won()
    save_checkpoint(ws.models_dir / "m", model, {"train": {}}, model.vocab)
    (ws.models_dir / "m" / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="weights-only"):
        load_model(ws, "m")


def test_pickled_objects_are_refused(tmp_path):
    ws = FakeWorkspace(tmp_path)
    model = _won()
    save_checkpoint(ws.models_dir / "m", model, {"train": {}}, model.vocab)
    torch.save({"weights": model.state_dict(), "object": FakeWorkspace(tmp_path)}, ws.models_dir / "m" / "model.pt")
    with pytest.raises(CheckpointError):
        load_model(ws, "m")


def test_lightning_layout_loader(tmp_path):
    source = _won(n_tags=2, word_dim=6)
    # the authors' layout: a Lightning checkpoint with the module's weights under "model."
    state = {f"model.{k}": v for k, v in source.state_dict().items() if k != "tag_vectors"}
    path = tmp_path / "best.ckpt"
    torch.save({"epoch": 3, "global_step": 100, "state_dict": state}, path)
    loaded = WonModel.from_lightning(path, {"width": 0.0625}, ["t0", "t1"], source.tag_vectors.numpy())
    mel = np.random.default_rng(1).random((128, 300)).astype(np.float32)
    assert np.allclose(loaded.encode_track(mel), source.encode_track(mel), atol=1e-5)
    assert torch.allclose(loaded.encode_terms(["t1"]), source.encode_terms(["t1"]), atol=1e-6)

    with pytest.raises(CheckpointError, match="wrong shapes"):
        WonModel.from_lightning(path, {"width": 0.125}, ["t0", "t1"], source.tag_vectors.numpy())
    torch.save({"state": state}, tmp_path / "plain.ckpt")
    with pytest.raises(CheckpointError, match="not a Lightning checkpoint"):
        WonModel.from_lightning(tmp_path / "plain.ckpt", {"width": 0.0625}, ["t0", "t1"], source.tag_vectors.numpy())
