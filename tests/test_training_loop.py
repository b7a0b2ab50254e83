"""Training on learnable synthetic problems: the loss falls, checkpoints are kept, runs resume exactly."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import CheckpointError, ParameterError
from core.training import lee as lee_training, won as won_training
from core.training.runner import fit_data
from core.training.config import LeeTrainConfig, WonTrainConfig
from core.training.loop import STATE_FILE, train


def _tag_data(n_train=48, n_valid=12, frames=200, seed=0):
    """Three tags, each lighting one band of the mel: a song's tag is visible in its spectrum.

    Drawn in dB (-40 dB noise, +25 dB bands) and stored as the cached ``log1p10`` scale.
    """
    rng = np.random.default_rng(seed)

    def split(n):
        tags = np.arange(n) % 3
        mels = []
        for t in tags:
            spec = rng.normal(-40, 3, (128, frames)).astype(np.float32)
            spec[20 + 35 * t:40 + 35 * t] += 25
            mels.append(np.log10(1 + 10 * 10 ** (spec / 10)).astype(np.float32))
        return mels, np.eye(3, dtype=bool)[tags]

    train_mels, train_matrix = split(n_train)
    valid_mels, valid_matrix = split(n_valid)
    return won_training.TagData(tags=["low", "mid", "high"], tag_vectors=rng.normal(size=(3, 8)).astype(np.float32),
                               train_mels=train_mels, train_matrix=train_matrix,
                               valid_mels=valid_mels, valid_matrix=valid_matrix)


WON_FAST = dict(width=0.0625, batch_size=16, steps_per_epoch=6, epochs=3, lr=3e-3, patience=10, device="cpu", threads=1)


def test_won_learns_synthetic_tags(tmp_path):
    result = fit_data(_tag_data(), WonTrainConfig(**WON_FAST), tmp_path / "won", "won")
    losses = [h["loss"] for h in result["history"]]
    assert losses[-1] < losses[0]
    assert result["best"]["value"] > 0.7  # chance is about 0.33 macro PR-AUC
    config = json.loads((tmp_path / "won" / "config.json").read_text())
    assert config["variant"] == "acoustic-balanced, glove-6b-50d" and config["best"]["metric"] == "valid_pr_auc"
    assert not (tmp_path / "won" / STATE_FILE).exists()


@pytest.mark.parametrize("negatives", ["cosine-weighted", "distance-weighted"])
def test_won_weighted_negatives_train(tmp_path, negatives):
    config = WonTrainConfig(**{**WON_FAST, "epochs": 1, "sampler": "random", "negatives": negatives})
    result = fit_data(_tag_data(), config, tmp_path / "w", "w")
    assert np.isfinite(result["history"][0]["loss"])
    assert json.loads((tmp_path / "w" / "config.json").read_text())["variant"].startswith("acoustic-random-")


def test_won_hybrid_branch_trains(tmp_path):
    data = _tag_data(n_train=24, n_valid=6)
    rng = np.random.default_rng(1)
    data.train_cf = rng.normal(size=(24, 200)).astype(np.float32)
    data.valid_cf = rng.normal(size=(6, 200)).astype(np.float32)
    config = WonTrainConfig(**{**WON_FAST, "epochs": 1, "steps_per_epoch": 3, "branch": "hybrid"})
    result = fit_data(data, config, tmp_path / "h", "h")
    assert np.isfinite(result["history"][0]["loss"])


def _interrupt_at_validation(run, n: int):
    """Make the ``n``-th validation raise KeyboardInterrupt (an interrupted run)."""
    validate, calls = run.validate, {"n": 0}

    def interrupted(model, device):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return validate(model, device)

    run.validate = interrupted
    with pytest.raises(KeyboardInterrupt):
        train(run)


def test_resume_matches_uninterrupted_run(tmp_path):
    data, config = _tag_data(), WonTrainConfig(**{**WON_FAST, "epochs": 3, "steps_per_epoch": 4})
    straight = fit_data(data, config, tmp_path / "a", "a")
    _interrupt_at_validation(won_training.build_run(data, config, tmp_path / "b", "b"), 2)
    assert (tmp_path / "b" / STATE_FILE).exists()  # one epoch done, resumable
    resumed = fit_data(data, config, tmp_path / "b", "b", resume=True)
    assert [h["loss"] for h in resumed["history"]] == pytest.approx([h["loss"] for h in straight["history"]], rel=1e-5)
    a = torch.load(tmp_path / "a" / "model.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "model.pt", weights_only=True)
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)


def test_resume_refuses_a_different_config(tmp_path):
    data, config = _tag_data(), WonTrainConfig(**{**WON_FAST, "epochs": 2, "steps_per_epoch": 2})
    _interrupt_at_validation(won_training.build_run(data, config, tmp_path / "c", "c"), 2)
    with pytest.raises(CheckpointError, match="lr"):
        fit_data(data, config.replace(lr=1e-2), tmp_path / "c", "c", resume=True)


def test_early_stopping(tmp_path):
    config = WonTrainConfig(**{**WON_FAST, "epochs": 10, "steps_per_epoch": 1, "patience": 2})
    run = won_training.build_run(_tag_data(), config, tmp_path / "e", "e")
    run.validate = lambda model, device: 0.5  # never improves after the first epoch
    result = train(run)
    assert result["stopped_early"] and result["epochs"] == 3 and result["best"]["epoch"] == 1


def test_config_rejects_unknown_and_bad_values():
    with pytest.raises(ParameterError, match="unknown"):
        WonTrainConfig.from_dict({"sampler": "balanced", "lerning_rate": 1})
    with pytest.raises(ParameterError, match="negatives"):
        WonTrainConfig.from_dict({"negatives": "weighted"})
    with pytest.raises(ParameterError):
        LeeTrainConfig.from_dict({"max_overlap": 1.5})
    assert LeeTrainConfig.from_dict({"masks": False}).variant == "category"


def _similarity_data(n_train=20, n_valid=12, frames=260, seed=0):
    """Genre lights a band; tempo is the period of a pulse across all bands."""
    rng = np.random.default_rng(seed)

    def split(n):
        genres = np.arange(n) % 2
        bpm = np.where(np.arange(n) % 4 < 2, 90.0, 150.0)
        mels = []
        for g, b in zip(genres, bpm):
            mel = rng.random((128, frames)).astype(np.float32) * 0.2
            mel[10 + 60 * g:40 + 60 * g] += 0.6
            period = int(round(22050 / 512 * 60 / b))
            mel[:, ::period] += 0.8
            mels.append(mel)
        labels = {"genre": [{"a", "b"}.difference({"b" if g == 0 else "a"}) for g in genres],
                  "mood": [set()] * n, "instrument": [set()] * n}
        return mels, labels, bpm

    tm, tl, tb = split(n_train)
    vm, vl, vb = split(n_valid)
    return lee_training.SimilarityData(tm, tl, tb, vm, vl, vb)


@pytest.mark.parametrize("variant", [{"masks": True, "track_reg": True}, {"masks": False}])
def test_lee_learns_synthetic_similarity(tmp_path, variant):
    config = LeeTrainConfig(width=0.0625, batch_size=12, steps_per_epoch=6, epochs=3, lr=3e-3, valid_triplets=60,
                       device="cpu", threads=1, **variant)
    result = fit_data(_similarity_data(), config, tmp_path / "lee", "lee")
    losses = [h["loss"] for h in result["history"]]
    assert losses[-1] < losses[0]
    assert result["best"]["value"] > 0.5
    saved = json.loads((tmp_path / "lee" / "config.json").read_text())
    assert saved["family"] == "lee" and saved["variant"] == config.variant


def test_lee_specialised_networks_learn_only_from_their_dimension(tmp_path):
    """The specialised baseline trains on the category triplets: with genre the only labelled dimension
    (no tempo, no mood or instrument tags) only the genre network moves."""
    import dataclasses

    data = _similarity_data()
    data = dataclasses.replace(data, train_bpm=np.full_like(data.train_bpm, np.nan),
                               valid_bpm=np.full_like(data.valid_bpm, np.nan))
    config = LeeTrainConfig.from_dict({"width": 0.0625, "batch_size": 12, "steps_per_epoch": 3, "epochs": 1,
                                  "lr": 3e-3, "valid_triplets": 30, "device": "cpu", "threads": 1,
                                  "specialised": True, "triplets": "batch"})
    run = lee_training.build_run(data, config, tmp_path / "s", "s")
    before = [{k: v.detach().clone() for k, v in net.named_parameters()} for net in run.model.networks]
    result = train(run)
    # learned weights only (BatchNorm running statistics follow every forward pass)
    moved = [any(not torch.equal(v, dict(net.named_parameters())[k]) for k, v in old.items())
             for old, net in zip(before, run.model.networks)]
    assert moved == [True, False, False, False]
    assert result["best"]["value"] is not None
    saved = json.loads((tmp_path / "s" / "config.json").read_text())
    assert saved["variant"] == "specialised" and saved["model"]["specialised"] is True
    with pytest.raises(ParameterError, match="track_reg"):
        LeeTrainConfig.from_dict({"specialised": True, "track_reg": True})


def test_unvalidatable_run_keeps_latest_weights(tmp_path):
    config = WonTrainConfig(**{**WON_FAST, "epochs": 3, "steps_per_epoch": 1, "patience": 1})
    run = won_training.build_run(_tag_data(), config, tmp_path / "n", "n")
    run.validate = lambda model, device: float("nan")
    result = train(run)
    assert not result["stopped_early"] and result["epochs"] == 3
    saved = json.loads((tmp_path / "n" / "config.json").read_text())
    assert saved["best"]["value"] is None and saved["best"]["epoch"] == 3  # the latest epoch


def test_demo_presets_resolve_to_valid_configs():
    from core.training.config import MfccVqTrainConfig
    from core.training.demo import DEMO_MODELS
    from core.training.presets import resolve
    from core.families import FAMILIES

    classes = {"won": WonTrainConfig, "lee": LeeTrainConfig, "mfcc_vq": MfccVqTrainConfig}
    variants = set()
    for name in DEMO_MODELS:
        for size in ("tiny", "default", "paper"):
            family, overrides = resolve(name, size)
            assert family in FAMILIES
            if family in classes:
                config = classes[family].from_dict(overrides)
                variants.add((family, config.variant, getattr(config, "word_embedding", None)))
    assert {("won", "acoustic-random, glove-6b-50d", "glove-6b-50d"),
            ("won", "acoustic-balanced, glove-6b-50d", "glove-6b-50d"),
            ("won", "acoustic-balanced-weighted, glove-6b-50d", "glove-6b-50d"),
            ("won", "acoustic-balanced-weighted, music-skipgram", "music-skipgram"),
            ("won", "acoustic-balanced-weighted, glove-6b-50d, rhythm", "glove-6b-50d"),
            ("lee", "disentangled", None), ("lee", "disentangled-trackreg", None), ("lee", "category", None),
            ("lee", "specialised", None), ("lee", "disentangled, rhythm", None)} <= variants
    assert resolve("won-random", "paper")[1] == {"sampler": "random"}  # paper size: the config defaults
    # the papers' networks under the papers' names at every size; the rhythm branch (not in the
    # papers) only in the presets named for it, at every size
    for size in ("tiny", "default", "paper"):
        for name in ("won-random", "won-balanced-weighted", "lee-disentangled", "lee-specialised",
                     "mwe-tag+artist+track"):
            assert "rhythm" not in resolve(name, size)[1]
        for name in ("won-balanced-weighted", "lee-disentangled", "mwe-tag+artist+track"):
            assert f"{name}-rhythm" in DEMO_MODELS and name in DEMO_MODELS
            # the same budget and settings, plus the branch
            assert resolve(f"{name}-rhythm", size)[1] == {**resolve(name, size)[1], "rhythm": True}


def test_every_preset_variant_is_unique_and_names_what_differs():
    from core.training.config import MfccVqTrainConfig, MuslseTrainConfig, MweTrainConfig
    from core.training.presets import PRESETS, SIZES, resolve

    classes = {"won": WonTrainConfig, "lee": LeeTrainConfig, "mfcc_vq": MfccVqTrainConfig, "muslse": MuslseTrainConfig,
               "mwe": MweTrainConfig}
    for size in SIZES:
        variants = {}
        for name in PRESETS:
            family, overrides = resolve(name, size)
            variants[name] = classes[family].from_dict(overrides).variant
        assert len(set(variants.values())) == len(variants), (size, variants)
    default = {name: classes[resolve(name, "default")[0]].from_dict(resolve(name, "default")[1]).variant
               for name in PRESETS}
    # the two presets that differed only in their word embedding now say which one they use
    assert "glove-6b-50d" in default["won-balanced-weighted"] and "music-skipgram" in default[
        "won-balanced-weighted-musical"]
    assert "glove-6b-50d" in default["mwe-tag+artist+track-glove"] and "music-skipgram" in default[
        "mwe-tag+artist+track"]
    assert default["muslse-warp"] != default["muslse-warp-multitask"] != default["muslse-warp-ensemble"]


def test_non_preset_models_get_their_family_budget():
    from core.training.presets import SIZE_OVERRIDES, family_budget

    assert family_budget("lee", "paper") == {}
    assert family_budget("lee", "default") == SIZE_OVERRIDES["lee"]["default"]
    assert family_budget("lee", "default")["width"] < 1.0  # not the paper's full network
    with pytest.raises(ParameterError, match="unknown size"):
        family_budget("lee", "huge")
