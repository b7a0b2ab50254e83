"""Budget knobs of the training loop and trainers: cosine schedule, sparse validation,
numeric-tag exclusion (Won), in-batch ("batch-all") triplets (Lee)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from core.errors import ParameterError
from core.training import lee as lee_training, won as won_training
from core.training.runner import fit_data
from core.training.config import LeeTrainConfig, WonTrainConfig
from core.training.loop import cosine_factor

from .test_training_loop import WON_FAST, _similarity_data, _tag_data


def test_cosine_factor_warms_up_then_decays_to_the_floor():
    values = [cosine_factor(s, 100, 10, 0.05) for s in range(101)]
    assert values[0] == pytest.approx(0.1) and values[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in zip(values[10:], values[11:]))
    assert values[100] == pytest.approx(0.05)


def test_cosine_schedule_and_sparse_validation(tmp_path):
    config = WonTrainConfig(**{**WON_FAST, "epochs": 4, "steps_per_epoch": 3, "lr_schedule": "cosine",
                          "warmup_steps": 2, "validate_every": 3})
    result = fit_data(_tag_data(), config, tmp_path / "c", "c")
    validated = [h["epoch"] for h in result["history"] if "valid_pr_auc" in h]
    assert validated == [3, 4]  # every 3rd epoch and the last one
    lrs = [h["lr"] for h in result["history"]]
    assert lrs[-1] < lrs[0] < config.lr
    assert result["best"]["epoch"] in (3, 4)
    with pytest.raises(ParameterError):
        WonTrainConfig.from_dict({"validate_every": 0})


@pytest.mark.parametrize("tag, numeric", [("105 bpm", True), ("120", True), ("4/4", True),
                                          ("80s", False), ("fast", False), ("slow", False), ("hip hop", False)])
def test_numeric_tags(tag, numeric):
    assert won_training.is_numeric_tag(tag) is numeric


def test_lee_batch_triplets_learn_and_respect_rules(tmp_path):
    data = _similarity_data()
    config = LeeTrainConfig(width=0.0625, batch_size=16, steps_per_epoch=6, epochs=3, lr=3e-3, valid_triplets=60,
                       device="cpu", threads=1, triplets="batch", track_reg=True)
    run = lee_training.build_run(data, config, tmp_path / "b", "b")
    songs, x = next(run.batches(np.random.default_rng(0)))
    assert len(songs) == 16 and x.shape[0] == 16 + 3 * 4  # pairs, then track triplets
    # anchors and positives are similar along some dimension
    assert all(abs(data.train_bpm[a] - data.train_bpm[p]) <= 5 or data.train_labels["genre"][a] &
               data.train_labels["genre"][p] for a, p in zip(songs[:8], songs[8:]))
    loss = run.loss(run.model, (songs, x), torch.device("cpu"))
    assert torch.isfinite(loss) and loss.requires_grad
    result = fit_data(data, config, tmp_path / "lee", "lee")
    assert result["history"][-1]["loss"] < result["history"][0]["loss"] and result["best"]["value"] > 0.5
    with pytest.raises(ParameterError):
        LeeTrainConfig.from_dict({"triplets": "hard"})


def test_lee_batch_loss_uses_the_dimension_mask(tmp_path):
    """With genre the only labelled dimension, moving the other subspaces leaves the loss unchanged."""
    import dataclasses

    data = _similarity_data()
    data = dataclasses.replace(data, train_bpm=np.full_like(data.train_bpm, np.nan))
    config = LeeTrainConfig(width=0.0625, batch_size=16, steps_per_epoch=1, epochs=1, device="cpu", threads=1,
                       triplets="batch")
    run = lee_training.build_run(data, config, tmp_path / "m", "m")
    songs, x = next(run.batches(np.random.default_rng(1)))
    torch.manual_seed(0)
    emb = torch.nn.functional.normalize(torch.randn(len(x), 256), dim=1)
    moved = emb.clone()
    moved[:, 64:] = torch.randn(len(x), 192)
    values = []
    for e in (emb, moved):
        run.model.encode_audio = lambda inputs, e=e: e
        values.append(float(run.loss(run.model, (songs, x), torch.device("cpu"))))
    del run.model.encode_audio
    assert values[0] == pytest.approx(values[1], rel=1e-5) and values[0] > 0
    moved[:, :64] = torch.randn(len(x), 64)
    run.model.encode_audio = lambda inputs: moved
    assert float(run.loss(run.model, (songs, x), torch.device("cpu"))) != pytest.approx(values[0], rel=1e-5)


def test_won_vocabulary_knobs(tmp_path, tiny_workspace):
    from core.training.won import load_data

    ws = tiny_workspace
    all_tags = load_data(ws, WonTrainConfig(word_embedding="glove-6b-50d"))
    kept = load_data(ws, WonTrainConfig(word_embedding="glove-6b-50d", exclude_numeric_tags=True, min_train_tracks=2))
    assert not any(won_training.is_numeric_tag(t) for t in kept.tags)
    assert set(kept.tags) <= set(all_tags.tags)
    counts = dict(zip(ws.catalog.tags(), ws.catalog.tag_matrix(ws.catalog.split_ids("train")).sum(axis=0)))
    numeric = [t for t in all_tags.tags if won_training.is_numeric_tag(t)]
    assert kept.vocab_extra["excluded_tags"]["numeric"] == [t for t in numeric if counts[t] >= 2]
    assert set(kept.vocab_extra["excluded_tags"]["rare"]) == {t for t, n in counts.items() if 0 < n < 2}
    assert all(counts[t] >= 2 for t in kept.tags)
    assert json.dumps(kept.vocab_extra)  # recorded in vocab.json


def test_thread_and_memory_helpers():
    import os

    from core.training.loop import auto_threads, keep_freed_memory

    assert 1 <= auto_threads() <= (os.cpu_count() or 1)
    first = keep_freed_memory()
    assert keep_freed_memory() is first  # process-wide, applied once
    config = WonTrainConfig.from_dict({"keep_freed_memory": False, "threads": 0})
    assert config.threads == 0 and config.keep_freed_memory is False
