"""The demo's two word embeddings, built offline: ``glove-6b-50d`` and ``music-skipgram``.

``python -m core words build`` and the ``words`` step of ``build-demo``. Both builds
are idempotent: each stores what it was built from (GloVe vocabulary choice; music
corpus hash, tag split and skip-gram settings) in its metadata under ``build`` and is
skipped when that matches and the embedding is stored in the current layout (an
old gensim ``.kv`` is rebuilt, never read).

The music corpus creates the catalog's seen/unseen tag split first if there is none
and leaves its unseen tags out of the track paragraphs; the skip-gram's metadata
records that under ``track_paragraphs`` (see :mod:`core.words.unseen_tags`).
"""

from __future__ import annotations

import hashlib
import time

import numpy as np

from ..errors import DataError, ParameterError
from ..progress import Progress, silent
from .corpus import GENERAL_SOURCE, build_music_corpus, token
from .formats import make_keyed_vectors
from .glove_package import PACKAGE as GLOVE_PACKAGE
from .glove_package import glove_files, glove_vocabulary
from .store import is_stored, read_meta, save_word_vectors
from .train import SkipGramConfig, train_skipgram
from .unseen_tags import paragraph_record, split_fingerprint

GLOVE_NAME = "glove-6b-50d"
GLOVE_LABEL = "GloVe 6B 50d (Wikipedia+Gigaword)"
MUSIC_NAME = "music-skipgram"
MUSIC_LABEL = "Music skip-gram (MWE recipe)"

#: Per demo size: GloVe vocabulary limit (None: all 400k) and skip-gram settings: genre walks,
#: GloVe words with a general-text sentence, shuffled copies per track paragraph.
#: Training (one worker) takes about 21 s CPU for ``tiny`` (6 s without the general text);
#: the first build also searches GloVe neighbours (cached in ``W/cache/words``).
PRESETS = {
    "tiny": {"glove_limit": 100_000, "vector_size": 50, "epochs": 10, "n_walks": 4000, "n_general": 15000,
             "general_neighbours": 3, "track_repeats": 16},
    "default": {"glove_limit": None, "vector_size": 100, "epochs": 15, "n_walks": 20000, "n_general": 25000,
                "general_neighbours": 1, "track_repeats": 16},
}


def catalog_words(ws) -> list[str]:
    """Lower-case words of the catalog's tags (``"smooth jazz"`` -> ``smooth``, ``jazz``)."""
    if not ws.has_catalog():
        return []
    return sorted({w for tag in ws.catalog.tags() for w in token(tag).split("_") if w})


def _hash_words(words: list[str]) -> str:
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:16]


def build_glove(ws, limit: int | None = None, progress: Progress = silent) -> dict:
    """Store GloVe 6B 50d as ``glove-6b-50d``: the ``limit`` most frequent words plus every catalog tag word."""
    npy, vocab_path = glove_files()
    extra = catalog_words(ws)
    key = {"limit": limit, "extra_words": len(extra), "extra_hash": _hash_words(extra)}
    meta = read_meta(ws, GLOVE_NAME)
    if meta is not None and meta.get("build") == key and is_stored(ws, GLOVE_NAME):
        return meta
    words = glove_vocabulary()
    matrix = np.load(npy, mmap_mode="r", allow_pickle=False)
    if matrix.shape[0] != len(words):
        raise DataError(f"{npy}: {matrix.shape[0]} vectors but {len(words)} words in {vocab_path}")
    rows = list(range(len(words) if limit is None else min(limit, len(words))))
    if limit is not None:
        index = {w: i for i, w in enumerate(words)}
        rows += sorted({index[w] for w in extra if w in index and index[w] >= limit})
    kv = make_keyed_vectors([words[i] for i in rows], np.ascontiguousarray(matrix[rows], dtype=np.float32), npy)
    note = "all 400,000 words" if limit is None else \
        f"the {limit:,} most frequent words plus {len(rows) - limit} rarer catalog tag words"
    return save_word_vectors(ws, kv, GLOVE_NAME, label=GLOVE_LABEL, domain="general",
                             source=f"{GLOVE_PACKAGE} (GloVe 6B, vectors PDDL-1.0)",
                             format="npy+parquet", vocabulary=note, build=key)


def build_music_skipgram(ws, seed: int = 0, vector_size: int = 100, epochs: int = 15, n_walks: int = 20000,
                         n_general: int = 0, general_neighbours: int = 3, track_repeats: int = 4,
                         progress: Progress = silent) -> dict:
    """Build the corpus of ``ws`` and train ``music-skipgram`` on it (skipped if unchanged).

    ``n_general`` GloVe words get a general-text sentence (see :mod:`core.words.corpus`; 0: music
    text only), each with its ``general_neighbours`` nearest GloVe words; ``track_repeats`` shuffled
    copies of each train-track paragraph. The catalog's tag split is created first if there is
    none, and its unseen tags never enter the track paragraphs (metadata ``track_paragraphs``).
    """
    corpus = build_music_corpus(ws, seed=seed, n_walks=n_walks, n_general=n_general,
                                general_neighbours=general_neighbours, track_repeats=track_repeats)
    config = SkipGramConfig(vector_size=vector_size, epochs=epochs, seed=seed)
    key = {"corpus": corpus.digest(), "n_walks": n_walks, "n_general": n_general,
           "general_neighbours": general_neighbours, "track_repeats": track_repeats,
           "tag_split": split_fingerprint(corpus.tag_split) if corpus.tag_split else None,
           "skipgram": config.as_dict()}
    meta = read_meta(ws, MUSIC_NAME)
    if meta is not None and meta.get("build") == key and is_stored(ws, MUSIC_NAME):
        return meta
    start, cpu = time.perf_counter(), time.process_time()
    kv = train_skipgram(corpus.sentences, config)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return save_word_vectors(
        ws, kv, MUSIC_NAME, label=MUSIC_LABEL, domain="musical",
        source="core.words.corpus: train-split track paragraphs (without the unseen tags), beets genre-tree walks, "
               "genres-package groups, Tagspace glossary"
               + (f"; {GENERAL_SOURCE}, {n_general:,} words x {general_neighbours} neighbours"
                  if n_general else ""),
        format="skipgram", build=key, corpus_tokens=corpus.n_tokens, corpus_sources=corpus.sources,
        track_paragraphs=paragraph_record(corpus),
        training_seconds=round(seconds, 1), training_cpu_seconds=round(cpu, 1),
    )


def build_words(ws, size: str = "default", seed: int = 0, progress: Progress = silent,
                vector_size: int | None = None, epochs: int | None = None) -> dict[str, dict]:
    """Build both demo embeddings for ``ws``; returns name -> metadata.

    ``vector_size`` and ``epochs`` override the size preset for the skip-gram. The
    skip-gram's corpus creates the catalog's tag split first when there is none (seed 0,
    unseen fraction 0.2: the MWE trainer's defaults).
    """
    if size not in PRESETS:
        raise ParameterError(f"unknown size {size!r}; use one of {sorted(PRESETS)}")
    preset = PRESETS[size]
    tasks = [
        (GLOVE_NAME, lambda: build_glove(ws, limit=preset["glove_limit"])),
        (MUSIC_NAME, lambda: build_music_skipgram(
            ws, seed=seed, vector_size=vector_size or preset["vector_size"],
            epochs=epochs or preset["epochs"], n_walks=preset["n_walks"], n_general=preset["n_general"],
            general_neighbours=preset["general_neighbours"], track_repeats=preset["track_repeats"])),
    ]
    return {name: task() for name, task in progress(tasks, total=len(tasks), desc="word embeddings")}


def build_demo_words(ws, demo, progress: Progress = silent) -> None:
    """``build-demo`` step ``words``: both embeddings with the preset of ``demo.size``."""
    build_words(ws, size=demo.size, seed=demo.seed, progress=progress)
