"""Engine benchmark: query latency, index kinds on a model's distribution, UMAP fits, extraction.

Usage::

    python bench/bench_engine.py [--quick] [--workspace W] [--sections S ...]
                                 [--index-tracks N] [--index-model M]

* ``queries``: latency p50/p95 of text -> tracks and weighted subspace search over
  synthetic 256-d tracks (4 x 64-d subspaces; unit vectors around 2,000 centres,
  so an IVF index has structure to find), at 10k, 100k, 200k and 1M tracks (not
  with ``--quick``), exact and the index chosen by :func:`build_approximate`.
* ``index``: every index kind (IVF, HNSW, IVF-SQ8 and IVF-PQ with exact re-ranking) built and
  tuned by the engine's own chooser on ``--index-tracks`` vectors (default
  100,000) drawn from a
  trained model's track-embedding distribution: a Gaussian mixture fitted to
  ``embeddings/<--index-model>/tracks.npy`` of ``--workspace`` in its principal
  subspace, plus isotropic noise at the residual variance (see
  :func:`model_distribution`). Reference, same run, same queries: numpy brute
  force and faiss ``IndexFlatIP``; every row prints its p95 ratio to numpy.
  Recall@10 against exact search, bytes per track, build time.
* ``umap``: UMAP fit of 10k and 50k points: cold (fresh process, empty numba
  cache: import + compile + fit) and warm (second fit in the same process); and
  placing 100 new points with ``Projection.place`` (what the app does).
* ``extraction``: throughput (tracks/s) with the first model of ``--workspace`` if
  it has one, else the tests' fake model.

faiss runs on 2 OpenMP threads for builds and batch recall; every timed
search is one query on one thread (what the app does). Prints one table and
writes it to ``bench/results/engine.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import faiss
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import publish  # noqa: E402

from core.engine import queries as q  # noqa: E402
from core.engine.embed import EmbeddingSet, embeddings_path, encode_tracks  # noqa: E402
from core.engine.engine import Engine  # noqa: E402
from core.engine.index import IndexConfig, TrackIndex, build_approximate, recall_queries  # noqa: E402
from core.engine.index_kinds import single_query_latency  # noqa: E402

DIM = 256
SUBSPACES = {"genre": [0, 64], "mood": [64, 128], "instrument": [128, 192], "tempo": [192, 256]}
N_QUERIES = 200
UMAP_SCRIPT = """
import json, sys, time
from pathlib import Path
import numpy as np
from core.engine.projection import Projection, UmapParams, fit_umap
n, out = int(sys.argv[1]), Path(sys.argv[2])
rng = np.random.default_rng(0)
x = rng.normal(size=(n, 256)).astype(np.float32) + np.repeat(rng.normal(size=(50, 256)), n // 50, axis=0)
x /= np.linalg.norm(x, axis=1, keepdims=True)
t0 = time.perf_counter()
coords = fit_umap(x, UmapParams())  # imports umap: numba compiles (or loads) its kernels
t1 = time.perf_counter()
fit_umap(x, UmapParams(seed=1))
t2 = time.perf_counter()
np.save(out / "v.vectors.npy", x)
proj = Projection("model", "bench", [], [], [], coords, np.zeros(n), {"params": {"n_neighbors": 15}}, out / "v.npz")
new = x[:100] + 0.01 * rng.normal(size=(100, 256)).astype(np.float32)
t3 = time.perf_counter()
proj.place(new)
t4 = time.perf_counter()
print(json.dumps({"cold": t1 - t0, "warm": t2 - t1, "place100": t4 - t3}))
"""


def machine() -> str:
    model = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores, {model}, Python {platform.python_version()}, numpy {np.__version__}, "
            f"faiss {faiss.__version__} ({faiss.omp_get_max_threads()} threads)")


def synthetic_engine(n: int, seed: int = 0) -> Engine:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(2000, DIM)).astype(np.float32)
    x = np.empty((n, DIM), dtype=np.float32)
    for start in range(0, n, 100_000):  # in chunks: bounded temporary memory at 1M
        stop = min(n, start + 100_000)
        x[start:stop] = centres[rng.integers(2000, size=stop - start)] + rng.normal(size=(stop - start, DIM))
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    terms = [{"term": f"tag{i}", "kind": "tag", "category": "genre", "seen": True} for i in range(500)]
    tv = centres[:500] / np.linalg.norm(centres[:500], axis=1, keepdims=True)
    meta = {"source": {}, "metric": "cosine", "subspaces": SUBSPACES, "has_text": True, "maps_word_vectors": False}
    return Engine(None, EmbeddingSet("bench", [f"t{i}" for i in range(n)], x, terms, tv.astype(np.float32), meta))


def latency(fn, n: int) -> tuple[float, float]:
    fn(0)  # first call outside the timing (allocations, lazy imports)
    times = []
    for i in range(n):
        start = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 95) * 1e3)


def bench_queries(n: int, rows: list) -> None:
    engine = synthetic_engine(n)
    rng = np.random.default_rng(1)
    weights = [{s: float(rng.uniform(0, 1)) for s in [*SUBSPACES, "track"]} for _ in range(N_QUERIES)]
    picks = rng.integers(n, size=N_QUERIES)

    def run(variant: str, recall: str, note: str) -> None:
        p50, p95 = latency(lambda i: q.text_to_tracks(engine, f"tag{i % 500}", k=10), N_QUERIES)
        rows.append(("text -> tracks", n, variant, f"{p50:.1f} ms", f"{p95:.1f} ms", recall, note))
        p50, p95 = latency(lambda i: q.weighted_subspace_search(engine, f"t{picks[i]}", weights[i], k=10),
                           N_QUERIES)
        rows.append(("weighted subspace", n, variant, f"{p50:.1f} ms", f"{p95:.1f} ms", recall, note))

    run("exact (FlatIP)", "1", "")
    config = IndexConfig(approximate_above=0, recall_queries=300, kinds=("ivf",), exact_if_faster=False)
    start = time.perf_counter()
    approx, meta = build_approximate(engine.emb.tracks, engine.emb.subspaces, config)
    build = time.perf_counter() - start
    engine.index = TrackIndex(engine.emb.tracks, approx, meta, config)
    used = "" if engine.index.uses_approximate else "; below floor: exact used"
    ivf = meta["candidates"]["ivf"]
    run(f"{ivf['factory']} nprobe={ivf['params']['nprobe']}", f"{ivf['recall_at_10']:.3f}",
        f"build {build:.0f} s{used}")


def model_distribution(source: np.ndarray, n: int, seed: int = 0, components: int = 32,
                       explained: float = 0.99) -> np.ndarray:
    """``n`` unit vectors drawn from a model's track-embedding distribution.

    A Gaussian mixture (full covariances) is fitted to ``source`` in its
    principal subspace (the fewest components explaining ``explained`` of the
    variance); samples are mapped back and get isotropic Gaussian noise in the
    remaining directions at the mean variance of the source's remaining principal
    components, then are normalised
    (the engine's vectors are unit length for cosine models). So the samples
    keep the model's cluster structure and anisotropy, but are not copies of a
    few hundred points with noise.
    """
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    source = np.asarray(source, dtype=np.float64)
    pca = PCA(random_state=seed).fit(source)
    rank = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), explained) + 1)
    rank = min(rank, len(source) // 4, source.shape[1])
    reduced = pca.transform(source)[:, :rank]
    mixture = GaussianMixture(min(components, len(source) // 10), covariance_type="full", reg_covar=1e-4,
                              random_state=seed).fit(reduced)
    spectrum = pca.explained_variance_[:len(source) - 1]  # the rest is zero: n points span n - 1 directions
    residual = float(spectrum[rank:].mean()) if rank < len(spectrum) else 0.0
    factors = np.linalg.cholesky(mixture.covariances_)
    rng = np.random.default_rng(seed)
    out = np.empty((n, source.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):  # in chunks: bounded temporary memory at 1M
        stop = min(n, start + 100_000)
        component = rng.choice(len(mixture.weights_), size=stop - start, p=mixture.weights_)
        z = rng.standard_normal(size=(stop - start, rank), dtype=np.float32).astype(np.float64)
        for c in range(len(mixture.weights_)):
            mine = component == c
            z[mine] = mixture.means_[c] + z[mine] @ factors[c].T
        x = z @ pca.components_[:rank] + pca.mean_
        noise = np.sqrt(residual) * rng.standard_normal(size=x.shape, dtype=np.float32)
        noise -= (noise @ pca.components_[:rank].T) @ pca.components_[:rank]  # only outside the subspace
        x += noise
        out[start:stop] = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def load_model_tracks(workspace: str | None, model: str) -> tuple[np.ndarray, dict, str]:
    """A model's stored track embeddings and subspaces, or None when the workspace lacks them."""
    from core.workspace import Workspace

    if not workspace:
        return None, {}, "no --workspace"
    ws = Workspace.open(workspace)
    directory = embeddings_path(ws, model)
    if not (directory / "meta.json").is_file():
        return None, {}, f"no embeddings of {model!r} in {workspace}"
    emb = EmbeddingSet.read(directory, model)
    return emb.tracks, emb.subspaces, f"{model!r}: {len(emb.tracks)} tracks, {emb.tracks.shape[1]}-d"


def bench_index_kinds(n: int, workspace: str | None, model: str, rows: list) -> str:
    """Every index kind vs brute force on ``n`` vectors from a model's distribution; returns the data note."""
    source, subspaces, found = load_model_tracks(workspace, model)
    if source is None:
        raise SystemExit(f"the index section needs a model's embeddings ({found}); pass --workspace and "
                         "--index-model, or leave 'index' out of --sections")
    start = time.perf_counter()
    x = model_distribution(source, n)
    note = (f"index kinds: {n:,} vectors from a {min(32, len(source) // 10)}-component Gaussian mixture fitted to "
            f"model {found} (principal subspace, residual noise; {time.perf_counter() - start:.0f} s)")
    print(note, file=sys.stderr, flush=True)
    config = IndexConfig(approximate_above=0, recall_queries=300, latency_queries=N_QUERIES)
    own, queries = recall_queries(x, subspaces, config.recall_queries, config.seed + 1)
    timed = queries[:N_QUERIES]

    def numpy_search(query, k):
        scores = x @ query[0]
        top = np.argpartition(-scores, k)[:k]
        return top[np.argsort(-scores[top])]

    numpy_p50, numpy_p95 = single_query_latency(numpy_search, timed, 10)
    task = "index kinds (model dist.)"
    rows.append((task, n, "exact: numpy brute force (reference)", f"{numpy_p50:.1f} ms", f"{numpy_p95:.1f} ms",
                 "1", f"p95 1.00x; {4 * x.shape[1]} bytes/track"))
    start = time.perf_counter()
    approx, meta = build_approximate(x, subspaces, config, log=lambda m: print(m, file=sys.stderr, flush=True))
    total = time.perf_counter() - start
    ex = meta["exact"]
    rows.append((task, n, "exact: faiss IndexFlatIP", f"{ex['p50_ms']:.1f} ms", f"{ex['p95_ms']:.1f} ms", "1",
                 f"p95 {ex['p95_ms'] / numpy_p95:.2f}x; {ex['bytes_per_track']:.0f} bytes/track"))
    for kind, c in meta["candidates"].items():
        params = " ".join(f"{k}={v}" for k, v in c["params"].items())
        floor = "" if c["recall_at_10"] >= config.min_recall else "; below floor"
        rows.append((task, n, f"{kind}: {c['factory']} {params}", f"{c['p50_ms']:.2f} ms", f"{c['p95_ms']:.2f} ms",
                     f"{c['recall_at_10']:.3f}", f"p95 {c['p95_ms'] / numpy_p95:.2f}x; {c['bytes_per_track']:.0f} "
                     f"bytes/track; build {c['build_seconds']:.0f} s{floor}"))
    rows.append((task, n, f"chosen: {meta['kind']}", "", "", f"{meta['recall_at_10']:.3f}",
                 f"{meta['reason']} (build+tune+time all kinds {total:.0f} s)"))
    return note


def bench_umap(n: int, rows: list) -> None:
    with tempfile.TemporaryDirectory() as cache, tempfile.TemporaryDirectory() as out:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        proc = subprocess.run([sys.executable, "-c", UMAP_SCRIPT, str(n), out], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    t = json.loads(proc.stdout.strip().splitlines()[-1])
    rows.append(("UMAP fit", n, "cold: new process, empty numba cache", f"{t['cold']:.1f} s", "", "",
                 "import + compile + fit"))
    rows.append(("UMAP fit", n, "warm: compiled, same process", f"{t['warm']:.1f} s", "", "", ""))
    rows.append(("place 100 new points", n, "numpy (no numba)", f"{t['place100'] * 1e3:.0f} ms", "", "",
                 "Projection.place"))


def bench_extraction(workspace: str | None, rows: list) -> None:
    import torch

    n = 64
    model, mels, label = None, None, ""
    if workspace:
        from core.workspace import Workspace

        ws = Workspace.open(workspace)
        if ws.model_names():
            from core.features import FeatureStore
            from core.models.checkpoint import load_model

            name = ws.model_names()[0]
            model, store = load_model(ws, name), FeatureStore(ws)
            ids = ws.catalog.track_ids[:n]
            mels = [store.mel(t) for t in ids]
            label = f"model {name!r} ({model.family}), {np.mean([m.shape[1] for m in mels]):.0f} frames/track"
    if model is None:
        from tests.fixtures.engine_fakes import N_MELS, FakeModel

        model = FakeModel({"dim": 16}, {"tags": [], "artists": []})
        mels = [np.random.default_rng(i).random((N_MELS, 862), dtype=np.float32) for i in range(n)]
        label = "fake linear model (no workspace model)"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model.to(device)
    encode_tracks(model, iter(mels[:4]), 4)  # warm-up
    start = time.perf_counter()
    encode_tracks(model, iter(mels), len(mels))
    seconds = time.perf_counter() - start
    rows.append(("embedding extraction", len(mels), device, f"{len(mels) / seconds:.1f} tracks/s", "", "", label))


def table(rows: list) -> str:
    header = ("task", "n", "variant", "p50 / time", "p95", "recall@10", "notes")
    rows = [header] + [tuple(f"{c:,}" if isinstance(c, int) else str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    fmt = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    return "\n".join([fmt(rows[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [fmt(r) for r in rows[1:]])


SECTIONS = ("queries", "index", "umap", "extraction")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the 1M-track queries")
    parser.add_argument("--workspace", default=os.environ.get("TAGSPACE_WORKSPACE"),
                        help="workspace whose models are used for extraction and the index section's distribution")
    parser.add_argument("--sections", nargs="+", choices=SECTIONS, default=list(SECTIONS),
                        help="parts to run (default: all)")
    parser.add_argument("--index-tracks", type=int, default=100_000,
                        help="vectors in the index section (default %(default)s; 1M takes far longer on 2 cores)")
    parser.add_argument("--index-model", default="lee-disentangled",
                        help="model whose track embeddings' distribution the index section samples")
    parser.add_argument("--output", default=str(ROOT / "bench" / "results" / "engine.txt"),
                        help="where the table is written (default %(default)s)")
    args = parser.parse_args()
    faiss.omp_set_num_threads(2)
    rows: list = []
    notes = []
    if "queries" in args.sections:
        for n in (10_000, 100_000, 200_000) + (() if args.quick else (1_000_000,)):
            bench_queries(n, rows)
            print(f"queries at {n:,} done", file=sys.stderr, flush=True)
    if "index" in args.sections:
        notes.append(bench_index_kinds(args.index_tracks, args.workspace, args.index_model, rows))
    if "umap" in args.sections:
        for n in (10_000, 50_000):
            bench_umap(n, rows)
            print(f"UMAP at {n:,} done", file=sys.stderr, flush=True)
    if "extraction" in args.sections:
        bench_extraction(args.workspace, rows)
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(sys.argv[1:])
    text = (f"Tagspace engine benchmark ({command or 'defaults'}), {stamp}\n"
            f"machine: {machine()}, load average {os.getloadavg()[0]:.1f} at the end\n"
            f"k = 10, {N_QUERIES} queries per row; one query on one thread per timing\n"
            + "".join(f"{n}\n" for n in notes) + f"\n{table(rows)}\n")
    publish(text, Path(args.output))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
