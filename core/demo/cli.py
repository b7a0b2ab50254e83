"""``python -m core build-demo``."""

from __future__ import annotations

import argparse

from ..paths import default_workspace
from .build import SIZES, STEPS, build_demo


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-demo", help="build the offline demo workspace (resumable)")
    p.add_argument("--workspace", default=None, help=f"target directory (default: {default_workspace()})")
    p.add_argument("--size", choices=SIZES, default="default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", nargs="+", choices=[n for n, _ in STEPS], default=None,
                   help="run only these steps")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    build_demo(args.workspace or default_workspace(), size=args.size, seed=args.seed, steps=args.steps)
    return 0
