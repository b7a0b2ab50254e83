"""``python -m core import``: build a workspace's catalog from a tag file and an audio folder."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..catalog import Catalog
from ..errors import ParameterError
from ..features import FeatureStore
from ..workspace import MANIFEST, Workspace
from . import IMPORTERS
from .won_tsv import DEFAULT_MIN_SCORE


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import a tag file and an audio folder into a workspace",
                       description="Create (or update) a workspace whose catalog comes from a tag file. "
                                   "Formats: won (Won et al. track_tags.tsv), jamendo (MTG-Jamendo TSV), "
                                   "csv (path,track_id,artist,tags as category:tag;...).")
    p.add_argument("--workspace", required=True, help="workspace directory (created if absent)")
    p.add_argument("--format", required=True, choices=sorted(IMPORTERS), dest="fmt")
    p.add_argument("--tags", required=True, help="the tag file")
    p.add_argument("--audio-root", required=True, help="folder holding the audio files")
    p.add_argument("--min-score", type=float, default=DEFAULT_MIN_SCORE,
                   help="won only: keep annotations with score >= this (default %(default)g)")
    p.add_argument("--artists", default=None, help="won only: track_id,artist_id[,artist_name] file")
    p.add_argument("--splits", default=None, help="track_id,split file (default: seeded 70/15/15 by artist)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split (default %(default)s)")
    p.add_argument("--skip-missing-audio", action="store_true",
                   help="import the tracks that have audio instead of stopping at the first missing file")
    p.add_argument("--name", default=None, help="workspace name (default: the directory name)")
    p.add_argument("--build-features", action="store_true", help="also compute the mel cache")
    p.set_defaults(func=_run)


def _audio_paths(ws: Workspace, catalog: Catalog) -> dict[str, Path]:
    return {tid: ws.audio_root / rel for tid, rel in zip(catalog.tracks["track_id"], catalog.tracks["audio_path"])}


def _run(args: argparse.Namespace) -> int:
    def log(message: str) -> None:
        print(f"[import] {message}", file=sys.stderr)

    audio_root = Path(args.audio_root).expanduser().resolve()
    options = {"splits": args.splits, "seed": args.seed, "skip_missing_audio": args.skip_missing_audio, "log": log}
    if args.fmt == "won":
        options.update(min_score=args.min_score, artists=args.artists)
    elif args.artists is not None or args.min_score != DEFAULT_MIN_SCORE:
        raise ParameterError("--artists and --min-score apply to --format won only")
    catalog = IMPORTERS[args.fmt](args.tags, audio_root, **options)

    root = Path(args.workspace).expanduser()
    old_paths = {}
    if (root / MANIFEST).exists():
        old = Workspace.open(root)
        if old.has_catalog():
            old_paths = _audio_paths(old, old.catalog)
    ws = Workspace.create(root, name=args.name or root.resolve().name, audio_root=str(audio_root),
                          source={"format": args.fmt, "tags": str(Path(args.tags).resolve())})
    new_paths = _audio_paths(ws, catalog)
    # cached mels are keyed by track id: drop those whose audio file changed or whose track left
    stale = [tid for tid, p in old_paths.items() if new_paths.get(tid) != p]
    ws.save_catalog(catalog)
    store = FeatureStore(ws)
    if stale:
        log(f"removed {store.invalidate(stale)} cached feature file(s) of changed or removed tracks")
    info = ws.info()
    log(f"{info['tracks']} tracks, {info['artists']} artists, tags by category {info['tags_by_category']}, "
        f"splits {info['splits']}")
    if args.build_features:
        summary = store.build()
        log(f"features: {summary['computed']} computed, {summary['cached']} cached, {len(summary['failed'])} failed")
        for tid, message in summary["failed"].items():
            log(f"  {tid}: {message}")
    return 0
