"""Muslse (core.models.muslse, core.training.muslse): scores, norms, ensembles, training, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.errors import ParameterError, VocabularyError
from core.models.checkpoint import load_model, save_checkpoint
from core.models.muslse import MuslseModel, ensemble
from core.evaluation.metrics import precision_at_k
from core.training.config import MuslseTrainConfig
from core.training.runner import train_model

K = 16


def make_model(seed: int, members: int = 1, dim: int = 8) -> MuslseModel:
    torch.manual_seed(seed)
    model = MuslseModel({"n_tags": 4, "n_artists": 3, "n_features": K, "dim": dim, "members": members})
    rng = np.random.default_rng(0)  # the same codebook for every model
    model.set_codebook(rng.standard_normal((K, 39)), np.zeros(39), np.ones(39))
    model.vocab = {"tags": ["jazz", "rock", "folk", "slow"], "artists": ["a0", "a1", "a2"]}
    return model


def bags(n: int = 3) -> torch.Tensor:
    return torch.as_tensor(np.random.default_rng(1).standard_normal((n, 50, 39)), dtype=torch.float32)


def test_scores_are_inner_products_of_the_linear_song_map():
    model = make_model(0)
    x = bags()
    hist = model.features(x)
    assert torch.allclose(hist.norm(dim=1), torch.ones(3))
    song = model.encode_audio(x)
    assert torch.allclose(song, hist @ model.song[0], atol=1e-6)  # Phi(s) = V s
    assert not model.normalized and model.family == "muslse"


def test_norm_projection_bounds_every_row_and_keeps_short_rows():
    model = make_model(0, members=2)
    with torch.no_grad():
        model.tags.mul_(10)
        model.artists[:, 0].mul_(1e-3)
    short = model.artists[:, 0].clone()
    model.project_norms()
    for table in (model.tags, model.artists, model.song):
        assert table.norm(dim=-1).max().item() <= model.cfg.max_norm + 1e-5
    assert torch.allclose(model.tags.norm(dim=-1), torch.ones(2, 4))  # long rows land on the sphere
    assert torch.equal(model.artists[:, 0], short)


def test_ensemble_scores_are_the_sum_of_member_scores():
    a, b = make_model(1), make_model(2)
    both = ensemble([a, b])
    assert both.dim == 16 and both.cfg.members == 2
    x = bags()
    for table in ("tag_vectors", "artist_vectors"):
        summed = sum(m.encode_audio(x) @ getattr(m, table)().T for m in (a, b))
        assert torch.allclose(both.encode_audio(x) @ getattr(both, table)().T, summed, atol=1e-5)
    terms = ["rock", "artist:a2"]
    expected = sum(m.encode_audio(x) @ m.encode_terms(terms).T for m in (a, b))
    assert torch.allclose(both.encode_audio(x) @ both.encode_terms(terms).T, expected, atol=1e-5)
    other = make_model(3)
    other.vocab = {"tags": ["x"], "artists": []}
    with pytest.raises(ParameterError, match="vocabulary"):
        ensemble([a, other])
    with pytest.raises(ParameterError, match="at least two"):
        ensemble([a])


def test_text_side_knows_only_training_tags_and_artists():
    model = make_model(0)
    assert model.text_vocabulary() == ["jazz", "rock", "folk", "slow", "artist:a0", "artist:a1", "artist:a2"]
    vectors = model.encode_terms(["folk", "artist:a1"], words=object())  # words are ignored
    assert torch.equal(vectors[0], model.tag_vectors()[2]) and torch.equal(vectors[1], model.artist_vectors()[1])
    with pytest.raises(VocabularyError, match="disco"):
        model.encode_terms(["rock", "disco"])
    with pytest.raises(VocabularyError):
        model.encode_terms(["a1"])  # artists need their marker


def test_a_trained_cnn_can_be_the_frozen_input(synthetic_ws):
    from core.models.mwe import MweModel

    torch.manual_seed(0)
    cnn = MweModel({"word_dim": 16, "dim": 12, "width": 0.125})
    cnn.vocab = {"tags": []}
    save_checkpoint(synthetic_ws.models_dir / "cnn", cnn, {"train": {}, "best": None}, cnn.vocab)
    overrides = {"input_model": "cnn", "dim": 8, "epochs": 1, "steps_per_epoch": 4, "batch_size": 8,
                 "device": "cpu"}
    train_model(synthetic_ws, "muslse-cnn", "muslse", overrides)
    model = load_model(synthetic_ws, "muslse-cnn")
    assert model.cfg.frontend == "mwe" and model.cfg.n_features == 12
    assert not any(p.requires_grad for p in model.frontend.parameters())
    mel = np.random.default_rng(0).random((128, 400)).astype(np.float32)
    crops = model.track_inputs(mel)
    assert crops.shape == (8, 128, 130) and model.input_frames == 130  # the frozen CNN's crops
    expected = torch.nn.functional.normalize(cnn.encode_audio(crops), dim=1).mean(dim=0) @ model.song[0]
    assert np.allclose(model.encode_track(mel), expected.detach().numpy(), atol=1e-5)
    with pytest.raises(ParameterError, match="not a codebook"):
        model.set_codebook(np.zeros((12, 39)), np.zeros(39), np.ones(39))


def test_precision_at_k_as_the_trainer_validates():
    """Muslse selects checkpoints by tag P@3 per song: the checked metric, by clip."""
    labels = np.array([[1, 0, 0, 1], [0, 0, 0, 0], [0, 1, 0, 0]], dtype=bool)
    scores = np.array([[0.9, 0.8, 0.1, 0.7], [1, 2, 3, 4], [0.1, 0.2, 0.3, 0.4]])
    # row 0: top-3 {0, 1, 3} holds 2 positives; row 1 has none (skipped); row 2: top-3 {3, 2, 1} holds 1
    assert float(precision_at_k(labels, scores, 3, by="clip")) == pytest.approx((2 / 3 + 1 / 3) / 2)


def test_config_validation_and_variant():
    assert MuslseTrainConfig.from_dict({"loss": "auc"}).variant == "auc, tag+artist+similar"
    assert MuslseTrainConfig.from_dict({"tasks": "tag", "members": 3, "dim": 300}).variant == "warp, tag, 3 members"
    with pytest.raises(ParameterError, match="tasks"):
        MuslseTrainConfig.from_dict({"tasks": "tag+lyrics"})
    with pytest.raises(ParameterError, match="multiple"):
        MuslseTrainConfig.from_dict({"dim": 10, "members": 3})
    with pytest.raises(ParameterError, match="loss"):
        MuslseTrainConfig.from_dict({"loss": "hinge"})


def test_checkpoint_round_trip(tmp_path):
    from core.workspace import Workspace

    ws = Workspace.create(tmp_path / "ws", name="t")
    model = make_model(4, members=2)
    save_checkpoint(ws.models_dir / "m", model, {"train": {}, "best": None}, model.vocab)
    loaded = load_model(ws, "m")
    mel = np.random.default_rng(2).random((128, 300)).astype(np.float32)
    assert isinstance(loaded, MuslseModel) and loaded.vocab == model.vocab
    assert np.allclose(loaded.encode_track(mel), model.encode_track(mel), atol=1e-6)
    assert torch.equal(loaded.encode_terms(["jazz"]), model.encode_terms(["jazz"]))


@pytest.mark.parametrize("loss", ["warp", "auc"])
def test_training_through_the_runner(synthetic_ws, loss):
    overrides = {"loss": loss, "n_codes": 16, "frames_per_track": 60, "dim": 8, "members": 2, "epochs": 2,
                 "steps_per_epoch": 8, "batch_size": 8, "device": "cpu"}
    result = train_model(synthetic_ws, f"muslse-{loss}", "muslse", overrides)
    assert result["best"]["metric"] == "valid_p_at_3" and 0 <= result["best"]["value"] <= 1
    model = load_model(synthetic_ws, f"muslse-{loss}")
    assert model.variant == f"{loss}, tag+artist+similar, 2 members" and model.dim == 8
    assert model.tags.norm(dim=-1).max().item() <= 1.0 + 1e-5  # projected after the last step
    assert set(model.vocab["artists"]) == {"a0", "a1", "a2", "a3"}
    vectors = model.encode_terms(model.text_vocabulary())
    assert vectors.shape == (len(model.vocab["tags"]) + 4, 8)
