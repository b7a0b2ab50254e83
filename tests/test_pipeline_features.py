"""The feature store's shards and its process pool: the same arrays as the serial path, old files still read."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.features import FeatureStore, compute_mel, write_shard
from core.importers import import_csv
from core.progress import silent
from core.workspace import Workspace

SR = 22050


def _workspace(tmp_path, name: str, audio, csv) -> Workspace:
    ws = Workspace.create(tmp_path / name, name=name, audio_root=str(audio))
    ws.save_catalog(import_csv(csv, audio))
    return ws


@pytest.fixture
def audio_folder(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    rng = np.random.default_rng(0)
    rows = ["path,track_id,artist,tags"]
    for i in range(9):
        seconds = 0.5 + 0.25 * i
        t = np.arange(int(SR * seconds)) / SR
        y = 0.2 * np.sin(2 * np.pi * (110 * (i + 1)) * t) + 0.05 * rng.standard_normal(t.size)
        name = f"clip{i}." + ("wav", "flac", "ogg")[i % 3]
        sf.write(audio / name, y.astype(np.float32), SR if i % 2 else 44100)
        rows.append(f"{name},track/{i},artist{i % 3},genre:g{i % 2}")
    csv = tmp_path / "tags.csv"
    csv.write_text("\n".join(rows) + "\n")
    return audio, csv


def test_parallel_features_are_bit_identical_to_the_serial_path(tmp_path, audio_folder):
    audio, csv = audio_folder
    serial, parallel = _workspace(tmp_path, "serial", audio, csv), _workspace(tmp_path, "parallel", audio, csv)
    assert FeatureStore(serial).build(progress=silent, workers=1)["computed"] == 9
    assert FeatureStore(parallel).build(progress=silent, workers=2)["computed"] == 9
    a, b = FeatureStore(serial), FeatureStore(parallel)
    for tid in serial.catalog.track_ids:
        x, y = a.mel(tid), b.mel(tid)
        assert x.shape == y.shape and x.shape[0] == 128
        assert np.array_equal(x.view(np.uint32), y.view(np.uint32))  # bit for bit, not merely close
        # and equal to the float16 rounding of the serial function called directly
        assert np.array_equal(x, compute_mel(serial.audio_path(tid)).astype(np.float32))
    # several workers wrote several shards, no single files, nothing temporary left
    shards = sorted((parallel.features_dir / "mel").glob("shard-*.npz"))
    assert len(shards) >= 2 and not list((parallel.features_dir / "mel").glob("*.npy"))
    assert not list((parallel.features_dir / "mel").glob(".tmp-*"))


def test_a_shard_without_its_json_is_ignored_and_recomputed(tmp_path, audio_folder):
    audio, csv = audio_folder
    ws = _workspace(tmp_path, "ws", audio, csv)
    store = FeatureStore(ws)
    store.build(progress=silent, workers=1)
    metas = sorted((ws.features_dir / "mel").glob("shard-*.json"))
    lost = list(json.loads(metas[0].read_text())["tracks"])
    metas[0].unlink()  # as if the build died between the .npz and its .json
    fresh = FeatureStore(ws)
    assert not any(fresh.has(t) for t in lost)
    summary = fresh.build(progress=silent, workers=1)
    assert summary["computed"] == len(lost) and summary["cached"] == 9 - len(lost)


def test_old_single_files_are_read_and_not_recomputed(tmp_path, audio_folder):
    audio, csv = audio_folder
    ws = _workspace(tmp_path, "ws", audio, csv)
    store = FeatureStore(ws)
    old = store.path("track/0")
    old.parent.mkdir(parents=True)
    np.save(old, np.full((128, 7), 0.5, np.float16))  # what earlier versions wrote
    summary = store.build(progress=silent, workers=1)
    assert summary["computed"] == 8 and summary["cached"] == 1
    np.testing.assert_array_equal(store.mel("track/0"), np.full((128, 7), 0.5, np.float32))


def test_invalidate_drops_tracks_from_shards(tmp_path, audio_folder):
    audio, csv = audio_folder
    ws = _workspace(tmp_path, "ws", audio, csv)
    FeatureStore(ws).build(progress=silent, workers=1)
    store = FeatureStore(ws)
    assert store.invalidate(["track/1", "track/2", "nope"]) == 2
    assert not store.has("track/1") and store.has("track/3")
    assert store.missing()[0] == ["track/1", "track/2"]


def test_failed_audio_is_recorded_and_retried_only_when_it_changes(tmp_path, audio_folder):
    audio, csv = audio_folder
    ws = _workspace(tmp_path, "ws", audio, csv)
    (audio / "clip4.flac").write_bytes(b"not audio")
    store = FeatureStore(ws)
    first = store.build(progress=silent, workers=2)
    assert list(first["failed"]) == ["track/4"] and first["computed"] == 8
    todo, known = store.missing()
    assert todo == [] and "clip4.flac" in known["track/4"]
    sf.write(audio / "clip4.flac", np.zeros(SR, np.float32), SR)  # fixed: retried
    assert store.missing()[0] == ["track/4"]
    assert store.build(progress=silent, workers=1)["failed"] == {}


def test_write_shard_reports_undecodable_files(tmp_path):
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....")
    assert "bad.wav" in write_shard(tmp_path / "out", [("x", str(bad))])["x"]
    assert not list((tmp_path / "out").glob("shard-*"))  # nothing to store: no empty shard


def test_pools_use_the_idle_cores(monkeypatch):
    from core import cores

    monkeypatch.setattr(cores.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3}, raising=False)
    monkeypatch.setattr(cores.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(cores.time, "sleep", lambda s: None)

    def sampled(busy_share):  # two /proc/stat readings 1000 jiffies apart, busy_share of them busy
        readings = iter([(0, 0), (int(1000 * busy_share), 1000)])
        monkeypatch.setattr(cores, "_cpu_times", lambda path=None: next(readings))

    sampled(0.02)
    assert cores.available_cores() == 4 and cores.idle_cores() == 4
    sampled(0.7)  # 2.8 of 4 cores busy
    assert cores.idle_cores() == 1
    sampled(1.0)
    assert cores.idle_cores() == 1  # a loaded machine: one process, never none
    from core.training import demo

    sampled(0.02)
    assert demo.default_workers("tiny") == 1  # even on idle cores: the workers' imports outweigh the work
    assert demo.default_workers("default") == 4  # one-thread processes: as many threads as one process
    # no /proc/stat: the 1-minute load average
    monkeypatch.setattr(cores, "_cpu_times", lambda path=None: None)
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert cores.idle_cores() == 4
    monkeypatch.setattr(cores.os, "getloadavg", lambda: (2.8, 0.0, 0.0))
    assert cores.idle_cores() == 1


def test_busy_cores_reads_proc_stat(tmp_path):
    from core import cores

    stat = tmp_path / "stat"
    # user nice system idle iowait irq softirq steal guest guest_nice
    stat.write_text("cpu  300 0 100 500 100 0 0 0 50 0\ncpu0 150 0 50 250 50 0 0 0 25 0\n")
    assert cores._cpu_times(str(stat)) == (400, 1000)  # busy = total - idle - iowait; guest already in user
    assert cores._cpu_times(str(tmp_path / "missing")) is None
    stat.write_text("intr 1 2 3\n")
    assert cores._cpu_times(str(stat)) is None
    if cores._cpu_times() is not None:  # Linux: a real sample is a share of the machine's cores
        assert 0.0 <= cores.busy_cores(0.05) <= (cores.os.cpu_count() or 1) + 1e-9


def test_run_in_processes_keeps_job_order_holds_threads_and_raises(monkeypatch):
    import operator

    from core.cores import run_in_processes

    counted = []

    def progress(iterable, total=None, desc=""):
        for item in iterable:
            yield item
            counted.append(item)

    jobs = [(2, i) for i in range(6)]
    assert run_in_processes(operator.pow, jobs, workers=2, progress=progress) == [2 ** i for i in range(6)]
    assert counted == list(range(6))  # every job counted once it finished
    monkeypatch.delenv("NUMBA_NUM_THREADS", raising=False)
    seen = run_in_processes(os.getenv, [("NUMBA_NUM_THREADS",), ("OMP_NUM_THREADS",)], workers=2, threads=1)
    assert seen == ["1", "1"]  # each worker's libraries are held to one thread
    assert run_in_processes(os.getenv, [("NUMBA_NUM_THREADS",)], workers=1) == [None]  # here: this process's own
    with pytest.raises(ValueError, match="invalid literal"):
        run_in_processes(int, [("1",), ("not a number",), ("3",)], workers=2)


def test_worker_start_holds_torch_loaded_before_it():
    """A worker whose main module loaded torch first is still held to its threads (not every core)."""
    import subprocess
    import sys

    code = ("import torch; torch.set_num_threads(4); from core.cores import hold_threads; hold_threads(1); "
            "print(torch.get_num_threads())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "1"


def test_run_in_processes_counts_each_job_as_it_finishes():
    """A long first job does not hold back the count of a short one (a build's live progress moves)."""
    import time

    from core.cores import run_in_processes

    counted_at = []

    def progress(iterable, total=None, desc=""):
        for item in iterable:
            yield item
            counted_at.append(time.monotonic())

    assert run_in_processes(time.sleep, [(3.0,), (0.0,)], workers=2, progress=progress) == [None, None]
    assert len(counted_at) == 2
    assert counted_at[1] - counted_at[0] > 1.0  # the short job was counted while the long one still ran
