"""Extraction throughput: the local engine against Ray with 1 and 2 model workers, on the tiny demo.

Usage::

    python bench/bench_ray.py [--workspace W] [--model M] [--cpus 2] [--rounds 2]

``--workspace`` is a built tiny demo (default ``$TAGSPACE_TEST_WORKSPACE``, else one is
built in a temporary directory). Every measurement extracts one model's embeddings with
``force`` into a scratch copy of the workspace (audio and words linked), in two
conditions: features cached (what ``embed`` does after ``build-demo``: the workers read the
feature store) and features cold (the mel of every track decoded and computed first: the
Ray decode tasks' work). Ray runs on a local Ray of ``--cpus`` CPUs started once
(its start-up is reported apart); each Ray row counts the pipeline's start (actors, model
load) in its time, like a real run. Both Ray rows use the same actor size (half a CPU, one
torch thread) so that only the number of workers differs. Best of ``--rounds``.

Prints a table with tracks/s and the ratio against the local engine measured in the same
run, and writes it to ``bench/results/ray.txt``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import publish  # noqa: E402

from core.engine.embed import extract_embeddings  # noqa: E402
from core.engine.ray_embed import extract_embeddings_ray  # noqa: E402
from core.workspace import Workspace  # noqa: E402

SHARD_TRACKS = 8


def scratch_copy(src: Path, dst: Path, model: str, cold: bool) -> Workspace:
    """A workspace with ``model`` only; features linked (cached) or empty (cold)."""
    shutil.rmtree(dst, ignore_errors=True)
    dst.mkdir(parents=True)
    shutil.copy(src / "workspace.json", dst / "workspace.json")
    shutil.copytree(src / "catalog", dst / "catalog")
    shutil.copytree(src / "models" / model, dst / "models" / model)
    for linked in ("audio", "words") + (() if cold else ("features",)):
        os.symlink(src / linked, dst / linked)
    return Workspace.open(dst)


def timed(extract, src: Path, scratch: Path, model: str, cold: bool, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        ws = scratch_copy(src, scratch, model, cold)
        t0 = time.perf_counter()
        extract(ws)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workspace", default=os.environ.get("TAGSPACE_TEST_WORKSPACE"))
    parser.add_argument("--model", default="won-balanced-weighted")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray (default 2)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import ray
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        if args.workspace:
            src = Path(args.workspace)
        else:
            from core.demo.build import build_demo
            from core.progress import silent

            src = build_demo(Path(tmp) / "tiny", size="tiny", seed=0, progress=silent, log=lambda *a: None).root
        n_tracks = len(Workspace.open(src).catalog.track_ids)
        scratch = Path(tmp) / "scratch"
        t0 = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, logging_level="warning")
        ray_start = time.perf_counter() - t0
        engines = {
            "local (this process)": lambda ws: extract_embeddings(ws, args.model, device="cpu", force=True),
            **{f"Ray, {w} worker{'s' if w > 1 else ''}": (
                lambda ws, w=w: extract_embeddings_ray(ws, args.model, workers=w, cpus_per_worker=0.5,
                                                       shard_tracks=SHARD_TRACKS, force=True))
               for w in (1, 2)},
        }
        rows = [("features", "engine", "seconds", "tracks/s", "vs local", "vs Ray 1 worker")]
        try:
            for cold in (False, True):
                local = one_worker = None
                for name, extract in engines.items():
                    seconds = timed(extract, src, scratch, args.model, cold, args.rounds)
                    local = local or seconds
                    one_worker = one_worker or (seconds if name.startswith("Ray") else None)
                    rows.append(("cold (decode + mel)" if cold else "cached", name, f"{seconds:.1f}",
                                 f"{n_tracks / seconds:.1f}", f"{local / seconds:.2f}x",
                                 f"{one_worker / seconds:.2f}x" if one_worker else ""))
                    print(rows[-1], file=sys.stderr, flush=True)
        finally:
            ray.shutdown()

    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    table = "\n".join([fmt(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(r) for r in rows[1:]])
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = f", load average {os.getloadavg()[0]:.1f}"
    except OSError:
        load = ""
    text = (f"Tagspace extraction on Ray, {stamp}\n"
            f"machine: {os.cpu_count()} cores{load}; torch {torch.__version__} ({torch.get_num_threads()} threads "
            f"in the local engine), ray {ray.__version__}\n"
            f"model {args.model}, {n_tracks} tracks (tiny demo), shards of {SHARD_TRACKS} tracks, "
            f"local Ray of {args.cpus} CPUs (start-up {ray_start:.1f} s, not counted), "
            f"Ray actors of 0.5 CPU / 1 torch thread, best of {args.rounds}\n"
            f"vs local: local time / this time (>1: faster than the local engine); vs Ray 1 worker likewise\n\n"
            f"{table}\n")
    publish(text, ROOT / "bench" / "results" / "ray.txt")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
