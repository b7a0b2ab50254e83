"""``python -m core embed`` (embeddings + indexes) and ``python -m core project`` (UMAP maps)."""

from __future__ import annotations

import argparse
import sys

from ..cli import add_workspace_arg, open_workspace
from ..errors import ParameterError
from ..progress import tqdm_progress
from .embed import extract_embeddings
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
    p.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
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


def _embed(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    config = IndexConfig(approximate_above=args.approximate_above, min_recall=args.min_recall)
    for name in _names(None if args.all else args.model, ws.model_names(), "model"):
        emb = extract_embeddings(ws, name, batch_size=args.batch_size, device=args.device, force=args.force,
                                 progress=tqdm_progress)
        meta = emb.meta
        print(f"{name}: {len(emb.track_ids)} tracks, {len(emb.terms)} terms, {meta['metric']}, "
              f"extracted on {meta['device']} in {meta['seconds']} s")
        for failed in meta["unencodable"]:
            print(f"  cannot encode {failed['term']!r}: {failed['reason']}", file=sys.stderr)
        index = build_index(ws, emb, config, force=args.force)
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
