"""``python -m core train``: train one model of a workspace.

    python -m core train --workspace W --model won-balanced-weighted
    python -m core train --workspace W --model my-lee --family lee --config lee.json --resume

``--model`` is the model's name; if it is a preset (``--list`` shows them) the
preset's family and settings apply, scaled to ``--size`` (default: the demo size
of a demo workspace, else ``paper``); any other name needs ``--family`` and gets that
family's defaults at the same size. ``--config`` is a JSON object of config
fields applied last.
"""

from __future__ import annotations

import argparse
import json

from ..errors import ParameterError
from ..families import family_names, family_trainer
from ..fileio import read_json
from ..progress import tqdm_progress
from .distributed import is_main_process
from .presets import PRESETS, SIZES, family_budget, resolve


def _read_config(path: str | None) -> dict:
    if not path:
        return {}
    values = read_json(path)
    if not isinstance(values, dict):
        raise ParameterError(f"{path} must hold a JSON object of config fields")
    return values


def _train(args: argparse.Namespace) -> int:
    if args.list:
        for name, (family, overrides) in sorted(PRESETS.items()):
            print(f"{name:<34}{family:<9}{json.dumps(overrides)}")
        return 0
    if not args.model:
        raise ParameterError("--model is required (a preset name, or any name with --family)")
    from ..cli import open_workspace
    from .runner import train_model

    ws = open_workspace(args)
    size = args.size or ws.manifest.get("demo", {}).get("size", "paper")
    if args.model in PRESETS:
        family, overrides = resolve(args.model, size)
        if args.family and args.family != family:
            raise ParameterError(f"preset {args.model!r} is a {family} model, not {args.family}")
    elif args.family:
        family, overrides = args.family, family_budget(args.family, size)
    else:
        raise ParameterError(f"{args.model!r} is not a preset; give --family ({', '.join(family_names())})")
    overrides.update(_read_config(args.config))
    if args.config:  # a bad field is named with its file
        try:
            family_trainer(family).config.from_dict(overrides)
        except (ParameterError, TypeError, ValueError) as err:
            raise ParameterError(f"{args.config}: {err}") from None
    if args.device is not None:
        from .loop import pick_device

        try:
            pick_device(args.device)  # no CUDA device: a clear error now, before the data loads
        except RuntimeError as err:
            raise ParameterError(f"--device {args.device!r} is not a device (use auto, cpu, cuda or cuda:N)") from err
        overrides["device"] = args.device
    result = train_model(ws, args.model, family, overrides, progress=tqdm_progress, resume=args.resume)
    if not is_main_process():  # under torchrun every rank returns the result: rank 0 alone reports it
        return 0
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        best = result["best"]
        print(f"{args.model}: {result['epochs']} epoch(s) on {result['device']}, best {best['metric']} "
              f"{best['value'] if best['value'] is None else round(best['value'], 4)} (epoch {best['epoch']}) -> {ws.models_dir / args.model}")
    return 0


def register(subparsers) -> None:
    from ..cli import add_workspace_arg

    p = subparsers.add_parser("train", help="train a model (Won, Lee, MFCC-VQ, ...)")
    add_workspace_arg(p)
    p.add_argument("--model", help="model name; a preset name selects its family and settings")
    p.add_argument("--family", choices=family_names(), help="family of a non-preset model")
    p.add_argument("--size", choices=SIZES, help="preset scale (default: demo size of the workspace, else paper)")
    p.add_argument("--config", help="JSON file of config fields (applied last)")
    p.add_argument("--device", default=None,
                   help="auto, cpu, cuda or cuda:N (default: the config's, auto: cuda when available); "
                        "mixed precision on CUDA (the config's amp)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from train_state.pt")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--list", action="store_true", help="list the presets and exit")
    p.set_defaults(func=_train)
