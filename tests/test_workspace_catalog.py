"""core.workspace, core.catalog and core.paths: manifest, validation, confinement, info()."""

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.catalog import Catalog
from core.errors import DataError, ParameterError, VocabularyError
from core.paths import WORKSPACE_ENV, confined_path, default_workspace
from core.workspace import MANIFEST, Workspace


def tables(**changes):
    tracks = pd.DataFrame({"track_id": ["t1", "t2", "t3"], "artist_id": ["a1", "a1", "a2"],
                           "title": ["x", "y", "z"], "audio_path": ["t1.wav", "t2.wav", "t3.wav"],
                           "duration": [1.0, 2.0, np.nan], "split": ["train", "valid", "test"],
                           "bpm": [np.nan] * 3, "source": ["test"] * 3})
    artists = pd.DataFrame({"artist_id": ["a1", "a2"], "name": ["Ann", "Bob"]})
    tags = pd.DataFrame({"track_id": ["t1", "t1", "t2", "t3"], "tag": ["rock", "sad", "rock", "piano"],
                         "original_tag": ["Rock", "sad", "rock", "Piano"],
                         "category": ["genre", "mood", "genre", "instrument"], "score": [100.0] * 4})
    out = {"tracks": tracks, "artists": artists, "track_tags": tags}
    for name, fn in changes.items():
        out[name] = fn(out[name].copy())
    return out


def test_manifest_round_trip_and_update(tmp_path):
    ws = Workspace.create(tmp_path / "w", name="first", audio_root="/data/audio", extra_key={"a": 1})
    again = Workspace.open(tmp_path / "w")
    assert again.manifest == ws.manifest
    assert again.manifest["format_version"] == 1 and again.manifest["sample_rate"] == 22050
    assert again.audio_root == Path("/data/audio")  # absolute audio roots are kept as given
    created = again.manifest["created"]
    Workspace.create(tmp_path / "w", name="second")  # update keeps creation time and other keys
    third = Workspace.open(tmp_path / "w")
    assert third.manifest["name"] == "second" and third.manifest["created"] == created
    assert third.manifest["extra_key"] == {"a": 1}
    assert third.audio_root == third.root / "audio"  # relative audio roots live in the workspace
    assert not list((tmp_path / "w").glob("*.tmp"))


def test_open_errors(tmp_path):
    with pytest.raises(DataError, match="not a Tagspace workspace"):
        Workspace.open(tmp_path)
    (tmp_path / MANIFEST).write_text("{broken")
    with pytest.raises(DataError, match="invalid JSON"):
        Workspace.open(tmp_path)
    (tmp_path / MANIFEST).write_text(json.dumps({"format_version": 99}))
    with pytest.raises(DataError, match="format_version"):
        Workspace.open(tmp_path)


def test_default_workspace_env(monkeypatch, tmp_path):
    monkeypatch.setenv(WORKSPACE_ENV, str(tmp_path / "mine"))
    assert default_workspace() == tmp_path / "mine"
    monkeypatch.delenv(WORKSPACE_ENV)
    assert default_workspace().name == "demo"


def test_confined_path_refuses_escapes(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    assert confined_path(root, "sub/a.wav") == (root / "sub" / "a.wav").resolve()
    assert confined_path(root, "sub/../b.wav") == (root / "b.wav").resolve()
    assert confined_path(root, str(root / "c.wav")) == (root / "c.wav").resolve()
    for bad in ("../x.wav", "sub/../../x.wav", "/etc/passwd", str(tmp_path / "rootx" / "a.wav")):
        with pytest.raises(DataError, match="outside the data root"):
            confined_path(root, bad)
    os.symlink(tmp_path, root / "link")
    with pytest.raises(DataError):
        confined_path(root, "link/secret.wav")


@pytest.mark.parametrize("changes, match", [
    ({"tracks": lambda t: pd.concat([t, t.iloc[:1]])}, "duplicate track ids"),
    ({"tracks": lambda t: t.assign(split=["train", "dev", "test"])}, "unknown split"),
    ({"track_tags": lambda t: t.assign(category=["genre", "colour", "genre", "instrument"])}, "unknown tag categories"),
    ({"track_tags": lambda t: t.assign(track_id=["t1", "t1", "t2", "t9"])}, "unknown track ids"),
    ({"artists": lambda a: a.iloc[:1]}, "unknown artist ids"),
    ({"track_tags": lambda t: t.assign(category=["genre", "mood", "mood", "instrument"])}, "more than one category"),
    ({"tracks": lambda t: t.drop(columns=["split"])}, "lacks column"),
])
def test_catalog_validation_errors(changes, match):
    with pytest.raises(DataError, match=match):
        Catalog(**tables(**changes))


def test_catalog_queries_and_round_trip(tmp_path):
    cat = Catalog(**tables())
    assert cat.categories() == ["genre", "mood", "instrument"]
    assert cat.tags() == ["piano", "rock", "sad"] and cat.tags("genre") == ["rock"]
    assert cat.split_ids("valid") == ["t2"]
    assert cat.tags_of("t1") == {"genre": ["rock"], "mood": ["sad"]}
    np.testing.assert_array_equal(cat.tag_matrix(["t2", "t1"], ["rock", "sad"]), [[1, 0], [1, 1]])
    assert cat.tracks_with_all_categories() == 0 and cat.tracks_with_all_categories(["genre"]) == 2
    with pytest.raises(ParameterError):
        cat.tags("colour")
    with pytest.raises(ParameterError):
        cat.split_ids("dev")
    cat.save(tmp_path)
    loaded = Catalog.load(tmp_path)
    assert loaded.fingerprint() == cat.fingerprint()
    pd.testing.assert_frame_equal(loaded.tracks, cat.tracks)
    changed = Catalog(**tables(track_tags=lambda t: t.assign(score=[50.0, 100.0, 100.0, 100.0])))
    assert changed.fingerprint() != cat.fingerprint()
    (tmp_path / "artists.parquet").unlink()
    with pytest.raises(DataError, match="catalog file missing"):
        Catalog.load(tmp_path)


def test_info_keys_and_missing_audio(tmp_path):
    ws = Workspace.create(tmp_path / "w", name="info")
    empty = ws.info()
    assert empty["tracks"] == 0 and empty["tags_by_category"] == {} and empty["missing_audio"] == 0
    ws.save_catalog(Catalog(**tables(tracks=lambda t: t.assign(audio_path=["t1.wav", "t2.wav", "../t3.wav"]))))
    (ws.audio_root).mkdir()
    (ws.audio_root / "t1.wav").write_bytes(b"")
    (tmp_path / "w" / "t3.wav").write_bytes(b"")  # exists, but outside the audio root
    (ws.models_dir / "m1").mkdir(parents=True)
    (ws.models_dir / "m1" / "config.json").write_text("{}")
    ws.words_dir.mkdir()
    (ws.words_dir / "glove.json").write_text("{}")
    info = Workspace.open(tmp_path / "w").info()
    for key in ("tracks", "artists", "tags_by_category", "tracks_with_all_categories", "missing_audio",
                "models", "word_embeddings"):
        assert key in info
    assert info["tracks"] == 3 and info["artists"] == 2
    assert info["tags_by_category"] == {"genre": 1, "mood": 1, "instrument": 1}
    assert info["missing_audio"] == 2  # t2 absent, t3 escapes
    assert info["models"] == ["m1"] and info["word_embeddings"] == ["glove"]
    assert info["splits"] == {"train": 1, "valid": 1, "test": 1}
    json.dumps(info)  # plain JSON types only
    with pytest.raises(DataError, match="outside"):
        ws.audio_path("t3")
    with pytest.raises(VocabularyError):
        ws.audio_path("nope")
