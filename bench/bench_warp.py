"""WARP vs AUC training speed, and the cost of a top-1 tag prediction (Weston et al. 2011, Table 7).

Synthetic data of the paper's shape: bag-of-frames histograms over a 2,000-word
codebook (about half the words non-zero), 1,000 tags, d = 100.

1. Training steps per second of the Muslse tag task with the WARP loss (sampled
   rank, ``max_draws`` cap) and the AUC loss (all negatives), batch 64, Adam,
   norm projection after each step.
2. Top-1 tag prediction for one query song over the 1,000-tag vocabulary:
   Muslse (``argmax_i T_i . V s``: O((|S| + |T|) d) time, d (|S| + |T|) floats)
   against a one-vs-rest linear classifier (``argmax_i w_i . s``: O(|T| |S|)
   time, |T| |S| floats), time per query and model memory.

    python bench/bench_warp.py [--quick] [--device cpu|cuda] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.training.ranking_losses import auc_loss, warp_loss  # noqa: E402


def synthetic(n_songs: int, n_features: int, n_tags: int, device, seed: int = 0):
    """Histograms (L2-normalised, ~half the words used) and a bool song x tag matrix (about 5 tags a song)."""
    g = torch.Generator().manual_seed(seed)
    counts = torch.poisson(torch.full((n_songs, n_features), 0.7), generator=g)
    hist = counts / counts.norm(dim=1, keepdim=True).clamp(min=1e-12)
    tags = torch.rand(n_songs, n_tags, generator=g) < 5 / n_tags
    tags[torch.arange(n_songs), torch.randint(n_tags, (n_songs,), generator=g)] = True
    return hist.to(device), tags.to(device)


def train_speed(loss_name: str, hist, tags, dim: int, steps: int, batch: int, device) -> float:
    """Training steps per second of the tag task."""
    torch.manual_seed(0)
    V = (torch.randn(hist.shape[1], dim, device=device) / dim ** 0.5).requires_grad_(True)
    T = (torch.randn(tags.shape[1], dim, device=device) / dim ** 0.5).requires_grad_(True)
    opt = torch.optim.Adam([V, T], lr=1e-2)

    def step():
        rows = torch.randint(len(hist), (batch,), device=device)
        mask = tags[rows]
        pos = (torch.rand(mask.shape, device=device) * mask).argmax(dim=1)
        scores = (hist[rows] @ V) @ T.T
        loss = warp_loss(scores, pos, mask, max_draws=100) if loss_name == "warp" else auc_loss(scores, pos, mask)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():  # projection onto ||row|| <= 1
            for p in (V, T):
                p.mul_(torch.clamp(1.0 / p.norm(dim=1, keepdim=True).clamp(min=1e-12), max=1.0))

    for _ in range(5):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return steps / (time.perf_counter() - start)


def sync(device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


@torch.no_grad()
def query_cost(hist, n_tags: int, dim: int, queries: int, device) -> list[tuple[str, float, float]]:
    """(method, microseconds per top-1 query, model MiB) for Muslse and one-vs-rest."""
    n_features = hist.shape[1]
    models = {
        "muslse": (torch.randn(n_features, dim, device=device), torch.randn(n_tags, dim, device=device)),
        "one-vs-rest": (torch.randn(n_tags, n_features, device=device),),
    }

    def predict(name, s):
        if name == "muslse":
            V, T = models[name]
            return torch.argmax(T @ (s @ V))
        (W,) = models[name]
        return torch.argmax(W @ s)

    out = []
    for name, params in models.items():
        for i in range(10):
            predict(name, hist[i])
        sync(device)
        start = time.perf_counter()
        for i in range(queries):
            top = predict(name, hist[i % len(hist)])
        int(top)
        sync(device)
        micros = (time.perf_counter() - start) / queries * 1e6
        out.append((name, micros, sum(p.numel() * p.element_size() for p in params) / 2**20))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps and queries (about 10 s on 2 cores)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads (default 1: small ops are dominated by thread wake-ups on a busy machine)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    steps, queries = (30, 300) if args.quick else (200, 3000)
    n_features, n_tags, dim, batch = 2000, 1000, 100, 64
    hist, tags = synthetic(2000, n_features, n_tags, args.device)
    print(f"device {args.device}, threads {torch.get_num_threads()}, |S| = {n_features}, |T| = {n_tags}, d = {dim}")
    print(f"\n{'loss':<8}{'steps/s':>10}   (tag task, batch {batch}, {steps} steps)")
    for name in ("warp", "auc"):
        print(f"{name:<8}{train_speed(name, hist, tags, dim, steps, batch, args.device):>10.1f}")
    print(f"\n{'top-1 tag prediction':<22}{'us/query':>10}{'model MiB':>11}   ({queries} queries)")
    for name, micros, mib in query_cost(hist, n_tags, dim, queries, args.device):
        print(f"{name:<22}{micros:>10.1f}{mib:>11.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
