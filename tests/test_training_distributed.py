"""Multi-process training (DDP over gloo on CPU): two ranks make the steps of one process on the same global batch.

The reference is a single process that draws both ranks' batches (rank 0: the
single-process seed sequence ``[seed, epoch]``, rank 1: ``[seed, epoch, 1]``; each
with its own torch random stream for dropout and negative draws) and averages their
losses before each optimiser step. The two-process run goes through the shared loop
exactly as ``torchrun --nproc_per_node 2 -m core train`` would (the torchrun
environment variables, then ``loop.train``).
"""

from __future__ import annotations

import json
import os
import socket

import numpy as np
import pytest
import torch
import torch.multiprocessing as mp

from core.errors import ParameterError
from core.models.checkpoint import load_tensors
from core.training import distributed, won as won_training
from core.training.config import MfccVqTrainConfig, WonTrainConfig
from core.training.loop import make_optimizer, train
from core.training.runner import fit_data
from tests.test_training_loop import _tag_data

WORLD = 2
#: Tolerance on every parameter after the steps (float32 sums in another order: ~1e-8 here).
TOLERANCE = 1e-5
CONFIG = dict(width=0.0625, batch_size=8, steps_per_epoch=3, epochs=1, optimizer="sgd", lr=0.05, momentum=0.9,
              device="cpu", threads=1, seed=3)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank(rank: int, port: int, model_dir: str, results: str) -> None:
    """One torchrun process: its environment, then the shared loop. Rank 1 may write nothing."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(WORLD))
    if rank:
        import core.training.loop as loop

        def refuse(*args, **kwargs):
            raise AssertionError(f"rank {rank} wrote a file")

        loop.write_atomic = loop.write_json = loop.save_checkpoint = refuse
    run = won_training.build_run(_tag_data(), WonTrainConfig(**CONFIG), model_dir, "ddp")
    result = train(run)
    with open(os.path.join(results, f"rank-{rank}.json"), "w") as f:
        json.dump(result, f)


def _single_process(model_dir, ranks: list[int]) -> tuple[dict, list[float]]:
    """Parameters after the steps of one process on the batches of ``ranks``, losses averaged; and the mean loss."""
    config = WonTrainConfig(**CONFIG)
    run = won_training.build_run(_tag_data(), config, model_dir, "reference")
    model, device = run.model, torch.device("cpu")
    optimizer = make_optimizer(model, config)
    batches, torch_states = {}, {}
    for r in ranks:
        batches[r] = run.batches(np.random.default_rng([config.seed, 0] + ([r] if r else [])))
        torch.manual_seed(config.seed * 100_003 + 0 + distributed.TORCH_SEED_RANK_STRIDE * r)
        torch_states[r] = torch.get_rng_state()
    model.train()
    losses = []
    for _ in range(config.steps_per_epoch):
        optimizer.zero_grad(set_to_none=True)
        for r in ranks:
            torch.set_rng_state(torch_states[r])
            loss = run.loss(model, next(batches[r]), device)
            (loss / len(ranks)).backward()
            torch_states[r] = torch.get_rng_state()
            losses.append(float(loss.detach()))
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.named_parameters()}, float(np.mean(losses))


def _max_diff(a: dict, b: dict) -> float:
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def test_two_gloo_ranks_match_one_process_on_the_same_global_batch(tmp_path):
    torch.set_num_threads(1)
    port, results = _free_port(), tmp_path / "results"
    results.mkdir()
    mp.spawn(_rank, args=(port, str(tmp_path / "ddp"), str(results)), nprocs=WORLD, join=True)

    saved = load_tensors(tmp_path / "ddp" / "model.pt")  # written by rank 0
    reference, reference_loss = _single_process(tmp_path / "ref", list(range(WORLD)))
    ddp = {k: saved[k] for k in reference}
    assert _max_diff(ddp, reference) <= TOLERANCE

    initial = {k: v.detach() for k, v in won_training.build_run(
        _tag_data(), WonTrainConfig(**CONFIG), tmp_path / "init", "init").model.named_parameters()}
    assert _max_diff(ddp, initial) > 100 * TOLERANCE, "the steps must move the weights"
    rank0_only, _ = _single_process(tmp_path / "r0", [0])
    assert _max_diff(ddp, rank0_only) > 100 * TOLERANCE, "rank 1's gradients must count"

    by_rank = [json.loads((results / f"rank-{r}.json").read_text()) for r in range(WORLD)]
    assert by_rank[0]["history"] == by_rank[1]["history"]  # one validation score and loss, shared
    assert by_rank[0]["history"][0]["loss"] == pytest.approx(reference_loss, abs=1e-5)
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["epochs"] == 1 and config["best"]["value"] == by_rank[1]["best"]["value"]
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == ["config.json", "model.pt", "vocab.json"]


def _torchrun_env(monkeypatch, **values) -> None:
    for name in distributed.ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    for name, value in values.items():
        monkeypatch.setenv(name, value)


def test_one_process_joins_no_group(monkeypatch):
    _torchrun_env(monkeypatch)
    assert distributed.join(torch.device("cpu")) is None
    _torchrun_env(monkeypatch, WORLD_SIZE="1")
    assert distributed.join(torch.device("cpu")) is None


def test_incomplete_torchrun_environment_is_a_clear_error(monkeypatch):
    _torchrun_env(monkeypatch, WORLD_SIZE="2", RANK="0")
    with pytest.raises(ParameterError, match="LOCAL_RANK, MASTER_ADDR, MASTER_PORT not set.*torchrun"):
        distributed.join(torch.device("cpu"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without a GPU")
def test_nccl_without_a_gpu_is_a_clear_error(monkeypatch):
    _torchrun_env(monkeypatch, WORLD_SIZE="2", RANK="0", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="1")
    with pytest.raises(ParameterError, match="NCCL|GPU"):
        distributed.join(torch.device("cuda"))
    with pytest.raises(ParameterError, match="CUDA is not available"):
        train(won_training.build_run(_tag_data(n_train=6, n_valid=3), WonTrainConfig(**{**CONFIG, "device": "cuda"}),
                                     "unused", "unused"))


def test_one_step_families_refuse_torchrun(monkeypatch, tmp_path):
    _torchrun_env(monkeypatch, WORLD_SIZE="2")
    with pytest.raises(ParameterError, match="fitted in one step.*not torchrun"):
        fit_data(None, MfccVqTrainConfig(), tmp_path / "m", "m")


def test_only_rank_0_reports_the_result(monkeypatch, capsys, tiny_workspace):
    """Under torchrun every rank returns from training; one summary is printed, not one per rank."""
    import core.training.runner as runner
    from core.cli import main

    result = {"epochs": 1, "device": "cpu", "best": {"metric": "valid_pr_auc", "value": 0.5, "epoch": 1}}
    monkeypatch.setattr(runner, "train_model", lambda *args, **kwargs: result)
    for rank, reported in (("1", False), ("0", True)):
        _torchrun_env(monkeypatch, RANK=rank)
        assert main(["train", "--workspace", str(tiny_workspace.root), "--model", "won-random"]) == 0
        assert ("won-random: 1 epoch(s) on cpu" in capsys.readouterr().out) is reported
