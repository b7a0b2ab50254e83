"""Training and embedding throughput of the Won and Lee models, at demo and paper widths.

    python bench/bench_training.py [--quick] [--device cpu|cuda|auto] [--threads N]

Training: optimizer steps on synthetic 20 s tracks through the real trainers'
batches and losses (crops, negative mining, masks included); reported as
samples/s (Won: tag-song pairs; Lee: triplets, three 3 s crops each).
Embedding: ``encode_track`` of 20 s tracks (Won: 8 crops; Lee: 6 windows), tracks/s.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.training import lee as lee_training, won as won_training  # noqa: E402
from core.training.config import LeeTrainConfig, WonTrainConfig  # noqa: E402
from core.training.loop import make_optimizer, pick_device  # noqa: E402
from core.training.presets import SIZE_OVERRIDES  # noqa: E402

FRAMES = 861  # 20 s at 22,050 Hz, hop 512


def _won_data(n: int, rng) -> won_training.TagData:
    # -40 dB +- 10 dB noise, in the cached log1p10 scale the trainer reads
    specs = [np.log10(1 + 10 * 10 ** (rng.normal(-40, 10, (128, FRAMES)) / 10)).astype(np.float32) for _ in range(n)]
    matrix = rng.random((n, 20)) < 0.2
    matrix[np.arange(n), np.arange(n) % 20] = True
    return won_training.TagData([f"tag{i}" for i in range(20)], rng.normal(size=(20, 50)).astype(np.float32),
                               specs, matrix, specs[:4], matrix[:4])


def _lee_data(n: int, rng) -> lee_training.SimilarityData:
    mels = [rng.random((128, FRAMES)).astype(np.float32) for _ in range(n)]
    labels = {d: [{f"{d}{i % 3}"} for i in range(n)] for d in ("genre", "mood", "instrument")}
    bpm = 80.0 + 10 * (np.arange(n) % 6)
    return lee_training.SimilarityData(mels, labels, bpm, mels[:8], {k: v[:8] for k, v in labels.items()}, bpm[:8])


def measure(run, steps: int, samples_per_step: int, device: torch.device, mels: list[np.ndarray]) -> tuple[float, float]:
    model = run.model.to(device).train()
    optimizer = make_optimizer(model, run.config)
    use_amp = device.type == "cuda" and run.config.amp
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    batches = run.batches(np.random.default_rng(0))
    for i, batch in enumerate(batches):
        if i == 1:  # the first step warms up (allocations, cuDNN autotuning)
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
            loss = run.loss(model, batch, device)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    if device.type == "cuda":
        torch.cuda.synchronize()
    train_rate = (steps - 1) * samples_per_step / (time.perf_counter() - start)
    model.eval()
    model.encode_track(mels[0])
    start = time.perf_counter()
    for mel in mels:
        model.encode_track(mel)
    return train_rate, len(mels) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few steps, small batches")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = pick_device(args.device)
    steps = 3 if args.quick else 10
    rng = np.random.default_rng(0)
    won_data, lee_data = _won_data(40, rng), _lee_data(24, rng)
    mels = [rng.random((128, FRAMES)).astype(np.float32) for _ in range(4 if args.quick else 16)]
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu"
    print(f"device: {device} ({name}), torch {torch.__version__}, threads {torch.get_num_threads()}")
    print(f"{'model':<6}{'width':<22}{'batch':>6}{'train samples/s':>17}{'embed tracks/s':>16}")
    for family, cls, data, build in (("won", WonTrainConfig, won_data, won_training.build_run),
                                     ("lee", LeeTrainConfig, lee_data, lee_training.build_run)):
        demo = SIZE_OVERRIDES[family]["default"]
        for label, width, rhythm in ((f"demo {demo['width']}", demo["width"], False),
                                     (f"demo {demo['width']} +rhythm", demo["width"], True),
                                     ("paper 1.0", 1.0, False)):
            batch = (8 if family == "lee" else 16) if args.quick else (32 if family == "lee" else 64)
            extra = {"valid_triplets": 20} if family == "lee" else {}
            config = cls(width=width, rhythm=rhythm, batch_size=batch, steps_per_epoch=steps, device=str(device),
                         **extra)
            with TemporaryDirectory() as tmp:
                run = build(data, config, Path(tmp), family)
                train_rate, embed_rate = measure(run, steps, batch, device, mels)
            print(f"{family:<6}{label:<22}{batch:>6}{train_rate:>17.1f}{embed_rate:>16.2f}", flush=True)


if __name__ == "__main__":
    main()
