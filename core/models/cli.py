"""``python -m core models import``: bring a model trained elsewhere into a workspace.

    python -m core models import --workspace W --name won-msd --format won-lightning \\
        --checkpoint epoch=42.ckpt --tags tags.txt --words googlenews-300
    python -m core models import --workspace W --name zs-glove --format zeroshot-lightning \\
        --checkpoint zeroshot/glove/CNN1D/tag/best.ckpt --words glove-42b-300d
    python -m core models import --workspace W --name won-gpu --format tagspace \\
        --checkpoint /mnt/gpu-box/ws/models/won-balanced-weighted

The result is a normal ``models/<name>/``: ``embed``, ``evaluate`` and the pages use it
as they use a model trained here.
"""

from __future__ import annotations

import argparse
import json

from .imports import FORMATS


def _import(args: argparse.Namespace) -> int:
    from ..cli import open_workspace
    from .imports import import_model

    if args.format != "zeroshot-lightning" and args.hparams is not None:
        from ..errors import ParameterError

        raise ParameterError("--hparams is an option of --format zeroshot-lightning only")
    ws = open_workspace(args)
    options = {"tags": args.tags, "words": args.words, "force": args.force}
    if args.hparams is not None:
        options["hparams"] = args.hparams
    result = import_model(ws, args.name, args.format, args.checkpoint, **options)
    if args.json:
        print(json.dumps({"name": result.name, "model_dir": str(result.model_dir), "source": result.source,
                          "family": result.family, "capabilities": result.capabilities, "notes": result.notes},
                         indent=2))
        return 0
    print(f"{result.name}: {result.family} model imported from {args.format} -> {result.model_dir}")
    print(f"  capabilities: {', '.join(result.capabilities) or 'none'}")
    for note in result.notes:
        print(f"  note: {note}")
    if "audio" in result.capabilities:
        print(f"  next: python -m core embed --workspace {ws.root} --model {result.name}")
    return 0


def register(subparsers) -> None:
    from ..cli import add_workspace_arg

    models = subparsers.add_parser("models", help="manage models (import one trained elsewhere)")
    sub = models.add_subparsers(dest="models_command", required=True)
    p = sub.add_parser("import", help="import a checkpoint trained elsewhere as models/<name>/")
    add_workspace_arg(p)
    p.add_argument("--name", required=True, help="name of the new model in this workspace")
    p.add_argument("--format", required=True, choices=sorted(FORMATS),
                   help="won-lightning: Won et al.'s .ckpt; zeroshot-lightning: Doh/Choi's best.ckpt (+ hparams.yaml); "
                        "tagspace: a models/<name>/ directory of another workspace")
    p.add_argument("--checkpoint", required=True, help="the checkpoint file (a directory for --format tagspace)")
    p.add_argument("--tags", default=None,
                   help="the model's tags: a text file, one per line, or a .npy array of strings")
    p.add_argument("--words", default=None, help="workspace word embedding the model's text side reads")
    p.add_argument("--hparams", default=None,
                   help="zeroshot-lightning: its hparams.yaml (default: beside the checkpoint)")
    p.add_argument("--force", action="store_true", help="replace an existing model of that name")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=_import)
