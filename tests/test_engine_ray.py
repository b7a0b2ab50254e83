"""``embed --engine ray``: the local engine's vectors from a 2-CPU local Ray; an interrupted run resumes
without computing a finished shard again.

Every Ray driver runs in a child process (the CLI, or ``tests/fixtures/ray_child.py``): Ray ends
a driver whose raylet goes with a hard exit, which would end this test session unreported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.cli import main as cli_main
from core.engine.embed import embeddings_current, extract_embeddings, load_embeddings
from core.engine.ray_embed import ShardStore, WorkerLayout, worker_layout
from core.errors import ParameterError
from core.features import FeatureStore
from core.workspace import Workspace

MODEL = "won-balanced-weighted"  # audio and text sides, zero-shot terms through GloVe
REPO = Path(__file__).resolve().parents[1]


def _child(case: str, ws: Workspace, tmp_path) -> dict:
    """Run a Ray case of ``tests/fixtures/ray_child.py`` in its own process; what it saw."""
    pytest.importorskip("ray", reason="Ray is not installed (pip install 'ray[data]==2.60.0')")
    pytest.importorskip("ray.data")
    out = tmp_path / f"{case}.json"
    done = subprocess.run([sys.executable, "-m", "tests.fixtures.ray_child", case, str(ws.root), str(out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert out.exists(), f"the {case} child ended with {done.returncode} before reporting:\n{done.stderr[-3000:]}"
    return json.loads(out.read_text())


@pytest.fixture()
def workspace(tiny_workspace, tmp_path) -> Workspace:
    """The tiny demo with one model and no embeddings (audio, features and words linked, not copied)."""
    src, root = tiny_workspace.root, tmp_path / "ws"
    root.mkdir()
    shutil.copy(src / "workspace.json", root / "workspace.json")
    shutil.copytree(src / "catalog", root / "catalog")
    shutil.copytree(src / "models" / MODEL, root / "models" / MODEL)
    for linked in ("audio", "features", "words"):
        os.symlink(src / linked, root / linked)
    return Workspace.open(root)


def _local(ws: Workspace):
    emb = extract_embeddings(ws, MODEL, device="cpu")
    return emb.tracks.copy(), emb.term_vectors.copy(), list(emb.track_ids), [t["term"] for t in emb.terms]


def test_cli_ray_engine_gives_the_local_vectors(workspace):
    pytest.importorskip("ray.data", reason="Ray is not installed (pip install 'ray[data]==2.60.0')")
    tracks, terms, track_ids, term_names = _local(workspace)
    done = subprocess.run([sys.executable, "-m", "core", "embed", "--workspace", str(workspace.root),
                           "--model", MODEL, "--engine", "ray", "--force"],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "extracted on cpu" in done.stdout
    assert embeddings_current(workspace, MODEL)
    emb = load_embeddings(workspace, MODEL)
    assert emb.track_ids == track_ids and [t["term"] for t in emb.terms] == term_names
    np.testing.assert_allclose(emb.tracks, tracks, atol=1e-5, rtol=0)
    np.testing.assert_allclose(emb.term_vectors, terms, atol=1e-5, rtol=0)
    assert emb.meta["engine"]["name"] == "ray" and emb.meta["engine"]["shards_computed"] == 1
    assert not (workspace.cache_dir / "embedding-shards" / MODEL).exists(), "merged shards are removed"


def test_interrupted_run_resumes_only_unfinished_shards(workspace, tmp_path):
    tracks, *_ = _local(workspace)
    shutil.rmtree(workspace.embeddings_dir)  # no current embeddings: a re-run has work to do
    seen = _child("resume", workspace, tmp_path)
    assert seen["crashed"] and not seen["current_after_crash"]
    assert seen["n_shards"] == 7 and len(seen["finished_after_crash"]) == 3
    assert seen["totals"] == [4]
    assert seen["rewritten"] == [], "a finished shard was written again"
    assert sorted(seen["computed"]) == sorted(set(range(7)) - set(seen["finished_after_crash"]))
    assert seen["engine"]["shards_reused"] == 3 and seen["engine"]["shards_computed"] == 4
    assert seen["current"]
    np.testing.assert_allclose(np.load(tmp_path / "resume.npy"), tracks, atol=1e-5, rtol=0)


def test_a_worker_s_audio_error_reaches_the_user_unwrapped(workspace, tmp_path):
    """A track whose audio is gone (and not in the feature store): the AudioError naming it, not Ray's wrapper."""
    gone = workspace.catalog.track_ids[13]
    src = (workspace.root / "audio").resolve()
    (workspace.root / "audio").unlink()
    (workspace.root / "audio").mkdir()
    for f in src.iterdir():  # copies: a link leading out of the audio root is refused
        if f.name != workspace.audio_path(gone).name:
            shutil.copyfile(f, workspace.root / "audio" / f.name)
    # no cached features at all (they are shards of many tracks): every mel comes from the audio
    (workspace.root / "features").unlink()
    (workspace.root / "features" / "mel").mkdir(parents=True)
    assert not workspace.audio_path(gone).exists() and not FeatureStore(workspace).has(gone)
    seen = _child("audio_error", workspace, tmp_path)
    assert seen["exact_type"], seen
    assert gone in seen["message"] and "Traceback" not in seen["message"]


def test_shards_of_another_source_or_damaged_are_not_reused(tmp_path):
    class Place:
        cache_dir = tmp_path / "cache"

    ids = [f"t{i}" for i in range(5)]
    key = {"checkpoint_sha256": "a", "catalog_fingerprint": "c", "config_hash": "h", "word_embedding": None}
    store = ShardStore(Place(), "m", key, ids, shard_tracks=2)
    assert store.n_shards == 3 and store.ids(2) == ["t4"]
    for i in range(3):
        store.write(i, np.full((len(store.ids(i)), 4), i, dtype=np.float32))
    assert store.finished() == {0, 1, 2}
    np.testing.assert_array_equal(store.merge()[:, 0], [0, 0, 1, 1, 2])
    retrained = ShardStore(Place(), "m", {**key, "checkpoint_sha256": "b"}, ids, shard_tracks=2)
    assert retrained.finished() == set()
    retrained.remove_stale()
    assert not store.directory.exists()  # the old run's shards are deleted
    retrained.write(0, np.zeros((2, 4), dtype=np.float32))
    retrained.path(0).write_bytes(retrained.path(0).read_bytes()[:40])  # truncated by a crash of the disk
    nan = np.zeros((2, 4), dtype=np.float32)
    nan[0, 0] = np.nan
    retrained.write(1, nan)
    assert retrained.finished() == set()


def test_worker_layout():
    assert worker_layout({"CPU": 2.0}) == WorkerLayout(workers=1, cpus=1.0, gpus=0.0)
    assert worker_layout({"CPU": 2.0}, workers=2, cpus_per_worker=0.5).workers == 2
    assert worker_layout({"CPU": 16.0, "GPU": 4.0}) == WorkerLayout(workers=4, cpus=1.0, gpus=1.0)
    assert worker_layout({"CPU": 16.0, "GPU": 4.0}, gpus_per_worker=0.5).workers == 8
    assert worker_layout({"CPU": 16.0, "GPU": 4.0}, gpus_per_worker=0).device == "cpu"
    with pytest.raises(ParameterError, match="asks for GPUs but the Ray cluster has 0"):
        worker_layout({"CPU": 2.0}, gpus_per_worker=1)
    with pytest.raises(ParameterError, match="do not fit"):
        worker_layout({"CPU": 2.0}, workers=2)


def test_engine_options_are_checked(workspace, monkeypatch, capsys):
    root = str(workspace.root)
    assert cli_main(["embed", "--workspace", root, "--model", MODEL, "--address", "ray://x:10001"]) == 2
    assert "apply to --engine ray only" in capsys.readouterr().err
    assert cli_main(["embed", "--workspace", root, "--model", MODEL, "--engine", "ray", "--device", "cuda"]) == 2
    assert "--gpus-per-worker" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "ray", None)  # Ray not installed
    assert cli_main(["embed", "--workspace", root, "--model", MODEL, "--engine", "ray"]) == 2
    assert "needs Ray: pip install" in capsys.readouterr().err
