"""``python -m core embeddings import``: precomputed vectors as an embedding-only model (:mod:`core.importers.embeddings`)."""

from __future__ import annotations

import argparse
import sys

from ..cli import add_workspace_arg, open_workspace
from .embeddings import METRICS, POOLS, TERM_KINDS, import_embeddings


def register(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("embeddings", help="bring precomputed embeddings into a workspace")
    commands = group.add_subparsers(dest="embeddings_command", required=True)
    p = commands.add_parser(
        "import", help="import track (and tag/artist) vectors as an embedding-only model",
        description="Import vectors computed elsewhere as an embedding-only model: Map, Similar, Search by tag "
                    "(with --terms), Results and listening-test scoring work with it; uploads and zero-shot "
                    "words do not (there is no network). Files: .npy (+ --ids), .npz (embeddings + ids), "
                    "Parquet (an id column and a vector column; MWE's token/content/vector tables).")
    add_workspace_arg(p)
    p.add_argument("--name", required=True, help="model name")
    p.add_argument("--tracks", required=True, help="track vectors: .npy, .npz or .parquet; (n, d) or (n, segments, d)")
    p.add_argument("--ids", default=None, help="track ids of a .npy (text, one per line, or a JSON list)")
    p.add_argument("--terms", default=None, help="term (tag or artist) vectors, same dimension as the tracks")
    p.add_argument("--term-ids", default=None, help="term ids of a .npy --terms file (text lines or JSON)")
    p.add_argument("--term-kind", default="tag", choices=TERM_KINDS, help="what the terms are (default %(default)s)")
    p.add_argument("--subspaces", default=None,
                   help="named index ranges, inclusive: genre:0-63,mood:64-127,... (enables subspace weights)")
    p.add_argument("--metric", default="cosine", choices=METRICS,
                   help="cosine (vectors stored unit length) or ip (raw inner product); default %(default)s")
    p.add_argument("--pool", default="mean", choices=POOLS,
                   help="how per-segment arrays (n, segments, d) become one vector per track (default %(default)s)")
    p.set_defaults(func=_import)


def _import(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    summary = import_embeddings(ws, args.name, args.tracks, ids=args.ids, terms=args.terms, term_ids=args.term_ids,
                                term_kind=args.term_kind, subspaces=args.subspaces, metric=args.metric,
                                pool=args.pool)
    pooled = summary["files"]["tracks"].get("pooled")
    print(f"{args.name}: {summary['tracks_matched']} tracks imported"
          f"{f' ({pooled})' if pooled else ''}, {summary['metric']}")
    if summary["tracks_unmatched"]:
        print(f"  {summary['tracks_unmatched']} id(s) not in the catalog, left out "
              f"(e.g. {summary['unmatched_examples']})", file=sys.stderr)
    if summary["catalog_tracks_without_vector"]:
        print(f"  {summary['catalog_tracks_without_vector']} catalog track(s) have no vector", file=sys.stderr)
    terms = summary["terms"]
    if terms is not None:
        examples = f" (e.g. {terms['unmatched_examples']})" if terms["unmatched"] else ""
        print(f"  terms: {terms['matched']} matched to the catalog, {terms['unmatched']} kept without a catalog "
              f"match{examples}")
    print(f"next: `python -m core project --workspace {ws.root} --model {args.name}` (its map) and "
          f"`python -m core evaluate --workspace {ws.root}` (its Results)")
    return 0
