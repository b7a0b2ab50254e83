"""``python -m core listening migrate|create|raters|report|export|import-dimsim|set-password``."""

from __future__ import annotations

import argparse
import getpass
import json
import math
import sys

from ..catalog import SIMILARITY_DIMENSIONS
from ..cli import add_workspace_arg, open_workspace
from ..errors import ParameterError
from .access import create_raters, rater_link
from .analysis import LEE_THRESHOLD, build_report, format_report
from .db import LATEST_VERSION, open_db
from .design import OFFSETS, QUESTIONS, SOURCES, StudyDesign, create_test
from .dimsim import read_dimsim, score_dimsim
from .export import FORMATS, export_test
from .researcher import MIN_PASSWORD_LENGTH, save_password
from .scoring import workspace_embedders


def _db(args):
    ws = open_workspace(args)
    return ws, open_db(ws, url=args.db_url)


def _print_links(db, test_id: str, n: int, base_url: str) -> None:
    for rater_id, token in create_raters(db, test_id, n):
        print(f"{rater_id}  {rater_link(base_url, test_id, token)}")


def _cmd_migrate(args) -> int:
    db = open_db(open_workspace(args), url=args.db_url, migrate=True)
    print(f"{db.url}: schema version {db.version()} (latest {LATEST_VERSION})")
    return 0


def _design_from_args(args, source: str) -> StudyDesign:
    return StudyDesign(
        name=args.name, source=source, question=args.question, n_trials=args.n_trials,
        dimensions=tuple(args.dimensions.split(",")) if getattr(args, "dimensions", None) else SIMILARITY_DIMENSIONS,
        models=tuple(m for m in (getattr(args, "models", "") or "").split(",") if m),
        dimsim_path=getattr(args, "file", None), dimsim_threshold=getattr(args, "threshold", None),
        clip_seconds=args.clip_seconds, offset=args.offset, trials_per_rater=args.trials_per_rater,
        n_catch=args.catch, repeat_fraction=args.repeat_fraction, must_play_both=not args.no_must_play,
        headphone_check=args.headphone_check, seed=args.seed)


def _cmd_create(args) -> int:
    ws, db = _db(args)
    test_id = create_test(db, ws, _design_from_args(args, args.source))
    print(f"test {test_id}")
    _print_links(db, test_id, args.raters, args.base_url)
    return 0


def _cmd_raters(args) -> int:
    _, db = _db(args)
    _print_links(db, args.test, args.n, args.base_url)
    return 0


def _cmd_report(args) -> int:
    ws, db = _db(args)
    names = None if args.models is None else [m for m in args.models.split(",") if m]
    report = build_report(db, args.test, threshold=args.threshold, embedders=workspace_embedders(ws, names))
    if args.json:
        summary = {k: None if isinstance(v, float) and math.isnan(v) else v for k, v in report["summary"].items()}
        out = {"summary": summary,
               **{k: json.loads(report[k].to_json(orient="records")) for k in ("trials", "raters", "models")}}
        print(json.dumps(out, indent=2, default=str))
    else:
        print(format_report(report))
    return 0


def _cmd_export(args) -> int:
    _, db = _db(args)
    formats = FORMATS if args.format == "both" else (args.format,)
    for path in export_test(db, args.test, args.out, formats):
        print(path)
    return 0


def _cmd_import_dimsim(args) -> int:
    ws, db = _db(args)
    if not args.score_only:
        if not args.name:
            raise ParameterError("import-dimsim needs --name (or --score-only)")
        test_id = create_test(db, ws, _design_from_args(args, "dimsim"))
        print(f"test {test_id}")
        _print_links(db, test_id, args.raters, args.base_url)
    names = None if args.models is None else [m for m in args.models.split(",") if m]
    scores = score_dimsim(read_dimsim(args.file), workspace_embedders(ws, names), threshold=args.threshold)
    print(scores.to_string(index=False) if len(scores) else "no models to score")
    return 0


def _read_new_password() -> str:
    """The new password: typed twice at a terminal (not echoed), else the first line of standard input."""
    if sys.stdin is not None and sys.stdin.isatty():
        first = getpass.getpass(f"New researcher password (at least {MIN_PASSWORD_LENGTH} characters): ")
        if getpass.getpass("Repeat it: ") != first:
            raise ParameterError("the two passwords differ; nothing was changed")
        return first
    line = sys.stdin.readline() if sys.stdin is not None else ""
    return line.rstrip("\r\n")


def _cmd_set_password(args) -> int:
    path = save_password(open_workspace(args), _read_new_password())
    print(f"stored the researcher password's scrypt hash in {path}")
    return 0


def _add_common(p: argparse.ArgumentParser) -> None:
    add_workspace_arg(p)
    p.add_argument("--db-url", default=None,
                   help="SQLAlchemy URL (default: $TAGSPACE_LISTENING_DB, the manifest's listening_db_url, "
                        "or SQLite in <workspace>/listening/)")


def _add_design(p: argparse.ArgumentParser, n_default: int, name_required: bool = True) -> None:
    p.add_argument("--name", required=name_required, help="test name (researchers only)")
    p.add_argument("--question", choices=QUESTIONS, default="overall")
    p.add_argument("--n-trials", type=int, default=n_default, help="main trials")
    p.add_argument("--clip-seconds", type=float, default=3.0)
    p.add_argument("--offset", choices=OFFSETS, default="middle")
    p.add_argument("--trials-per-rater", type=int, default=None, help="main trials per rater (default: all)")
    p.add_argument("--catch", type=int, default=2, help="catch trials (anchor as a candidate)")
    p.add_argument("--repeat-fraction", type=float, default=0.1)
    p.add_argument("--no-must-play", action="store_true", help="allow answering before playing both")
    p.add_argument("--headphone-check", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--raters", type=int, default=1, help="rater links to create")
    p.add_argument("--base-url", default="http://localhost:8501", help="app URL for rater links")


def register(subparsers) -> None:
    """Add the ``listening`` command and its subcommands."""
    parser = subparsers.add_parser("listening", help="listening tests: migrate, create, report, export, import, "
                                                      "set-password")
    sub = parser.add_subparsers(dest="listening_command", required=True)

    p = sub.add_parser("migrate", help="create or upgrade the listening-test database schema")
    _add_common(p)
    p.set_defaults(func=_cmd_migrate)

    p = sub.add_parser("create", help="design a test and print rater links")
    _add_common(p)
    _add_design(p, 20)
    p.add_argument("--source", choices=[s for s in SOURCES if s != "dimsim"], default="random")
    p.add_argument("--dimensions", default=",".join(SIMILARITY_DIMENSIONS), help="random source: dimensions")
    p.add_argument("--models", default="", help="retrieval: one model; disagreement: two, comma-separated")
    p.set_defaults(func=_cmd_create)

    p = sub.add_parser("raters", help="create more rater links for a test")
    _add_common(p)
    p.add_argument("--test", required=True)
    p.add_argument("--n", type=int, default=1)
    p.add_argument("--base-url", default="http://localhost:8501")
    p.set_defaults(func=_cmd_raters)

    p = sub.add_parser("report", help="agreement, rater reliability and model-vs-human accuracy")
    _add_common(p)
    p.add_argument("--test", required=True)
    p.add_argument("--threshold", type=float, default=LEE_THRESHOLD, help="agreement threshold for scoring")
    p.add_argument("--models", default=None, help="comma-separated models to score (default: all; '' for none)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_report)

    p = sub.add_parser("export", help="write trials, answers and plays as CSV and/or Parquet")
    _add_common(p)
    p.add_argument("--test", required=True)
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--format", choices=FORMATS + ("both",), default="both")
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("import-dimsim", help="make a test from a dim-sim CSV/JSON file and score models on it")
    _add_common(p)
    p.add_argument("file", help="dim-sim clean or raw file (.csv or .json)")
    _add_design(p, 0, name_required=False)
    p.add_argument("--threshold", type=float, default=None, help="keep triplets with agreement >= this")
    p.add_argument("--models", default=None, help="comma-separated models to score (default: all; '' for none)")
    p.add_argument("--score-only", action="store_true", help="only score models; create no test")
    p.set_defaults(func=_cmd_import_dimsim)

    p = sub.add_parser("set-password", help="set the researcher password (stored as a salted scrypt hash)",
                       description="Reads the new password twice from the terminal, or one line from standard "
                                   "input; stores only its scrypt hash in <workspace>/listening/researcher.json.")
    add_workspace_arg(p)
    p.set_defaults(func=_cmd_set_password)
