"""``python -m core words import|build|migrate|compare|evaluate``."""

from __future__ import annotations

import argparse
import json
import math

from ..errors import DataError, TagspaceError
from ..progress import tqdm_progress
from .demo_embeddings import GLOVE_NAME, MUSIC_NAME, PRESETS
from .formats import FORMATS
from .store import DOMAINS


def register(sub: argparse._SubParsersAction) -> None:
    from ..cli import add_workspace_arg

    words = sub.add_parser("words", help="word embeddings: import, build the demo pair, migrate, compare, evaluate")
    cmd = words.add_subparsers(dest="words_command", required=True)

    p = cmd.add_parser("import", help="convert a word-vector file into the workspace (.npy + Parquet, memory-mapped)")
    add_workspace_arg(p)
    p.add_argument("--path", required=True, help="word2vec .bin/.txt, GloVe .txt, gensim .kv or MWE .parquet")
    p.add_argument("--name", required=True, help="stored name, e.g. googlenews")
    p.add_argument("--format", choices=FORMATS, default="auto")
    p.add_argument("--label", default=None, help="name shown in the app (default: --name)")
    p.add_argument("--domain", choices=DOMAINS, default="general")
    p.add_argument("--limit", type=int, default=None, help="keep only the first N (most frequent) words")
    p.add_argument("--trust-pickle", action="store_true",
                   help="allow a gensim .kv file: it is a Python pickle, and loading it runs any code it holds")
    p.set_defaults(func=_import)

    p = cmd.add_parser("build", help=f"build {GLOVE_NAME} and {MUSIC_NAME} (skipped when up to date)")
    add_workspace_arg(p)
    p.add_argument("--size", choices=sorted(PRESETS), default="default")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vector-size", type=int, default=None, help="skip-gram dimension (default: size preset)")
    p.add_argument("--epochs", type=int, default=None, help="skip-gram epochs (default: size preset)")
    p.set_defaults(func=_build)

    p = cmd.add_parser("migrate", help="convert embeddings stored as gensim .kv (pickle) to .npy + Parquet, once")
    add_workspace_arg(p)
    p.add_argument("--trust-pickle", action="store_true",
                   help="needed to convert: reading a .kv unpickles it, which runs any code it holds")
    p.add_argument("--name", nargs="+", default=None, help="embeddings to convert (default: every .kv one)")
    p.set_defaults(func=_migrate)

    p = cmd.add_parser("compare", help="neighbours and pair cosines, general vs musical embedding")
    add_workspace_arg(p)
    p.add_argument("--general", default=None, help="general-domain embedding (default: first one stored)")
    p.add_argument("--musical", default=None, help="musical embedding (default: first one stored)")
    p.add_argument("-k", type=int, default=5, help="neighbours per word")
    p.add_argument("--markdown", action="store_true", help="print the README tables (default: JSON)")
    p.set_defaults(func=_compare)

    p = cmd.add_parser("evaluate", help="tag rank nDCG@30 (and track retrieval) of stored embeddings, as JSON")
    add_workspace_arg(p)
    p.add_argument("--name", nargs="+", default=None, help="embeddings to evaluate (default: all)")
    p.add_argument("--split", choices=("test", "valid", "train", "all"), default="test",
                   help="tracks whose tag co-occurrence is the ground truth")
    p.set_defaults(func=_evaluate)


def _workspace(args):
    from ..cli import open_workspace

    return open_workspace(args)


def _import(args) -> int:
    from .store import import_word_vectors

    meta = import_word_vectors(_workspace(args), args.path, args.name, format=args.format,
                               label=args.label, domain=args.domain, limit=args.limit,
                               trust_pickle=args.trust_pickle)
    print(f"{meta['name']}: {meta['vocab_size']} words x {meta['dim']} ({meta['format']}, {meta['domain']})")
    return 0


def _migrate(args) -> int:
    from .store import migrate_word_vectors

    ws = _workspace(args)
    metas = migrate_word_vectors(ws, trust_pickle=args.trust_pickle, names=args.name)
    for meta in metas:
        print(f"{meta['name']}: {meta['vocab_size']} words x {meta['dim']} converted to .npy + Parquet")
    if not metas:
        print(f"nothing to convert: no .kv word embeddings in {ws.words_dir}")
    return 0


def _build(args) -> int:
    from .demo_embeddings import build_words

    metas = build_words(_workspace(args), size=args.size, seed=args.seed, progress=tqdm_progress,
                        vector_size=args.vector_size, epochs=args.epochs)
    for name, meta in metas.items():
        print(f"{name}: {meta['vocab_size']} words x {meta['dim']} ({meta['label']})")
    return 0


def _pick(ws, name: str | None, domain: str) -> str:
    from .store import read_meta

    if name is not None:
        return name
    for candidate in ws.word_embedding_names():
        if (read_meta(ws, candidate) or {}).get("domain") == domain:
            return candidate
    raise DataError(f"no {domain} word embedding in {ws.words_dir}; run `python -m core words build`")


def _compare(args) -> int:
    from .compare import README_PAIRS, README_WORDS, comparison_markdown, music_vocabulary, neighbours, pair_cosines
    from .store import load_word_vectors

    ws = _workspace(args)
    general = load_word_vectors(ws, _pick(ws, args.general, "general"))
    musical = load_word_vectors(ws, _pick(ws, args.musical, "musical"))
    if args.markdown:
        print(comparison_markdown(general, musical, k=args.k, music_terms=music_vocabulary(ws)))
        return 0
    out = {}
    for wv in (general, musical):
        entry = {"neighbours": {}, "pairs": pair_cosines(wv, README_PAIRS)}
        for word in README_WORDS:
            try:
                found, lookup = neighbours(wv, word, args.k)
                entry["neighbours"][word] = {"lookup": lookup.describe(), "words": found}
            except TagspaceError as err:  # report per word, keep going
                entry["neighbours"][word] = {"error": str(err)}
        for pair in entry["pairs"]:
            if math.isnan(pair["cosine"]):
                pair["cosine"] = None
        out[wv.name] = entry
    print(json.dumps(out, indent=2, ensure_ascii=False))
    return 0


def _evaluate(args) -> int:
    from .evaluate import evaluate_word_embedding

    ws = _workspace(args)
    names = args.name or ws.word_embedding_names()
    print(json.dumps({n: evaluate_word_embedding(ws, n, split=args.split) for n in names}, indent=2))
    return 0
