"""``prepare`` after ``import --format csv`` of an audio folder: every page works; a second run does nothing.

Also ``info``'s ``missing`` list, and the runner's skip / lock / timing behaviour.
"""

from __future__ import annotations

import csv
import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from core.cli import main
from core.errors import DataError
from core.pipeline.runner import Step, run_steps, workspace_lock
from core.pipeline.status import read_status
from core.progress import silent
from core.workspace import Workspace

PAGES = ("home", "map", "words", "similar", "search", "results", "listening_design")


def _csv_of(tiny, path) -> None:
    """The tiny demo's catalog as a researcher's CSV (its audio folder, its tags)."""
    cat = tiny.catalog
    tags = cat.track_tags.groupby("track_id").apply(
        lambda g: ";".join(f"{c}:{t}" for c, t in zip(g["category"], g["tag"])), include_groups=False)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["path", "track_id", "artist", "tags", "split", "bpm"])
        for row in cat.tracks.itertuples():
            out.writerow([row.audio_path, row.track_id, row.artist_id, tags.get(row.track_id, ""), row.split, row.bpm])


@pytest.fixture(scope="module")
def prepared(tiny_workspace, tmp_path_factory):
    """An imported copy of the tiny demo's audio, prepared once; (root, outputs of both runs)."""
    base = tmp_path_factory.mktemp("prepare")
    tags = base / "tags.csv"
    _csv_of(tiny_workspace, tags)
    root = base / "ws"
    assert main(["import", "--workspace", str(root), "--format", "csv", "--tags", str(tags),
                 "--audio-root", str(tiny_workspace.audio_root)]) == 0
    numba = tiny_workspace.cache_dir / "numba"  # reuse UMAP's compiled kernels: same code, no recompile
    if numba.is_dir():
        shutil.copytree(numba, root / "cache" / "numba")
    return root


def test_info_lists_what_is_missing_with_commands(prepared, capsys):
    capsys.readouterr()
    assert main(["info", "--workspace", str(prepared), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    for key in ("tracks", "models", "word_embeddings", "splits", "missing_audio"):
        assert key in info  # existing keys kept
    steps = {item["step"] for item in info["missing"]}
    assert {"features", "words", "models"} <= steps
    assert all(item["command"] and item["what"] for item in info["missing"])
    features = next(i for i in info["missing"] if i["step"] == "features")
    assert f"{info['tracks']} track(s)" in features["what"] and "prepare" in features["command"]
    assert main(["info", "--workspace", str(prepared)]) == 0
    assert "missing:" in capsys.readouterr().out


def test_prepare_alone_makes_every_page_work_and_a_second_run_does_nothing(prepared, capsys, monkeypatch):
    capsys.readouterr()
    assert main(["prepare", "--workspace", str(prepared), "--size", "tiny", "--workers", "2"]) == 0
    first = capsys.readouterr().out
    assert "prepared" in first
    ws = Workspace.open(prepared)
    assert set(ws.model_names()) == {"won-balanced-weighted", "lee-disentangled"}
    assert ws.evaluation_path.exists() and "glove-6b-50d" in ws.word_embedding_names()
    status = read_status(prepared)
    states = {s["name"]: s["state"] for s in status["steps"]}
    assert status["state"] == "done"
    assert all(states[n] == "done" for n in ("features", "words", "models", "embed", "maps", "evaluate")), states
    assert states["indexes"] == "skipped"  # 40 tracks: exact search, no index to build
    report = json.loads((prepared / "build_report.json").read_text())
    assert set(report["timings"]["prepare"]["steps"]) == {n for n, state in states.items() if state == "done"}

    assert main(["info", "--workspace", str(prepared), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["missing"] == []

    assert main(["prepare", "--workspace", str(prepared), "--size", "tiny"]) == 0
    assert "nothing to do" in capsys.readouterr().out
    assert [s["state"] for s in read_status(prepared)["steps"]] == ["skipped"] * 7

    monkeypatch.setenv("TAGSPACE_WORKSPACE", str(prepared))
    for page in PAGES:
        at = AppTest.from_file("../app.py", default_timeout=120)
        at.run()
        at.switch_page(f"pages/{page}.py")
        at.run()
        assert not at.exception, (page, [e.message for e in at.exception])
        assert not at.error, (page, [e.value for e in at.error])
        assert not [w.value for w in at.warning if "No suitable trained model" in w.value or "No evaluation" in w.value]


def test_runner_skips_steps_without_work_and_holds_the_lock(tmp_path):
    ws = Workspace.create(tmp_path / "ws", name="t")
    calls = []
    steps = [Step("a", "tests.test_pipeline_prepare:_record_a", "tests.test_pipeline_prepare:_nothing"),
             Step("b", "tests.test_pipeline_prepare:_record_b")]
    out = run_steps(ws, steps, calls, command="test", resume="again", progress=silent, log=lambda m: None)
    assert calls == ["b"] and out["steps"]["a"]["state"] == "skipped" and out["steps"]["b"]["state"] == "done"
    status = read_status(ws.root)
    assert status["state"] == "done" and status["steps"][1]["seconds"] is not None
    with workspace_lock(ws.root):
        with pytest.raises(DataError, match="another run"):
            run_steps(ws, steps, calls, command="test", resume="again", progress=silent, log=lambda m: None)
    assert calls == ["b"]


def test_a_failing_step_leaves_a_failed_status_naming_it(tmp_path):
    ws = Workspace.create(tmp_path / "ws", name="t")
    steps = [Step("boom", "tests.test_pipeline_prepare:_fail"), Step("never", "tests.test_pipeline_prepare:_record_b")]
    with pytest.raises(DataError, match="broken input"):
        run_steps(ws, steps, [], command="test", resume="python -m core again", progress=silent, log=lambda m: None)
    status = read_status(ws.root)
    assert status["state"] == "failed" and "broken input" in status["error"]
    assert [s["state"] for s in status["steps"]] == ["failed", "pending"]


def _nothing(ws, config):
    return []


def _record_a(ws, calls, progress):
    calls.append("a")


def _record_b(ws, calls, progress):
    for _ in progress(range(3), total=3, desc="items"):
        pass
    calls.append("b")


def _fail(ws, config, progress):
    raise DataError("broken input")


def test_embedding_only_models_are_never_embedded(tiny_workspace, tmp_path):
    """A model without weights (``source: embeddings``): its embeddings are the source of truth."""
    from core.pipeline.prepare import embed_pending, is_embedding_only, maps_pending, missing_work

    root = tmp_path / "ws"
    shutil.copytree(tiny_workspace.catalog_dir, root / "catalog")
    (root / "workspace.json").write_text(json.dumps(dict(tiny_workspace.manifest,
                                                         audio_root=str(tiny_workspace.audio_root))))
    source = tiny_workspace.model_names()[0]
    shutil.copytree(tiny_workspace.embeddings_dir / source, root / "embeddings" / "brought")
    (root / "models" / "brought").mkdir(parents=True)
    (root / "models" / "brought" / "config.json").write_text(json.dumps({"source": "embeddings", "family": None}))
    ws = Workspace.open(root)
    assert is_embedding_only(ws, "brought") and not is_embedding_only(ws, "absent")
    assert embed_pending(ws) == []  # no weights: nothing to embed, nothing stale
    assert "model:brought" in maps_pending(ws)  # but its map is still to fit
    steps = [item["step"] for item in missing_work(ws)]
    assert "embed" not in steps and "maps" in steps and "models" not in steps
