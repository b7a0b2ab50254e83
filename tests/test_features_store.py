"""core.features: the per-track mel cache and the import command that fills it."""

import json

import numpy as np
import pytest
import soundfile as sf

from core.audio import load_audio, log_mel
from core.cli import main
from core.demo.build import STEPS, DemoConfig
from core.errors import AudioError
from core.features import FeatureStore, build_features, safe_filename
from core.importers import import_csv
from core.progress import silent
from core.workspace import Workspace

SR = 22050


@pytest.fixture
def ws(tmp_path):
    audio = tmp_path / "audio"
    audio.mkdir()
    for i, name in enumerate(["a.wav", "b.flac", "c.ogg"]):
        y = 0.3 * np.sin(2 * np.pi * (200 + 100 * i) * np.arange(SR) / SR)
        sf.write(audio / name, y.astype(np.float32), SR)
    csv = tmp_path / "t.csv"
    csv.write_text("path,track_id,artist,tags\na.wav,t/1,A,genre:rock\nb.flac,t2,B,genre:pop\nc.ogg,t3,C,mood:calm\n")
    workspace = Workspace.create(tmp_path / "ws", name="test", audio_root=str(audio))
    workspace.save_catalog(import_csv(csv, audio))
    return workspace


def test_mel_is_cached_as_float16(ws):
    store = FeatureStore(ws)
    mel = store.mel("t2")
    assert mel.dtype == np.float32 and mel.shape == (128, 1 + SR // 512)
    on_disk = np.load(store.path("t2"))
    assert on_disk.dtype == np.float16
    np.testing.assert_array_equal(mel, on_disk.astype(np.float32))  # first and later calls agree
    fresh = log_mel(load_audio(ws.audio_path("t2")))
    np.testing.assert_allclose(mel, fresh, rtol=2e-3, atol=2e-3)
    assert store.path("t2").parent == ws.features_dir / "mel"


def test_build_is_idempotent(ws, monkeypatch):
    store = FeatureStore(ws)
    first = store.build(progress=silent)
    assert first == {"computed": 3, "cached": 0, "failed": {}}
    assert all(store.has(t) for t in ws.catalog.track_ids)

    def no_work(track_id):
        raise AssertionError("a cached track was computed again")

    monkeypatch.setattr(store, "compute", no_work)
    assert store.build(progress=silent) == {"computed": 0, "cached": 3, "failed": {}}
    assert store.mel("t3").shape[0] == 128  # read from the cache, not computed


def test_build_reports_failures_and_retries_them(ws, capsys):
    (ws.audio_root / "b.flac").write_bytes(b"broken")
    summary = build_features(ws, DemoConfig(size="tiny"), silent)
    assert summary["computed"] == 2 and list(summary["failed"]) == ["t2"]
    assert "b.flac" in summary["failed"]["t2"]
    assert "skipped t2" in capsys.readouterr().err
    with pytest.raises(AudioError):
        FeatureStore(ws).mel("t2")
    assert not list((ws.features_dir / "mel").glob(".tmp-*"))  # no temporary file left behind


def test_safe_filenames_are_distinct_and_confined():
    names = {safe_filename(t) for t in ["a/b", "a_b", "../x", ".hidden", "TR1"]}
    assert len(names) == 5 and "TR1" in names
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_features_step_is_registered():
    names = [step.name for step in STEPS]
    assert any(step.name == "features" and step.target == "core.features:build_features" for step in STEPS)
    if "corpus" in names:
        assert names.index("corpus") < names.index("features")


def test_import_command_creates_workspace_and_features(tmp_path, capsys):
    audio = tmp_path / "songs"
    audio.mkdir()
    sf.write(audio / "TR1.wav", np.zeros(SR // 2, np.float32), SR)
    sf.write(audio / "TR2.wav", 0.1 * np.ones(SR // 2, np.float32), SR)
    tsv = tmp_path / "track_tags.tsv"
    tsv.write_text("TR1\trock\trock\tgenre\t90\nTR2\tsad\tsad\tmood\t30\nTR2\tjazz\tjazz\tgenre\t60\n")
    root = tmp_path / "ws"
    argv = ["import", "--workspace", str(root), "--format", "won", "--tags", str(tsv),
            "--audio-root", str(audio), "--build-features"]
    assert main(argv) == 0
    ws = Workspace.open(root)
    assert ws.audio_root == audio.resolve() and ws.catalog.tags() == ["jazz", "rock"]
    assert FeatureStore(ws).has("TR1") and FeatureStore(ws).has("TR2")
    assert main(["info", "--workspace", str(root), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["tracks"] == 2 and info["missing_audio"] == 0

    # re-import with a lower score threshold and TR1's audio replaced: its cached mel is dropped
    sf.write(audio / "TR1.flac", np.zeros(SR // 2, np.float32), SR)
    (audio / "TR1.wav").unlink()
    assert main(argv[:-1] + ["--min-score", "20"]) == 0
    ws = Workspace.open(root)
    assert "sad" in ws.catalog.tags()
    assert not FeatureStore(ws).has("TR1") and FeatureStore(ws).has("TR2")


def test_import_command_errors_exit_2(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    bad = tmp_path / "t.tsv"
    bad.write_text("TR1\trock\trock\tgenre\tNaNa\n")
    code = main(["import", "--workspace", str(tmp_path / "ws"), "--format", "won", "--tags", str(bad),
                 "--audio-root", str(tmp_path / "a")])
    assert code == 2
    assert "t.tsv:1: score 'NaNa' is not a number" in capsys.readouterr().err
    assert not (tmp_path / "ws").exists()  # nothing written on a failed import
    code = main(["import", "--workspace", str(tmp_path / "ws"), "--format", "csv", "--tags", str(bad),
                 "--audio-root", str(tmp_path / "a"), "--min-score", "10"])
    assert code == 2 and "--format won only" in capsys.readouterr().err


def test_unreadable_cache_file_is_recomputed(ws):
    store = FeatureStore(ws)
    good = store.mel("t3")
    store.path("t3").write_bytes(b"garbage")
    np.testing.assert_array_equal(store.mel("t3"), good)
    assert np.load(store.path("t3")).dtype == np.float16
