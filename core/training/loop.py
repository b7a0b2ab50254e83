"""The shared training loop: seeding, device and mixed precision, resumable state,
best-by-validation checkpoints, early stopping, a progress bar with the loss.

A family's trainer builds a :class:`Run` (model, config, a batch generator, a
loss and a validation score) and calls :func:`train`. While training,
``models/<name>/train_state.pt`` holds everything needed to resume (weights,
optimiser, scheduler, scaler, counters; tensors and primitive containers only,
read with ``weights_only=True``); ``model.pt`` always holds the best weights so
far. The state file is removed when the run finishes, so a model directory
without it is complete.

Randomness is derived from ``(seed, epoch)`` at the start of every epoch, so a
resumed run draws the same batches as an uninterrupted one.

Started by torchrun (``torchrun --nproc_per_node N -m core train ...``), the loop runs
DistributedDataParallel over N processes (:mod:`core.training.distributed`): each rank
draws its own batches, gradients are averaged, rank 0 validates and alone writes files.
"""

from __future__ import annotations

import json
import math
import os
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from ..errors import CheckpointError, ParameterError
from ..fileio import write_atomic, write_json
from ..models.checkpoint import CONFIG_FILE, MODEL_FILE, load_state_strict, load_tensors, read_config, save_checkpoint
from ..progress import Progress, silent
from . import distributed
from .config import LoopConfig

STATE_FILE = "train_state.pt"
#: Config fields that may change when resuming (they do not change what is learned so far).
RESUMABLE_CHANGES = {"epochs", "patience", "device", "amp", "threads", "keep_freed_memory"}


@dataclass
class Run:
    """One training run, as the shared loop sees it.

    Attributes
    ----------
    name : str
        Model name (``models/<name>/``).
    model_dir : Path
    model : EmbeddingModel
        With ``model.config["variant"]`` set; its ``state_dict`` is the checkpoint.
    config : LoopConfig
        The family's ``<Family>TrainConfig`` (has a ``variant``).
    vocab : dict
        Saved as ``vocab.json``.
    batches : callable
        ``batches(rng) -> iterator`` of one epoch's ``config.steps_per_epoch`` batches.
    loss : callable
        ``loss(model, batch, device) -> scalar Tensor``.
    validate : callable
        ``validate(model, device) -> float``, higher is better; called in eval mode without gradients.
        NaN means "cannot validate": the latest weights are kept and early stopping is off.
    metric : str
        Name of the validation score (recorded in ``config.json`` under ``best``).
    extra : dict
        More ``config.json`` fields (e.g. ``word_embedding``).
    """

    name: str
    model_dir: Path
    model: torch.nn.Module
    config: LoopConfig
    vocab: dict
    batches: Callable[[np.random.Generator], Iterator]
    loss: Callable
    validate: Callable
    metric: str
    extra: dict = field(default_factory=dict)


def keep_freed_memory() -> bool:
    """Let glibc's malloc keep freed memory instead of returning it to the OS (Linux only).

    A CPU training step allocates and frees activations of tens of MB; above glibc's
    mmap threshold each is a fresh ``mmap`` whose pages fault in again on every step
    (measured: half of a narrow Won step's time was kernel time). Raising the mmap
    and trim thresholds keeps that memory in the heap for reuse (about 1.8x faster
    steps); the price is that the process keeps its peak memory. Process-wide, set once.
    Returns True when applied.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED or not sys.platform.startswith("linux"):
        return _MALLOC_TUNED
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        _MALLOC_TUNED = bool(libc.mallopt(-3, ctypes.c_int(1 << 30)) and  # M_MMAP_THRESHOLD
                             libc.mallopt(-1, ctypes.c_int(2**31 - 1)))    # M_TRIM_THRESHOLD
    except (OSError, AttributeError):  # not glibc
        _MALLOC_TUNED = False
    return _MALLOC_TUNED


_MALLOC_TUNED = False


def auto_threads() -> int:
    """Torch threads for ``threads=0``: ``os.cpu_count()`` on an idle machine, fewer when busy.

    Intra-op threads of small CPU networks stall when another process holds one of the
    cores (each parallel region waits for the descheduled thread; measured ~10x slower
    steps with 2 threads on 2 busy cores), so cores that other processes keep busy
    (1-minute load average, less this process) are left to them.
    """
    cores = os.cpu_count() or 1
    try:
        busy = max(0.0, os.getloadavg()[0] - 1.0)
    except (AttributeError, OSError):  # not available on this platform
        busy = 0.0
    return max(1, min(cores, cores - int(busy + 0.25)))  # a core counts as taken from 0.75 busy


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` is CUDA when available, else CPU; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ParameterError(f"device {name!r} requested but CUDA is not available; use device 'cpu'")
    return torch.device(name)


def make_optimizer(model: torch.nn.Module, config: LoopConfig) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov,
                               weight_decay=config.weight_decay)
    return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)


def cosine_factor(step: int, total: int, warmup: int, floor: float) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then cosine from 1 to ``floor``."""
    if warmup and step < warmup:
        return (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))


def make_scheduler(optimizer: torch.optim.Optimizer, config: LoopConfig):
    """``plateau``: reduce-on-plateau of the validation score (``mode="max"``), at most
    ``max_lr_reductions`` times (stepped per validation). ``cosine``: warm-up then cosine decay
    over ``epochs * steps_per_epoch`` steps (stepped per batch)."""
    if config.lr_schedule == "cosine":
        total, warmup, floor = config.epochs * config.steps_per_epoch, config.warmup_steps, config.lr_factor
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: cosine_factor(step, total, warmup, floor))
    if config.lr_schedule != "plateau":
        return None
    return torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=config.lr_factor, patience=config.lr_patience,
        min_lr=config.lr * config.lr_factor ** config.max_lr_reductions * 0.999)


def _config_json(config: LoopConfig) -> dict:
    return json.loads(json.dumps(config.to_dict()))


def _check_resumable(saved: dict, config: LoopConfig, path: Path) -> None:
    now = _config_json(config)
    changed = sorted(k for k in set(saved) | set(now) if k not in RESUMABLE_CHANGES and saved.get(k) != now.get(k))
    if changed:
        raise CheckpointError(
            f"{path} was written with a different config ({', '.join(changed)} changed); "
            "train again without --resume to start over")


def train(run: Run, progress: Progress = silent, resume: bool = False) -> dict:
    """Train ``run.model`` and keep its best checkpoint in ``run.model_dir``.

    Parameters
    ----------
    run : Run
    progress : callable
        ``progress(iterable, total=, desc=)``; a tqdm bar also shows the running loss.
    resume : bool
        Continue from ``train_state.pt`` if present (otherwise start over).

    Returns
    -------
    dict
        ``best`` (metric, value, epoch), ``epochs`` run in total, ``stopped_early``,
        ``history`` (per epoch: loss, validation score, learning rate) and ``device``.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(run.config.threads or auto_threads())
    if run.config.keep_freed_memory:
        keep_freed_memory()
    try:
        return _train(run, progress, resume)
    finally:
        torch.set_num_threads(threads)  # process-wide setting: later work keeps its own


def _train(run: Run, progress: Progress, resume: bool) -> dict:
    cfg = run.config
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    group = distributed.join(device)  # None: a single process
    try:
        return _train_on(run, progress, resume, device if group is None else group.device, group)
    finally:
        if group is not None:
            group.leave()


def _train_on(run: Run, progress: Progress, resume: bool, device: torch.device,
              group: distributed.Group | None) -> dict:
    cfg, model = run.config, run.model
    main, rank = group is None or group.is_main, 0 if group is None else group.rank
    progress = progress if main else silent
    use_amp = cfg.amp and device.type == "cuda"
    model.to(device)
    loss_of = run.loss if group is None else group.synced_loss(model, run.loss)
    optimizer = make_optimizer(model, cfg)
    scheduler = make_scheduler(optimizer, cfg)
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)

    model_dir = Path(run.model_dir)
    model_dir.mkdir(parents=True, exist_ok=True)
    state_path = model_dir / STATE_FILE
    counters = {"epoch": 0, "best": -math.inf, "best_epoch": 0, "bad_epochs": 0, "stopped_early": False}
    history: list[dict] = []
    if resume and state_path.exists():
        saved = load_tensors(state_path)
        _check_resumable(json.loads(saved["config"]), cfg, state_path)
        load_state_strict(model, saved["model"], source=str(state_path))
        optimizer.load_state_dict(saved["optimizer"])
        if scheduler is not None:
            scheduler.load_state_dict(saved["scheduler"])
        scaler.load_state_dict(saved["scaler"])
        counters.update(saved["counters"])
        history = list(saved["history"])
    elif main:
        for stale in (state_path, model_dir / MODEL_FILE, model_dir / CONFIG_FILE):
            stale.unlink(missing_ok=True)

    def checkpoint_config() -> dict:
        value = counters["best"] if math.isfinite(counters["best"]) else None  # JSON has no infinity
        best = {"metric": run.metric, "value": value, "epoch": counters["best_epoch"]}
        return {"variant": cfg.variant, "train": cfg.to_dict(), "best": best, **run.extra}

    epoch = counters["epoch"]
    while epoch < cfg.epochs and not counters["stopped_early"]:
        rng = np.random.default_rng(distributed.epoch_seed(cfg.seed, epoch, rank))
        torch.manual_seed(distributed.epoch_torch_seed(cfg.seed, epoch, rank))
        model.train()
        bar = progress(run.batches(rng), total=cfg.steps_per_epoch, desc=f"{run.name} {epoch + 1}/{cfg.epochs}")
        losses = []
        for batch in bar:
            with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                loss = loss_of(model, batch, device)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            if cfg.grad_clip:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            if cfg.lr_schedule == "cosine":
                scheduler.step()
            losses.append(float(loss.detach()))
            if hasattr(bar, "set_postfix"):
                bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
        epoch += 1
        lr_now = float(optimizer.param_groups[0]["lr"])
        epoch_loss = float(np.mean(losses)) if losses else math.nan
        if group is not None:
            epoch_loss = group.mean(epoch_loss)  # over every rank's batches
        if epoch % cfg.validate_every and epoch < cfg.epochs:
            history.append({"epoch": epoch, "loss": epoch_loss, "lr": lr_now})
            counters["epoch"] = epoch
            continue  # no validation this epoch: nothing to checkpoint or early-stop on
        model.eval()
        with torch.no_grad():
            score = float(run.validate(model, device)) if main else math.nan
        if group is not None:
            score = group.share(score)
        if cfg.lr_schedule == "plateau" and math.isfinite(score):
            scheduler.step(score)
        if math.isfinite(score):
            improved = score > counters["best"]
            if improved:
                counters.update(best=score, best_epoch=epoch, bad_epochs=0)
            else:
                counters["bad_epochs"] += 1
        else:  # nothing to validate on (e.g. a tiny valid split): keep the latest weights, never stop early
            improved = counters["best"] == -math.inf
            if improved:
                counters["best_epoch"] = epoch
        counters["epoch"] = epoch
        counters["stopped_early"] = counters["bad_epochs"] >= cfg.patience
        history.append({"epoch": epoch, "loss": epoch_loss, run.metric: score, "lr": lr_now})
        if main:
            # state first, then the best weights: an interruption in between still leaves a resumable run
            state = {"model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                     "optimizer": optimizer.state_dict(),
                     "scheduler": scheduler.state_dict() if scheduler is not None else {},
                     "scaler": scaler.state_dict(), "counters": dict(counters), "history": history,
                     "config": json.dumps(_config_json(cfg))}
            write_atomic(state_path, lambda path: torch.save(state, path))
            if improved or not (model_dir / MODEL_FILE).exists():
                save_checkpoint(model_dir, model, checkpoint_config(), run.vocab)

    if main:
        final = read_config(model_dir)
        final.update(history=history, epochs=epoch, stopped_early=counters["stopped_early"], device=str(device))
        write_json(model_dir / CONFIG_FILE, final)
        state_path.unlink(missing_ok=True)
    if group is not None:
        group.barrier()  # rank 0's files are complete before any rank returns
    if not main:
        final = read_config(model_dir)
    return {"best": final["best"], "epochs": epoch, "stopped_early": counters["stopped_early"],
            "history": history, "device": str(device)}
