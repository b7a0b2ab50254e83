"""Cost of the bootstrap intervals and paired comparisons at the default demo's size.

A synthetic evaluation shaped like the default demo (61 test tracks from 20
pieces, 49 tags in 4 categories, 5 x 40,000 held-out triplets, 20 models, 16 of
them with a text side) goes through the real functions:

* reference: computing the metrics themselves (tag metrics, triplet accuracy,
  query-by-track recall) for every model -- what ``evaluate`` does besides
  embedding the audio;
* bootstrap: every model's interval tree (2,000 resamples), the paired
  comparisons of the stated claims and the common-tag metrics with intervals.

Prints both times and their ratio, and writes ``bench/results/bootstrap.txt``.

    python bench/bench_bootstrap.py
"""

from __future__ import annotations

import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.catalog import Catalog  # noqa: E402
from core.evaluation.bootstrap import N_RESAMPLES, Resampler, interval_tree  # noqa: E402
from core.evaluation.comparisons import compare, stated_claims  # noqa: E402
from core.evaluation.query_by_tag import common_tag_metrics, tagging_metrics  # noqa: E402
from core.evaluation.query_by_track import query_by_track_metrics  # noqa: E402
from core.evaluation.similarity import triplet_metrics  # noqa: E402
from core.evaluation.units import MetricSet  # noqa: E402

N_TRACKS, N_PIECES, N_TRIPLETS = 61, 20, 40_000
CATEGORIES = {"genre": 14, "mood": 6, "instrument": 13, "tempo": 16}
MODELS = ["won-random", "won-balanced", "won-balanced-weighted", "won-balanced-weighted-rhythm",
          "won-balanced-weighted-musical", "muslse-warp", "muslse-auc", "mwe-tag+artist+track",
          "mwe-tag+artist+track-rhythm", "mwe-tag+artist+track-glove", "mwe-tag", "mwe-track", "won-a", "won-b",
          "won-c", "won-d", "lee-disentangled", "lee-disentangled-rhythm", "lee-category", "lee-specialised"]
TEXT_MODELS = MODELS[:16]


def synthetic_catalog(rng) -> Catalog:
    tracks, tags = [], []
    for i in range(N_TRACKS):
        tid = f"t{i:03d}"
        tracks.append({"track_id": tid, "artist_id": f"a{i % 12}", "title": tid, "audio_path": f"{tid}.ogg",
                       "duration": 30.0, "split": "test", "bpm": float(rng.integers(60, 160)), "source": "bench",
                       "piece_id": f"p{i % N_PIECES}"})
        for category, n in CATEGORIES.items():
            for j in rng.choice(n, size=1 + int(rng.random() < 0.4), replace=False):
                tag = f"{category}{j}"
                tags.append({"track_id": tid, "tag": tag, "original_tag": tag, "category": category, "score": 100.0})
    artists = pd.DataFrame({"artist_id": [f"a{i}" for i in range(12)], "name": [f"A{i}" for i in range(12)]})
    return Catalog(pd.DataFrame(tracks), artists, pd.DataFrame(tags))


class Model:
    normalized, dim = True, 64

    def __init__(self, name):
        self.name = name

    def subspaces(self):
        if not self.name.startswith("lee-") or self.name == "lee-category":
            return {"all": slice(0, 64)}
        return {"genre": slice(0, 16), "mood": slice(16, 32), "instrument": slice(32, 48), "tempo": slice(48, 64)}


def triplet_sets(rng, ids):
    sets = {}
    for name in ("genre", "mood", "instrument", "tempo"):
        a, p, n = (rng.choice(ids, size=N_TRIPLETS) for _ in range(3))
        sets[name] = pd.DataFrame({"anchor": a, "positive": p, "negative": n})
    a, n = rng.choice(ids, size=N_TRIPLETS), rng.choice(ids, size=N_TRIPLETS)
    starts = rng.integers(0, 10, size=(3, N_TRIPLETS)) * 65
    sets["track"] = pd.DataFrame({"anchor": a, "anchor_start": starts[0], "positive": a, "positive_start": starts[1],
                                  "negative": n, "negative_start": starts[2]})
    return sets


def metrics_of(name, catalog, ids, triplets, rng) -> MetricSet:
    vectors = rng.normal(size=(len(ids), 64))
    by_id = dict(zip(ids, vectors))
    excerpts = {(t, int(s)): rng.normal(size=64) for c in ("anchor", "positive", "negative")
                for t, s in zip(triplets["track"][c], triplets["track"][f"{c}_start"])}
    result = MetricSet(arrays={"track_ids": np.asarray(ids)})
    result.add(triplet_metrics(Model(name), by_id, triplets, excerpts), ("triplet_acc",))
    result.add(query_by_track_metrics(Model(name), catalog, ids, vectors))
    if name in TEXT_MODELS:
        tags = catalog.tags()
        y = catalog.tag_matrix(ids, tags).astype(bool)
        scores = y + rng.normal(0, 1.0, size=y.shape)
        result.add(tagging_metrics(y, scores, ids, tags))
        result.arrays.update({"tag_scores": scores, "tag_truth": y, "tags": np.asarray(tags)})
    return result


def main() -> int:
    rng = np.random.default_rng(0)
    catalog = synthetic_catalog(rng)
    ids = catalog.track_ids
    triplets = triplet_sets(rng, ids)
    start = time.perf_counter()
    results = {name: metrics_of(name, catalog, ids, triplets, rng) for name in MODELS}
    reference = time.perf_counter() - start

    start = time.perf_counter()
    resampler = Resampler(0, N_RESAMPLES)
    intervals = {name: interval_tree(r.units, resampler) for name, r in results.items()}
    claims = stated_claims(MODELS)
    comparisons = compare(claims, {"models": {n: r.units for n, r in results.items()}}, resampler)
    tags, common = common_tag_metrics(ids, {n: r.arrays for n, r in results.items() if "tag_scores" in r.arrays})
    common_intervals = {n: interval_tree(r.units, resampler) for n, r in common.items()}
    bootstrap = time.perf_counter() - start

    n_intervals = sum(len(r.units) for r in results.values()) + sum(len(r.units) for r in common.values())
    lines = [f"Tagspace bootstrap benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
             f"machine: {len(__import__('os').sched_getaffinity(0))} cores, Python {platform.python_version()}, "
             f"numpy {np.__version__}",
             f"{len(MODELS)} models, {N_TRACKS} test tracks, {len(catalog.tags())} tags, 5 x {N_TRIPLETS} triplets, "
             f"{N_RESAMPLES} resamples", "",
             f"metrics (reference, no embedding): {reference:.2f} s",
             f"intervals ({n_intervals} metrics) + {len(comparisons)} comparisons + common tags "
             f"({len(tags)} tags): {bootstrap:.2f} s",
             f"ratio bootstrap / metrics: {bootstrap / reference:.2f}"]
    assert all(intervals.values()) and common_intervals
    text = "\n".join(lines)
    print(text)
    out = ROOT / "bench" / "results" / "bootstrap.txt"
    out.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
