"""``python -m core build-demo``."""

from __future__ import annotations

import argparse

from ..paths import default_workspace
from .build import SIZES, STEPS, build_demo, start_background_build


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("build-demo", help="build the offline demo workspace (resumable)")
    p.add_argument("--workspace", default=None, help=f"target directory (default: {default_workspace()})")
    p.add_argument("--size", choices=SIZES, default="default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", nargs="+", choices=[s.name for s in STEPS], default=None,
                   help="run only these steps")
    p.add_argument("--workers", type=int, default=0,
                   help="processes for the features and the models (default 0: every core)")
    p.add_argument("--background", action="store_true",
                   help="start the build as a detached process and return (nothing if built or building); "
                        "progress in <workspace>/build_status.json, output in <workspace>/build.log")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    root = args.workspace or default_workspace()
    if args.background:
        print(start_background_build(root, size=args.size, seed=args.seed))
        return 0
    build_demo(root, size=args.size, seed=args.seed, steps=args.steps, workers=args.workers)
    return 0
