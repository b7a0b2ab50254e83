"""The demo build: features and models, serial against parallel, and the build's time per step.

    python bench/bench_build.py [--workspace W] [--workers N] [--models P ...] [--skip-features] [--skip-models]
                                [--skip-embed-maps] [--long-recordings N] [--out bench/results/build.txt]

On a copy of a workspace (``--workspace``: a built demo, or a catalog imported with ``python -m core
import``; default ``$TAGSPACE_TEST_WORKSPACE`` or a fresh ``build-demo --size tiny`` in a temporary folder):

- features: ``FeatureStore.build`` of every track with 1 process, then with ``--workers``
  processes (default: every idle core, at least 2), each into an empty store; the ratio, and whether the two
  stores hold bit-identical arrays; with ``--long-recordings N``, the same on N long stereo
  recordings made from the workspace's clips and imported (:func:`long_recordings`);
- models: the presets ``--models`` trained at ``tiny`` one after another (1 process), then
  side by side (``--workers`` processes), each into an empty ``models/``; the ratio;
- embed and maps: the workspace's ``embed`` and ``maps`` steps with 1 process, then with
  ``--workers`` one-thread processes, each from empty ``embeddings/`` and ``projections/``; the
  ratio, and whether both give the same vectors and map coordinates;
- per step: the times of the workspace's last ``build-demo`` run (``build_report.json``).

Wall times on a shared machine vary with its load: both sides of a ratio run in this one
process, one after the other, and the machine's 1-minute load is printed with them, next to
the CPU seconds spent (this process and its workers: what the work costs, whatever the load).
Results: ``bench/results/build.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Light on purpose: spawned workers re-import this file as their main module, so everything
# heavy is imported inside the functions (a worker then pays only for what its task needs).
from core.cores import idle_cores  # noqa: E402
from core.progress import silent  # noqa: E402

MODELS = ["won-balanced", "lee-disentangled", "muslse-warp", "mwe-tag+artist+track"]
RESULTS = Path(__file__).resolve().parent / "results" / "build.txt"


def _copy(ws, target: Path, parts: tuple[str, ...]):
    """A workspace at ``target`` reading ``ws``'s audio, with ``parts`` copied (hard links where possible)."""
    from core.workspace import Workspace

    target.mkdir(parents=True)
    manifest = dict(ws.manifest, audio_root=str(ws.audio_root))
    (target / "workspace.json").write_text(json.dumps(manifest))
    for part in ("catalog", *parts):
        if (ws.root / part).exists():
            shutil.copytree(ws.root / part, target / part, copy_function=os.link)
    return Workspace.open(target)


def _load() -> float:
    return os.getloadavg()[0]


def _cpu() -> float:
    """CPU seconds of this process and its finished workers."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def bench_features(ws, workers: int, scratch: Path) -> list[str]:
    from core.features import FeatureStore

    times, stores = {}, {}
    for n in (1, workers):
        copy = _copy(ws, scratch / f"features-{ws.root.name}-{n}", ())
        load, cpu = _load(), _cpu()
        start = time.perf_counter()
        summary = FeatureStore(copy).build(progress=silent, workers=n)
        times[n] = (time.perf_counter() - start, load, summary["computed"], _cpu() - cpu)
        stores[n] = FeatureStore(copy)
    identical = all(np.array_equal(stores[1].mel(t).view(np.uint32), stores[workers].mel(t).view(np.uint32))
                    for t in ws.catalog.track_ids)
    lines = [f"features of {len(ws.catalog.track_ids)} tracks ({ws.root.name}):"]
    for n, (seconds, load, computed, cpu) in times.items():
        lines.append(f"  {n} process(es): {seconds:7.1f} s wall, {cpu:6.1f} s CPU  ({computed} computed; "
                     f"load before {load:.1f})")
    lines.append(f"  parallel / serial wall time: {times[workers][0] / times[1][0]:.2f}  "
                 f"(speed-up {times[1][0] / times[workers][0]:.2f}x); bit-identical arrays: {identical}")
    return lines


def long_recordings(ws, scratch: Path, count: int, seconds: float = 120.0):
    """A workspace of ``count`` long stereo recordings, made from ``ws``'s clips and imported as a researcher's are.

    What an import of real albums decodes: ``seconds`` of stereo, alternately OGG/Vorbis at 44.1 kHz
    and OGG/Opus at 48 kHz (both resampled to 22,050 Hz on load), where the demo's clips are short,
    mono and at 22,050 Hz already.
    """
    import soundfile as sf
    import soxr

    from core.audio import SAMPLE_RATE, load_audio
    from core.cli import main as cli
    from core.workspace import Workspace

    folder, clips = scratch / "long-audio", ws.catalog.track_ids
    folder.mkdir()
    rows, k = ["path,track_id,artist,tags"], 0
    for i in range(count):
        parts = []
        while sum(map(len, parts)) < seconds * SAMPLE_RATE:
            parts.append(load_audio(ws.audio_path(clips[k % len(clips)])))
            k += 1
        rate, subtype = (48_000, "OPUS") if i % 2 else (44_100, "VORBIS")
        mono = soxr.resample(np.concatenate(parts)[:int(seconds * SAMPLE_RATE)], SAMPLE_RATE, rate)
        stereo = 0.8 * np.stack([mono, np.roll(mono, rate // 100)], axis=1)
        with sf.SoundFile(folder / f"long-{i:02d}.ogg", "w", rate, 2, format="OGG", subtype=subtype) as f:
            for j in range(0, len(stereo), 8192):  # libsndfile's Vorbis writer crashed on a whole long array
                f.write(stereo[j:j + 8192])
        rows.append(f"long-{i:02d}.ogg,long-{i:02d},artist-{i % 6},genre:g{i % 3}")
    (scratch / "long.csv").write_text("\n".join(rows) + "\n")
    root = scratch / "long-recordings"
    if cli(["import", "--workspace", str(root), "--format", "csv", "--tags", str(scratch / "long.csv"),
            "--audio-root", str(folder)]) != 0:
        raise RuntimeError("the import of the long recordings failed")
    return Workspace.open(root)


def bench_models(ws, names: list[str], workers: int, scratch: Path) -> list[str]:
    from core.training.demo import train_presets

    times = {}
    for n in (1, workers):
        copy = _copy(ws, scratch / f"models-{n}", ("features", "words"))
        load, cpu = _load(), _cpu()
        start = time.perf_counter()
        train_presets(copy, names, "tiny", 0, silent, workers=n, log=lambda m: None)
        times[n] = (time.perf_counter() - start, load, _cpu() - cpu)
    lines = [f"models at tiny: {', '.join(names)}:"]
    for n, (seconds, load, cpu) in times.items():
        lines.append(f"  {n} process(es): {seconds:7.1f} s wall, {cpu:6.1f} s CPU  (load before {load:.1f})")
    lines.append(f"  parallel / serial wall time: {times[workers][0] / times[1][0]:.2f}  "
                 f"(speed-up {times[1][0] / times[workers][0]:.2f}x)")
    return lines


def bench_embed_and_maps(ws, workers: int, scratch: Path) -> list[str]:
    from types import SimpleNamespace

    from core.engine.embed import load_embeddings
    from core.engine.projection import load_projection
    from core.pipeline.prepare import embed_models, embed_pending, fit_maps, maps_pending

    lines, copies = [], {}
    for n in (1, workers):
        copies[n] = _copy(ws, scratch / f"embed-{n}", ("features", "words", "models"))
    for step, pending, run in (("embed", embed_pending, embed_models), ("maps", maps_pending, fit_maps)):
        times = {}
        for n, copy in copies.items():
            jobs = len(pending(copy))
            load, cpu = _load(), _cpu()
            start = time.perf_counter()
            run(copy, SimpleNamespace(workers=n), silent)
            times[n] = (time.perf_counter() - start, load, jobs, _cpu() - cpu)
        lines.append(f"{step} ({times[1][2]} jobs, {ws.root.name}):")
        for n, (seconds, load, jobs, cpu) in times.items():
            lines.append(f"  {n} process(es): {seconds:7.1f} s wall, {cpu:6.1f} s CPU  (load before {load:.1f})")
        a, b = copies[1], copies[workers]
        if step == "embed":
            same = all(np.allclose(load_embeddings(a, m).tracks, load_embeddings(b, m).tracks, atol=1e-5)
                       for m in a.model_names())
            what = "same vectors (within 1e-5)"
        else:
            maps = [("model", m) for m in a.model_names()] + [("words", w) for w in a.word_embedding_names()]
            same = all(np.array_equal(load_projection(a, k, m).coords, load_projection(b, k, m).coords)
                       for k, m in maps)
            what = "identical map coordinates"
        lines.append(f"  parallel / serial wall time: {times[workers][0] / times[1][0]:.2f}  "
                     f"(speed-up {times[1][0] / times[workers][0]:.2f}x); {what}: {same}")
        lines.append("")
    return lines


def build_steps(ws) -> list[str]:
    from core.pipeline.runner import read_report

    timings = read_report(ws.root).get("timings", {}).get("build-demo")
    if not timings:
        return [f"per step: {ws.root} has no timed build-demo run"]
    lines = [f"last build-demo of {ws.root} (size {timings.get('size')}, workers {timings.get('workers')}, "
             f"cores {timings.get('cores')}), seconds per step (a step with nothing to do: 0):"]
    lines += [f"  {name:<10}{seconds:8.1f}" for name, seconds in timings.get("last_run", {}).items()]
    lines.append(f"  total     {timings.get('total_seconds', 0):8.1f}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", default=os.environ.get("TAGSPACE_TEST_WORKSPACE"))
    parser.add_argument("--workers", type=int, default=idle_cores())
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--skip-models", action="store_true")
    parser.add_argument("--skip-features", action="store_true")
    parser.add_argument("--skip-embed-maps", action="store_true")
    parser.add_argument("--long-recordings", type=int, default=0, metavar="N",
                        help="also time features on N long stereo recordings made from the workspace's clips")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    from core.demo.build import build_demo, is_built
    from core.workspace import Workspace

    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        scratch = Path(tmp)
        root = Path(args.workspace) if args.workspace else scratch / "tiny"
        # a given workspace is used as it is (a demo, or a catalog imported with `python -m core import`)
        opened = is_built(root) or (args.workspace and (root / "workspace.json").is_file())
        ws = Workspace.open(root) if opened else build_demo(root, size="tiny", progress=silent, log=lambda m: None)
        lines = [f"bench_build.py on {platform.node()}: {os.cpu_count()} cores, pool of {max(2, args.workers)}, "
                 f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
        if not args.skip_features:
            lines += bench_features(ws, max(2, args.workers), scratch) + [""]
        if args.long_recordings:
            long = long_recordings(ws, scratch, args.long_recordings)
            lines += ["long recordings: 120 s of stereo each, OGG/Vorbis 44.1 kHz and OGG/Opus 48 kHz alternately"]
            lines += bench_features(long, max(2, args.workers), scratch) + [""]
        if not args.skip_models:
            lines += bench_models(ws, args.models, max(2, args.workers), scratch) + [""]
        if not args.skip_embed_maps:
            lines += bench_embed_and_maps(ws, max(2, args.workers), scratch)
        lines += build_steps(ws)
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
