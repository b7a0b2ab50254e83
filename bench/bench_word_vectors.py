"""Load time and resident memory of a GoogleNews-format binary: cold load vs the converted workspace store.

Writes a synthetic word2vec binary (1M x 300 by default, 100k x 300 with --quick;
GoogleNews itself is 3M x 300), then measures each step in a fresh process so
resident memory (RSS) is that step's alone:

- ``gensim binary load``: ``KeyedVectors.load_word2vec_format(binary=True)``, what most code does;
- ``tagspace binary read``: :func:`core.words.read_vectors` (validating reader);
- ``import to store``: read + :func:`core.words.import_word_vectors` (``.npy`` + Parquet, norms saved);
- ``store load (mmap)``: :func:`core.words.load_word_vectors`, memory-mapped, no pickle;
- ``store load + first neighbours``: the same plus one :func:`core.words.compare.neighbours` query;
- ``gensim .kv mmap load (pickle)``: the layout Tagspace stored before, for reference
  (``KeyedVectors.load(mmap='r')`` of our own file);
- ``store, no saved norms, most_similar``: gensim computing norms on first use (the memory spike
  precomputed norms avoid).

Usage: ``python bench/bench_word_vectors.py [--quick] [--dir DIR] [--keep]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

STEP = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
{setup}
baseline = rss_mb()
start, cpu = time.perf_counter(), time.process_time()
{body}
seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
print(json.dumps({{"seconds": seconds, "cpu_seconds": cpu, "baseline_mb": baseline, "rss_mb": rss_mb(),
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""

# Parquet is warmed up before the clock (one small read: pyarrow's first read costs ~0.2 s and
# ~20 MiB once per process), as in the app, which has read the catalog's Parquet tables already
_CORE = ("from core.workspace import Workspace\nfrom core.words import import_word_vectors, load_word_vectors, "
         "read_vectors\nfrom core.words.compare import neighbours\nfrom gensim.models import KeyedVectors\n"
         "import io, pyarrow, pyarrow.parquet\n_buf = io.BytesIO()\n"
         "pyarrow.parquet.write_table(pyarrow.table({'w': ['x']}), _buf)\n"
         "pyarrow.parquet.ParquetFile(io.BytesIO(_buf.getvalue())).read()")

#: step -> code timed (imports are done before the clock starts, and their memory is the baseline)
BODIES = {
    "gensim binary load": "kv = KeyedVectors.load_word2vec_format({bin!r}, binary=True)",
    "tagspace binary read": "kv = read_vectors({bin!r})",
    "import to store": "import_word_vectors(Workspace.create({ws!r}, name='bench'), {bin!r}, 'synthetic')",
    "store load (mmap)": "wv = load_word_vectors(Workspace.open({ws!r}), 'synthetic')",
    "store load + first neighbours": "wv = load_word_vectors(Workspace.open({ws!r}), 'synthetic')\n"
                                     "neighbours(wv, 'w17', k=10)",
    "gensim .kv mmap load (pickle)": "kv = KeyedVectors.load({kv!r}, mmap='r')",
    "store, no saved norms, most_similar": "kv = load_word_vectors(Workspace.open({ws!r}), 'synthetic').kv\n"
                                           "kv.norms = None\nkv.most_similar('w17', topn=10)",
}
#: untimed: the reference .kv (gensim's pickle layout, written by us from the stored arrays)
MAKE_KV = ("kv = load_word_vectors(Workspace.open({ws!r}), 'synthetic').kv\n"
           "kv.save({kv!r}, sep_limit=0)")


def write_binary(path: Path, n: int, dim: int, seed: int = 0, chunk: int = 20000) -> None:
    """GoogleNews layout: header, then ``word<space><dim float32>`` per word, written in chunks."""
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(f"{n} {dim}\n".encode())
        for start in range(0, n, chunk):
            block = rng.standard_normal((min(chunk, n - start), dim), dtype=np.float32)
            f.write(b"".join(f"w{start + i} ".encode() + row.tobytes() for i, row in enumerate(block)))


def run_step(name: str, paths: dict) -> dict:
    if name == "gensim .kv mmap load (pickle)" and not Path(paths["kv"]).exists():
        run_code(MAKE_KV.format(**paths))
    return run_code(BODIES[name].format(**paths))


def run_code(body: str) -> dict:
    code = STEP.format(root=str(ROOT), setup=_CORE, body=body)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k words instead of 1M")
    parser.add_argument("--words", type=int, default=None, help="number of words (overrides --quick)")
    parser.add_argument("--dim", type=int, default=300)
    parser.add_argument("--dir", default=None, help="scratch directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch files")
    args = parser.parse_args(argv)
    n = args.words or (100_000 if args.quick else 1_000_000)
    scratch = Path(args.dir or tempfile.mkdtemp(prefix="bench-words-"))
    scratch.mkdir(parents=True, exist_ok=True)
    paths = {"bin": str(scratch / "synthetic.bin"), "ws": str(scratch / "ws"),
             "kv": str(scratch / "reference.kv")}
    try:
        start = time.perf_counter()
        write_binary(Path(paths["bin"]), n, args.dim)
        size_mb = os.path.getsize(paths["bin"]) / 2**20
        print(f"synthetic GoogleNews-format binary: {n:,} x {args.dim}, {size_mb:,.0f} MiB "
              f"(written in {time.perf_counter() - start:.1f} s)")
        print(f"{'step':<38}{'seconds':>9}{'CPU s':>8}{'+RSS MiB':>10}{'+peak MiB':>11}")
        for name in BODIES:
            r = run_step(name, paths)
            print(f"{name:<38}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}{r['rss_mb'] - r['baseline_mb']:>10.0f}"
                  f"{r['peak_mb'] - r['baseline_mb']:>11.0f}")
        print("seconds: wall time; CPU s: the process's CPU time (steadier on a busy machine; page-cache reads "
              "and disk waits are not in it). +RSS: resident memory added by the step, at its end (memory-mapped "
              "pages that were read count); +peak: the most added at any moment. Both relative to the "
              "interpreter after imports.")
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
