"""Command-line interface: ``python -m core <command> --workspace DIR ...``.

Each command lives next to the code it drives, in a module with a
``register(subparsers)`` function that adds its parser and sets ``func``.
Commands return an exit code; :class:`~core.errors.TagspaceError` becomes a
one-line message on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from .errors import TagspaceError
from .paths import WORKSPACE_ENV, default_workspace
from .workspace import Workspace

#: Modules that contribute commands (each has ``register(subparsers)``).
COMMAND_MODULES = (
    "core.demo.cli",
    "core.importers.cli",
    "core.importers.embeddings_cli",
    "core.evaluation.cli",
    "core.training.cli",
    "core.listening.cli",
    "core.words.cli",
    "core.engine.cli",
    "core.models.cli",
    "core.pipeline.cli",
)


def add_workspace_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workspace", default=None,
        help=f"workspace directory (default: ${WORKSPACE_ENV} or {default_workspace()})",
    )


def open_workspace(args: argparse.Namespace) -> Workspace:
    return Workspace.open(args.workspace)


def _info(args: argparse.Namespace) -> int:
    from .pipeline.prepare import missing_work

    ws = open_workspace(args)
    info = ws.info()
    info["missing"] = missing_work(ws)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"workspace  {info['workspace']}")
    for key in ("tracks", "artists", "tags", "tracks_with_all_categories", "missing_audio"):
        print(f"{key:<27}{info[key]}")
    for cat, n in info["tags_by_category"].items():
        print(f"  tags[{cat}]{'':<{17 - len(cat)}}{n}")
    print(f"models                     {', '.join(info['models']) or '-'}")
    for name, detail in info["model_details"].items():
        print(f"  {name:<25}{detail['family'] or '?'} ({detail['source'] or '?'}): "
              f"{', '.join(detail['capabilities']) or 'no capability'}")
    print(f"word embeddings            {', '.join(info['word_embeddings']) or '-'}")
    if not info["missing"]:
        print("missing                    nothing: every page has what it needs")
        return 0
    print("missing:")
    for item in info["missing"]:
        print(f"  [{item['step']}] {item['what']}\n      fix: {item['command']}")
    print(f"`python -m core prepare --workspace {ws.root}` runs every step above that it can.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description="Tagspace command line")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="summarise a workspace")
    add_workspace_arg(info)
    info.add_argument("--json", action="store_true", help="print a JSON object")
    info.set_defaults(func=_info)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except TagspaceError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
