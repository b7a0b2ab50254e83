"""``python -m core evaluate``: evaluate a workspace's models on the test split."""

from __future__ import annotations

import argparse
import sys

from ..progress import tqdm_progress


def register(subparsers) -> None:
    from ..cli import add_workspace_arg

    parser = subparsers.add_parser(
        "evaluate", help="evaluate models and word embeddings on the test split (writes evaluation.json)",
        description="Tag metrics (ROC-AUC, PR-AUC, P@k), triplet accuracy per dimension and track triplets, "
                    "query-by-track recall with chance levels, and word-embedding metrics, on the workspace's test "
                    "split; every metric with a 95% bootstrap interval, and the paired comparisons the README "
                    "states. Per-query values are cached beside the output (<out>_units/).")
    add_workspace_arg(parser)
    parser.add_argument("--json", metavar="OUT", default=None,
                        help="output file (default: WORKSPACE/evaluation.json); also read as the cache")
    parser.add_argument("--models", nargs="+", metavar="NAME", default=None, help="only these models (default: all)")
    parser.add_argument("--no-words", action="store_true", help="skip the word embeddings")
    parser.add_argument("--triplets", type=int, default=None, metavar="N",
                        help="triplets per held-out set (default 40000, as Lee et al.)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the triplet sampling and of the bootstrap resamples (default 0)")
    parser.add_argument("--force", action="store_true", help="re-evaluate even unchanged models")
    parser.add_argument("--markdown", action="store_true",
                        help="print the results as markdown tables (values with intervals, comparisons with verdicts)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from ..cli import open_workspace
    from .report import markdown_report, summary_lines
    from .run import evaluate_workspace
    from .triplets import N_TRIPLETS

    ws = open_workspace(args)
    result = evaluate_workspace(
        ws, models=args.models, words=not args.no_words, out=args.json,
        n_triplets=N_TRIPLETS if args.triplets is None else args.triplets, seed=args.seed, force=args.force,
        progress=tqdm_progress, log=lambda message: print(message, file=sys.stderr))
    print(markdown_report(result) if args.markdown else "\n".join(summary_lines(result)))
    for name, message in result["errors"].items():
        print(f"error: {name}: {message}", file=sys.stderr)
    return 1 if result["errors"] else 0
