"""``python -m core embed`` (embeddings + indexes) and ``python -m core project`` (UMAP maps)."""

from __future__ import annotations

import argparse
import sys

from ..cli import add_workspace_arg, open_workspace
from ..errors import ParameterError
from ..progress import tqdm_progress
from ..models.embedding_only import is_embedding_only, reads_audio
from .embed import embeddings_current, extract_embeddings
from .index import IndexConfig, build_index
from .projection import compute_projection


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("embed", help="extract track/term embeddings and build search indexes")
    add_workspace_arg(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--model", nargs="+", help="model name(s)")
    which.add_argument("--all", action="store_true", help="every model in the workspace")
    p.add_argument("--force", action="store_true", help="recompute even if the cache is current")
    p.add_argument("--batch-size", type=int, default=16, help="tracks per forward pass (default 16)")
    p.add_argument("--device", default=None,
                   help="torch device: cpu, cuda or cuda:N (default: cuda when available, else cpu); "
                        "vectors are computed in float32 on either")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local: this process (default); ray: a Ray cluster's workers, resumable shards")
    p.add_argument("--address", default=None,
                   help="--engine ray: the Ray cluster to join (default: start a local one)")
    p.add_argument("--gpus-per-worker", type=float, default=None,
                   help="--engine ray: GPUs of each model worker (default: 1 when the cluster has GPUs, else 0)")
    p.add_argument("--approximate-above", type=int, default=IndexConfig.approximate_above,
                   help="build approximate indexes (IVF, HNSW, IVF-PQ) above this many tracks (default %(default)s)")
    p.add_argument("--min-recall", type=float, default=IndexConfig.min_recall,
                   help="recall@10 an approximate index must reach to be used (default %(default)s)")
    p.set_defaults(func=_embed)

    p = sub.add_parser("project", help="fit and cache UMAP maps (models' joint spaces, word embeddings' tags)")
    add_workspace_arg(p)
    p.add_argument("--model", nargs="*", default=None, help="only these models (default: all)")
    p.add_argument("--words", nargs="*", default=None, help="only these word embeddings (default: all)")
    p.add_argument("--force", action="store_true", help="refit even if cached")
    p.set_defaults(func=_project)


def _names(asked: list[str] | None, known: list[str], what: str) -> list[str]:
    if asked is None:
        return known
    unknown = sorted(set(asked) - set(known))
    if unknown:
        raise ParameterError(f"unknown {what}(s) {unknown}; the workspace has {known or 'none'}")
    return asked


def checked_device(name: str | None) -> str | None:
    """``--device`` as given, after checking that torch knows it and that a CUDA device exists.

    Raises :class:`ParameterError` (a message, not a traceback) for ``cuda`` on a machine without one.
    """
    if name is None:
        return None
    import torch

    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ParameterError(f"--device {name!r} is not a torch device (use cpu, cuda or cuda:N)") from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"--device {name} asked for a GPU but this machine has no CUDA device "
                                 f"usable by torch {torch.__version__}; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ParameterError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return name


def _extractor(args: argparse.Namespace):
    """``extract(ws, name) -> EmbeddingSet`` of the engine asked for."""
    if args.engine == "local":
        if args.address is not None or args.gpus_per_worker is not None:
            raise ParameterError("--address and --gpus-per-worker apply to --engine ray only")
        return lambda ws, name: extract_embeddings(ws, name, batch_size=args.batch_size, device=args.device,
                                                   force=args.force, progress=tqdm_progress)
    if args.device is not None:
        raise ParameterError("--device applies to --engine local; Ray workers take GPUs with --gpus-per-worker")
    from .ray_embed import extract_embeddings_ray

    return lambda ws, name: extract_embeddings_ray(ws, name, address=args.address,
                                                   gpus_per_worker=args.gpus_per_worker,
                                                   batch_size=args.batch_size, force=args.force,
                                                   progress=tqdm_progress)


def _embed(args: argparse.Namespace) -> int:
    extract = _extractor(args)  # options that do not go together are named first
    checked_device(args.device)
    ws = open_workspace(args)
    config = IndexConfig(approximate_above=args.approximate_above, min_recall=args.min_recall)
    names = _names(None if args.all else args.model, ws.model_names(), "model")
    if args.engine == "ray":
        from .ray_embed import ray_session

        with ray_session(args.address):  # one Ray for every model
            return _embed_models(ws, names, extract, config, args.force)
    return _embed_models(ws, names, extract, config, args.force)


def _embed_models(ws, names: list[str], extract, config: IndexConfig, force: bool) -> int:
    for name in names:
        if is_embedding_only(ws.model_config(name)):
            print(f"{name}: embedding-only model (vectors imported with `embeddings import`): nothing to embed; "
                  f"its vectors are {'current' if embeddings_current(ws, name) else 'stale: import them again'}")
            continue
        if not reads_audio(ws.model_config(name)):
            print(f"{name}: reads no audio (capabilities: {', '.join(ws.model_config(name)['capabilities']) or 'none'}): "
                  "no track vectors to extract; skipped")
            continue
        emb = extract(ws, name)
        meta = emb.meta
        print(f"{name}: {len(emb.track_ids)} tracks, {len(emb.terms)} terms, {meta['metric']}, "
              f"extracted on {meta['device']} in {meta['seconds']} s")
        for failed in meta["unencodable"]:
            print(f"  cannot encode {failed['term']!r}: {failed['reason']}", file=sys.stderr)
        index = build_index(ws, emb, config, force=force)
        if index is not None:
            for kind, c in index["candidates"].items():
                print(f"  {kind} {c['factory']} {c['params']}: recall@10={c['recall_at_10']}, "
                      f"p95 {c['p95_ms']} ms, {c['bytes_per_track']} bytes/track")
            print(f"  exact p95 {index['exact']['p95_ms']} ms; using {index['kind']}: {index['reason']}")
    return 0


def _project(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    only_words = args.model is None and args.words is not None
    only_models = args.words is None and args.model is not None
    jobs = [] if only_words else [("model", n) for n in _names(args.model, ws.model_names(), "model")]
    jobs += [] if only_models else [("words", n) for n in _names(args.words, ws.word_embedding_names(),
                                                                    "word embedding")]
    for kind, name in tqdm_progress(jobs, total=len(jobs), desc="maps"):
        proj = compute_projection(ws, kind, name, force=args.force)
        print(f"{kind} {name}: {len(proj.ids)} points, mean neighbourhood preservation "
              f"{proj.meta['mean_preservation']}, fit {proj.meta['fit_seconds']} s")
    return 0
