"""``python -m core prepare``: run whatever an imported workspace is missing, resumably."""

from __future__ import annotations

import argparse

from ..cli import add_workspace_arg, open_workspace
from ..progress import tqdm_progress
from .prepare import BUDGETS, STEPS, PrepareConfig, prepare


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare", help="after an import: compute whatever is missing or stale (features, word embeddings, "
                        "models, embeddings, indexes, maps, evaluation); resumable, skips finished work",
        description="Run every step with work to do, in order: " + ", ".join(s.name for s in STEPS) + ". "
                    "A workspace without models gets a starter set. A second run does nothing and says so.")
    add_workspace_arg(p)
    p.add_argument("--size", choices=BUDGETS, default="default",
                   help="training budget of the models it trains (default %(default)s)")
    p.add_argument("--train", nargs="*", default=None, metavar="PRESET",
                   help="presets to train (default: a starter set when the workspace has no model; "
                        "--train with no name: none)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workers", type=int, default=0, help="processes for features and training (0: every core)")
    p.add_argument("--steps", nargs="+", choices=[s.name for s in STEPS], default=None, help="run only these steps")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    config = PrepareConfig(size=args.size, seed=args.seed, workers=args.workers,
                           train=None if args.train is None else tuple(args.train))
    steps = STEPS if args.steps is None else [s for s in STEPS if s.name in args.steps]
    result = prepare(ws, config, progress=tqdm_progress, steps=steps)
    done = [name for name, o in result["steps"].items() if o["state"] == "done"]
    if done:
        print(f"prepared {ws.root}: ran {', '.join(done)}")
    else:
        print(f"nothing to do: {ws.root} is up to date")
    return 0
