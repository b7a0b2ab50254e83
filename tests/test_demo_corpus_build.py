"""Demo corpus step on the tiny build (``tiny_workspace`` fixture) and per-piece determinism."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from core.demo import corpus, tagging
from core.demo.build import DemoConfig
from core.progress import silent


def test_tiny_build_has_playable_clips_with_all_four_categories(tiny_workspace):
    ws = tiny_workspace
    cat = ws.catalog
    assert len(cat.tracks) >= 30
    assert cat.tracks_with_all_categories(["genre", "instrument", "tempo", "mood"]) == len(cat.tracks)
    assert ws.missing_audio() == []
    assert set(cat.tracks["source"]) == {"demo"}
    assert set(cat.tracks["split"]) == {"train", "valid", "test"}
    for tid in cat.track_ids[:5]:
        y, sr = sf.read(ws.audio_path(tid), dtype="float32")
        assert sr == 22050 and y.ndim == 1
        assert abs(len(y) / sr - 8.0) < 0.05
        assert np.abs(y).max() > 0.1


def test_tiny_tags_agree_with_the_rules(tiny_workspace):
    ws = tiny_workspace
    cat = ws.catalog
    assert len(cat.tags("instrument")) >= 8
    assert len(set(cat.tracks["bpm"])) >= 4
    for row in cat.tracks.itertuples():
        tags = cat.tags_of(row.track_id)
        assert tags["tempo"] == sorted(tagging.tempo_tags(int(row.bpm)))
        record = json.loads((ws.cache_dir / "corpus" / "clips" / f"{row.track_id}.json").read_text())
        assert tags["mood"] == sorted(tagging.mood_tags(record["mode"], row.bpm))
        assert set(tags["instrument"]) <= set(tagging.INSTRUMENTS)


def test_tiny_split_is_by_piece(tiny_workspace):
    ws = tiny_workspace
    detail = json.loads((ws.root / "build_report.json").read_text())["corpus"]["clips_detail"]
    split = dict(zip(ws.catalog.tracks["track_id"], ws.catalog.tracks["split"]))
    per_piece = {}
    for tid, d in detail.items():
        per_piece.setdefault(d["piece_id"], set()).add(split[tid])
    assert all(len(s) == 1 for s in per_piece.values())


def test_rerun_reuses_every_clip(tiny_workspace):
    ws = tiny_workspace
    before = {p.name: p.stat().st_mtime_ns for p in ws.audio_root.glob("*.ogg")}
    fingerprint = ws.catalog.fingerprint()
    corpus.build_corpus(ws, DemoConfig(size="tiny", seed=0), silent)
    report = json.loads((ws.root / "build_report.json").read_text())["corpus"]
    assert report["clips_reused"] == report["clips"] == len(ws.catalog.tracks)
    assert {p.name: p.stat().st_mtime_ns for p in ws.audio_root.glob("*.ogg")} == before
    assert ws.catalog.fingerprint() == fingerprint


@pytest.mark.parametrize("collection", ["oneills", "bach"])
def test_same_seed_same_bytes(tmp_path, collection):
    job = next(j for j in corpus.plan_corpus("tiny", 0).jobs if j.piece.collection == collection)
    out = []
    for name in ("a", "b"):
        d = tmp_path / name
        d.mkdir()
        records = corpus.render_job(job, str(d), str(d))
        out.append(((d / records[0]["audio_path"]).read_bytes(), records))
    assert out[0][0] == out[1][0]
    assert out[0][1] == out[1][1]
