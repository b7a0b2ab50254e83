"""Won, Lee and MFCC-VQ models: shapes, subspaces/masks, text side."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ParameterError, VocabularyError
from core.models.lee import DIMENSIONS, LeeModel
from core.models.mfcc_vq import MfccVqModel
from core.models.won import WonModel, db_from_log1p10
from core.training.triplet_losses import masked_distance


def _mel(frames: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((128, frames)).astype(np.float32)


def test_won_acoustic_shapes_and_crops():
    model = WonModel({"width": 0.0625, "word_dim": 8, "n_tags": 2}).eval()
    inputs = model.track_inputs(_mel(400))
    assert tuple(inputs.shape) == (8, 128, 173)
    assert tuple(model.encode_audio(inputs).shape) == (8, 256)
    track = model.encode_track(_mel(400))
    assert track.shape == (256,) and np.isclose(np.linalg.norm(track), 1.0, atol=1e-5)
    assert model.subspaces() == {"all": slice(0, 256)}


def test_won_paper_width_channels():
    model = WonModel({"word_dim": 300})
    assert [getattr(model, f"layer{i}").conv.out_channels for i in range(1, 8)] == [128, 128, 256, 256, 256, 256, 512]
    assert model.layer8.conv.out_channels == 256 and model.fc1.in_features == 300


def test_won_cultural_and_hybrid_branches():
    cf = torch.randn(4, 200)
    cultural = WonModel({"branch": "cultural", "word_dim": 8}).eval()
    assert tuple(cultural.song_to_embedding(cf=cf).shape) == (4, 256)
    with pytest.raises(ParameterError, match="cf"):
        cultural.song_to_embedding(spec=torch.randn(4, 128, 173))
    hybrid = WonModel({"branch": "hybrid", "word_dim": 8, "width": 0.0625}).eval()
    assert hybrid.layer8.conv.out_channels == 200 and hybrid.cat_fc1.in_features == 400
    assert tuple(hybrid.song_to_embedding(spec=torch.randn(4, 128, 173), cf=cf).shape) == (4, 256)
    with pytest.raises(ParameterError):
        hybrid.encode_audio(torch.randn(4, 128, 173))


def test_won_terms_and_zero_shot():
    model = WonModel({"width": 0.0625, "word_dim": 4, "n_tags": 2, "word_embedding": "w"}).eval()
    model.tag_vectors.copy_(torch.eye(4)[:2])
    model.vocab = {"tags": ["rock", "jazz"]}
    assert model.text_vocabulary() == ["rock", "jazz"]
    out = model.encode_terms(["jazz", "rock"])
    assert torch.allclose(out, model.encode_word_vectors(torch.eye(4)[[1, 0]]))
    with pytest.raises(VocabularyError, match="blues"):
        model.encode_terms(["blues"])

    class Words:
        dim = 4

        def lookup(self, term):
            return type("L", (), {"vector": np.array([0, 0, 1, 0], np.float32)})()

    assert torch.allclose(model.encode_terms(["blues"], Words())[0], model.encode_word_vectors(torch.eye(4)[[2]])[0])
    Words.dim = 5
    with pytest.raises(ParameterError, match="dims"):
        model.encode_terms(["blues"], Words())


def test_db_conversion_matches_power_to_db():
    power = np.array([[1e-6, 1e-2, 1.0, 10.0]])
    db = db_from_log1p10(np.log10(1 + 10 * power))
    assert np.allclose(db, np.maximum(10 * np.log10(power), 10 * np.log10(10.0) - 80), atol=1e-3)


def test_lee_shapes_windows_and_norm():
    model = LeeModel({"width": 0.0625}).eval()
    inputs = model.track_inputs(_mel(129 * 3 + 20))
    assert tuple(inputs.shape) == (3, 128, 129)
    assert torch.allclose(inputs[0], torch.as_tensor((_mel(129 * 3 + 20)[:, :129] - 0.2) / 0.25))
    emb = model.encode_audio(inputs)
    assert tuple(emb.shape) == (3, 256)
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)


def test_lee_subspaces_and_masks():
    model = LeeModel({"width": 0.0625})
    spaces = model.subspaces()
    assert list(spaces) == list(DIMENSIONS)
    assert [(s.start, s.stop) for s in spaces.values()] == [(0, 64), (64, 128), (128, 192), (192, 256)]
    masks = model.masks(torch.arange(4))
    assert torch.equal(masks.sum(dim=1), torch.full((4,), 64.0)) and torch.equal(masks.sum(dim=0), torch.ones(256))
    category = LeeModel({"width": 0.0625, "masks": False, "variant": "category"})
    assert category.subspaces() == {"all": slice(0, 256)}
    assert torch.equal(category.masks(torch.arange(4)), torch.ones(4, 256))


def test_subspace_distance_ignores_other_dimensions():
    model = LeeModel({"width": 0.0625})
    x, y = torch.rand(1, 256), torch.rand(1, 256)
    tempo = model.masks(torch.tensor([3]))
    before = masked_distance(x, y, tempo)
    y2 = y.clone()
    y2[:, :192] += 5.0  # change genre, mood and instrument only
    assert torch.allclose(masked_distance(x, y2, tempo), before)
    assert not torch.allclose(masked_distance(x, y2, model.masks(torch.tensor([0]))), masked_distance(x, y, model.masks(torch.tensor([0]))))


def test_mfcc_vq_histogram():
    model = MfccVqModel({"dim": 4})
    model.set_codebook(np.eye(4, 39, dtype=np.float32) * 3, np.zeros(39), np.ones(39))
    frames = torch.zeros(1, 6, 39)
    frames[0, :4, 0] = 3.0  # four frames on codeword 0
    frames[0, 4:, 1] = 3.0  # two frames on codeword 1
    hist = model.encode_audio(frames)
    expected = torch.tensor([[4.0, 2.0, 0.0, 0.0]])
    assert torch.allclose(hist, expected / expected.norm())
    inputs = model.track_inputs(np.abs(_mel(50)))
    assert tuple(inputs.shape) == (1, 50, 39)
    assert "codebook" in model.state_dict() and model.subspaces() == {"all": slice(0, 4)}


def test_lee_specialised_is_one_network_per_dimension():
    """Lee et al.'s baseline: four networks, each its own unit-length subspace; one model, four named subspaces."""
    from core.training.triplet_losses import masked_triplet_loss

    torch.manual_seed(0)
    model = LeeModel({"width": 0.0625, "specialised": True, "variant": "specialised"})
    assert list(model.subspaces()) == list(DIMENSIONS) and len(model.networks) == 4
    assert all(net.head.out_channels == 64 for net in model.networks)
    x = torch.randn(6, 128, 129)
    emb = model.eval().encode_audio(x)
    assert emb.shape == (6, 256)
    for sl in model.subspaces().values():
        assert torch.allclose(emb[:, sl].norm(dim=1), torch.ones(6), atol=1e-5)
    # a triplet loss masked to one dimension reaches that dimension's network only
    model.train()
    emb = model.encode_audio(x)
    loss = masked_triplet_loss(emb[:2], emb[2:4], emb[4:], model.masks(torch.tensor([2, 2])), margin=1.0)
    loss.backward()
    touched = [any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters()) for net in model.networks]
    assert touched == [False, False, True, False]
    with pytest.raises(ParameterError, match="masks"):
        LeeModel({"width": 0.0625, "specialised": True, "masks": False})


def test_lee_specialised_checkpoint_round_trip(tmp_path):
    from core.models.checkpoint import load_model, save_checkpoint

    class Ws:
        models_dir = tmp_path / "models"
        words_dir = tmp_path / "words"

    model = LeeModel({"width": 0.0625, "specialised": True, "rhythm": True}).eval()
    save_checkpoint(Ws.models_dir / "s", model, {"train": {}}, {})
    loaded = load_model(Ws, "s")
    mel = _mel(129 * 2)
    assert loaded.subspaces() == model.subspaces()
    assert np.allclose(loaded.encode_track(mel), model.encode_track(mel), atol=1e-6)
