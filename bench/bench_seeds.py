"""Training-seed spread of the headline comparisons (not in CI).

Trains the headline presets with each seed into its own copy of a workspace
(catalog, audio, features and word embeddings hard-linked, models fresh),
evaluates each copy with the same protocol (evaluation seed 0, so only training
varies), and prints the mean and spread over seeds of every headline metric and
of every paired comparison, with in how many seeds each comparison was
distinguishable. The bootstrap intervals of one evaluation measure test-set
noise; this measures training noise.

    python bench/bench_seeds.py --workspace W --seeds 0 1 2 [--models preset ...] [--size tiny|default]
                                [--out DIR] [--json spread.json]

Copies go to ``DIR/seed-<s>`` (default ``<W>-seeds/``); a rerun resumes:
finished models are kept.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.evaluation.report import markdown_table  # noqa: E402
from core.evaluation.run import evaluate_workspace  # noqa: E402
from core.evaluation.seeds import seed_spread, seed_tables  # noqa: E402
from core.fileio import write_json  # noqa: E402
from core.progress import silent  # noqa: E402
from core.training.presets import PRESETS, resolve  # noqa: E402
from core.training.runner import is_trained, train_model  # noqa: E402
from core.workspace import Workspace  # noqa: E402

#: Presets behind the headline comparisons (those the installed presets know are trained).
HEADLINE_PRESETS = ("won-random", "won-balanced-weighted", "won-balanced-weighted-rhythm", "muslse-warp", "muslse-auc",
                    "lee-disentangled", "lee-disentangled-rhythm", "lee-disentangled-trackreg", "lee-category",
                    "lee-specialised", "mfcc-vq", "mwe-tag+artist+track", "mwe-tag+artist+track-rhythm")
#: Workspace folders a seed copy does not share (it trains and evaluates its own).
OWN = {"models", "embeddings", "indexes", "projections", "evaluation.json", "evaluation_units", "listening"}


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # files are only ever replaced (atomic writes), never edited in place
    except OSError:
        shutil.copy2(src, dst)


def seed_copy(ws: Workspace, folder: Path) -> Workspace:
    """A copy of ``ws`` without models or evaluation (hard links where possible); reused if present."""
    if not (folder / "workspace.json").exists():
        folder.mkdir(parents=True, exist_ok=True)
        for item in ws.root.iterdir():
            if item.name in OWN:
                continue
            if item.is_dir():
                shutil.copytree(item, folder / item.name, copy_function=_link_or_copy, dirs_exist_ok=True)
            else:
                _link_or_copy(str(item), str(folder / item.name))
    return Workspace.open(folder)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", required=True, help="the workspace to copy (a built demo)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--models", nargs="+", default=None, help="presets (default: the headline presets)")
    parser.add_argument("--size", choices=("tiny", "default", "paper"), default=None,
                        help="preset size (default: the workspace's demo size, else default)")
    parser.add_argument("--out", default=None, help="folder of the seed copies (default: <workspace>-seeds)")
    parser.add_argument("--json", default=None, help="also write the full spread (every metric) here")
    args = parser.parse_args(argv)

    ws = Workspace.open(args.workspace)
    size = args.size or (ws.manifest.get("demo") or {}).get("size", "default")
    presets = args.models or [p for p in HEADLINE_PRESETS if p in PRESETS]
    unknown = [p for p in presets if p not in PRESETS]
    if unknown:
        parser.error(f"unknown presets {unknown}")
    out = Path(args.out) if args.out else ws.root.parent / f"{ws.root.name}-seeds"
    print(f"seeds {args.seeds}, size {size}, presets: {', '.join(presets)}\ncopies in {out}", file=sys.stderr)

    evaluations = {}
    for seed in args.seeds:
        copy = seed_copy(ws, out / f"seed-{seed}")
        start = time.perf_counter()
        for name in presets:
            if is_trained(copy, name):
                continue
            family, overrides = resolve(name, size)
            train_model(copy, name, family, {**overrides, "seed": seed}, silent, resume=True)
        trained = time.perf_counter()
        evaluations[seed] = evaluate_workspace(copy, models=presets, seed=0)
        print(f"seed {seed}: trained in {trained - start:.0f} s, evaluated in {time.perf_counter() - trained:.0f} s",
              file=sys.stderr)

    spread = seed_spread(evaluations)
    metrics, comparisons = seed_tables(spread)
    print(f"## Headline metrics over training seeds {spread['seeds']} (mean, sample sd, range)\n")
    print(markdown_table(metrics))
    print(f"\n## Paired comparisons over training seeds {spread['seeds']} (A - B; verdict counts per seed)\n")
    print(markdown_table(comparisons))
    if args.json:
        write_json(args.json, spread)
        print(f"\nfull spread: {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
