"""The workspace word store: .npy + Parquet without pickle, the one-time .kv migration, and hostile files."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors

from core.cli import main
from core.errors import DataError
from core.words import import_word_vectors, load_word_vectors, migrate_word_vectors, read_meta, save_word_vectors
from core.words.demo_embeddings import GLOVE_NAME, build_glove
from core.words.store import FORMAT_VERSION, legacy_names, store_paths
from core.workspace import Workspace

from .test_words_corpus import synthetic_workspace

WORDS = ["jazz", "smooth_jazz", "house", "club", "home"]


def _kv(dim: int = 6, counts: bool = False) -> KeyedVectors:
    kv = KeyedVectors(dim)
    kv.add_vectors(WORDS, np.random.default_rng(0).normal(size=(len(WORDS), dim)).astype(np.float32))
    if counts:
        for i, w in enumerate(WORDS):
            kv.set_vecattr(w, "count", 10 * (i + 1))
    return kv


@pytest.fixture()
def ws(tmp_path) -> Workspace:
    return Workspace.create(tmp_path / "ws", name="t")


class _WritesMarker:
    """Unpickling this runs code: it writes ``marker`` (the attack a .kv or object .npy can carry)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('unpickled')",)


def _legacy_meta(ws, name: str, **extra) -> None:
    (ws.words_dir / f"{name}.json").write_text(json.dumps({"name": name, "label": name, "domain": "general",
                                                           "dim": 6, "vocab_size": len(WORDS), **extra}))


def test_store_round_trip_is_npy_and_parquet_memory_mapped(ws):
    kv = _kv(counts=True)
    meta = save_word_vectors(ws, kv, "w", label="W", domain="musical", source="test", format="test", extra_key=1)
    assert meta["format_version"] == FORMAT_VERSION and meta["extra_key"] == 1
    assert sorted(p.name for p in ws.words_dir.iterdir()) == ["w.json", "w.norms.npy", "w.vectors.npy",
                                                              "w.vocab.parquet"]
    assert ws.word_embedding_names() == ["w"]
    wv = load_word_vectors(ws, "w")
    assert isinstance(wv.kv.vectors, np.memmap) and isinstance(wv.kv.norms, np.memmap)
    assert wv.words == WORDS and wv.label == "W" and wv.domain == "musical"
    np.testing.assert_array_equal(np.asarray(wv.kv.vectors), kv.vectors)
    np.testing.assert_allclose(wv.kv.norms, np.linalg.norm(kv.vectors, axis=1), rtol=1e-6)
    assert wv.has_counts() and wv.counts().tolist() == [10, 20, 30, 40, 50]
    assert wv.kv.most_similar("jazz", topn=2)  # gensim's own functions work on the loaded arrays
    assert not load_word_vectors(ws, "w", mmap=None).kv.vectors.__class__ is np.memmap
    save_word_vectors(ws, _kv(dim=4), "w", label="W", domain="general", source="test", format="test")
    assert load_word_vectors(ws, "w").dim == 4 and not load_word_vectors(ws, "w").has_counts()


def test_legacy_kv_is_refused_then_migrated_once_with_trust(ws):
    kv = _kv(counts=True)
    ws.words_dir.mkdir(parents=True)
    kv.save(str(ws.words_dir / "old.kv"), sep_limit=0)  # the layout of earlier Tagspace versions
    _legacy_meta(ws, "old", label="Old one", build={"x": 1})
    assert legacy_names(ws) == ["old"]
    with pytest.raises(DataError, match=r"old\.kv, gensim's pickle format.*python -m core words migrate "
                                        r"--workspace .* --trust-pickle"):
        load_word_vectors(ws, "old")
    with pytest.raises(DataError, match=r"old\.kv .*Python pickles.*--trust-pickle"):
        migrate_word_vectors(ws)
    assert (ws.words_dir / "old.kv").exists()
    [meta] = migrate_word_vectors(ws, trust_pickle=True)
    assert (meta["label"], meta["build"], meta["format_version"]) == ("Old one", {"x": 1}, FORMAT_VERSION)
    assert not list(ws.words_dir.glob("old.kv*")) and legacy_names(ws) == []
    wv = load_word_vectors(ws, "old")
    np.testing.assert_array_equal(np.asarray(wv.kv.vectors), kv.vectors)
    assert wv.counts().tolist() == [10, 20, 30, 40, 50]
    assert migrate_word_vectors(ws) == []  # nothing left: no trust needed


def test_migrate_command(ws, capsys):
    ws.words_dir.mkdir(parents=True)
    _kv().save(str(ws.words_dir / "old.kv"), sep_limit=0)
    _legacy_meta(ws, "old")
    assert main(["words", "migrate", "--workspace", str(ws.root)]) == 2
    assert "--trust-pickle" in capsys.readouterr().err
    assert main(["words", "migrate", "--workspace", str(ws.root), "--trust-pickle"]) == 0
    assert "old: 5 words x 6 converted" in capsys.readouterr().out
    assert load_word_vectors(ws, "old").words == WORDS


def test_import_of_a_kv_needs_trust_pickle_and_says_why(ws, tmp_path, capsys):
    path = tmp_path / "mine.kv"
    _kv().save(str(path))
    for fmt in ("auto", "native"):
        assert main(["words", "import", "--workspace", str(ws.root), "--path", str(path), "--name", "m",
                     "--format", fmt]) == 2
        err = capsys.readouterr().err
        assert "mine.kv: a gensim .kv file is a Python pickle, and loading one runs any code" in err
        assert "--trust-pickle" in err
    assert ws.word_embedding_names() == []
    assert main(["words", "import", "--workspace", str(ws.root), "--path", str(path), "--name", "m",
                 "--trust-pickle"]) == 0
    assert load_word_vectors(ws, "m").words == WORDS


def test_damaged_store_files_name_the_file(ws):
    save_word_vectors(ws, _kv(), "w", label="w", domain="general", source="t", format="t")
    paths = store_paths(ws, "w")
    good = {k: p.read_bytes() for k, p in paths.items()}
    cases = [
        ("vectors", lambda p: np.save(p, np.zeros((5, 6), np.float64)), r"w\.vectors\.npy: holds float64"),
        ("vectors", lambda p: np.save(p, np.zeros((4, 6), np.float32)), r"w\.vectors\.npy: .*float32 \(5, 6\)"),
        ("vectors", lambda p: p.write_bytes(good["vectors"][:-10]), r"w\.vectors\.npy: not a readable float32 array"),
        ("vectors", lambda p: p.write_bytes(b"garbage" * 20), r"w\.vectors\.npy: not a \.npy array file"),
        ("norms", lambda p: p.unlink(), r"w\.norms\.npy: missing"),
        ("vocab", lambda p: p.write_bytes(b"PAR1 not parquet"), r"w\.vocab\.parquet: not a readable Parquet"),
        ("vocab", lambda p: pd.DataFrame({"word": ["a", "a", "b", "c", "d"]}).to_parquet(p), "repeats words"),
        ("vocab", lambda p: pd.DataFrame({"word": ["a"]}).to_parquet(p), r"1 words, but the metadata says 5"),
        ("vocab", lambda p: pd.DataFrame({"token": WORDS}).to_parquet(p), "needs a text column 'word'"),
    ]
    for key, damage, message in cases:
        damage(paths[key])
        with pytest.raises(DataError, match=message):
            load_word_vectors(ws, "w")
        paths[key].write_bytes(good[key])
    assert load_word_vectors(ws, "w").words == WORDS


def test_no_loader_or_command_unpickles_a_workspace_word_file(tmp_path, capsys):
    marker = tmp_path / "unpickled.txt"
    payload = pickle.dumps(_WritesMarker(marker))
    pickle.loads(pickle.dumps(_WritesMarker(tmp_path / "live.txt")))
    assert (tmp_path / "live.txt").exists()  # the payload is live: unpickling it would write the marker

    ws = synthetic_workspace(tmp_path / "ws", n_tracks=20)
    ws.words_dir.mkdir(parents=True, exist_ok=True)
    # an old-layout embedding whose .kv is the payload
    (ws.words_dir / "old.kv").write_bytes(payload)
    _legacy_meta(ws, "old")
    # a current-layout embedding whose arrays are pickled object arrays
    objects = np.array([_WritesMarker(marker)] * len(WORDS), dtype=object)
    np.save(ws.words_dir / "evil.vectors.npy", objects.reshape(-1, 1), allow_pickle=True)
    np.save(ws.words_dir / "evil.norms.npy", objects, allow_pickle=True)
    pd.DataFrame({"word": WORDS}).to_parquet(ws.words_dir / "evil.vocab.parquet")
    (ws.words_dir / "evil.json").write_text(json.dumps({"format_version": FORMAT_VERSION, "name": "evil",
                                                        "domain": "musical", "dim": 1, "vocab_size": len(WORDS)}))
    # files handed to import
    (tmp_path / "payload.kv").write_bytes(payload)
    np.save(tmp_path / "payload.npy", objects, allow_pickle=True)
    (tmp_path / "payload.pkl").write_bytes(payload)

    for name in ("old", "evil"):
        for mmap in ("r", None):
            with pytest.raises(DataError) as err:
                load_word_vectors(ws, name, mmap=mmap)
            assert ("words migrate" in str(err.value)) if name == "old" else ("evil.vectors.npy" in str(err.value))
        assert read_meta(ws, name)["name"] == name
    with pytest.raises(DataError, match="--trust-pickle"):
        migrate_word_vectors(ws)
    for path in ("payload.kv", "payload.npy", "payload.pkl"):
        with pytest.raises(DataError, match=path.replace(".", r"\.")):
            import_word_vectors(ws, tmp_path / path, "imported")

    root = str(ws.root)
    commands = [
        ["words", "compare", "--workspace", root, "--general", "old", "--musical", "evil"],
        ["words", "compare", "--workspace", root, "--general", "evil", "--musical", "old"],
        ["words", "evaluate", "--workspace", root, "--name", "old"],
        ["words", "evaluate", "--workspace", root, "--name", "evil"],
        ["words", "migrate", "--workspace", root],
        ["words", "import", "--workspace", root, "--path", str(tmp_path / "payload.kv"), "--name", "x"],
        ["words", "import", "--workspace", root, "--path", str(tmp_path / "payload.kv"), "--name", "x",
         "--format", "native"],
        ["words", "import", "--workspace", root, "--path", str(tmp_path / "payload.npy"), "--name", "x"],
        ["words", "import", "--workspace", root, "--path", str(tmp_path / "payload.pkl"), "--name", "x"],
        ["project", "--workspace", root, "--words", "old"],
        ["project", "--workspace", root, "--words", "evil"],
    ]
    for argv in commands:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert "\nerror: " in "\n" + err.replace("\r", "\n") and "Traceback" not in err, argv
    assert main(["info", "--workspace", root]) == 0
    main(["evaluate", "--workspace", root, "--json", str(tmp_path / "e.json")])  # its exit code is evaluation's
    errors = json.loads((tmp_path / "e.json").read_text())["errors"]
    assert "words migrate" in errors["word embedding old"] and "evil.vectors.npy" in errors["word embedding evil"]
    assert not marker.exists()


def test_demo_build_replaces_an_old_kv_without_reading_it(tmp_path):
    marker = tmp_path / "unpickled.txt"
    ws = synthetic_workspace(tmp_path / "ws", n_tracks=20)
    built = build_glove(ws, limit=2000)
    # turn it into the old layout with the same build key, its .kv a payload
    for path in store_paths(ws, GLOVE_NAME).values():
        path.unlink()
    (ws.words_dir / f"{GLOVE_NAME}.kv").write_bytes(pickle.dumps(_WritesMarker(marker)))
    (ws.words_dir / f"{GLOVE_NAME}.kv.vectors.npy").write_bytes(b"old array")
    old_meta = {k: v for k, v in built.items() if k != "format_version"}
    (ws.words_dir / f"{GLOVE_NAME}.json").write_text(json.dumps(old_meta))
    rebuilt = build_glove(ws, limit=2000)
    assert rebuilt["format_version"] == FORMAT_VERSION and rebuilt["build"] == built["build"]
    assert not list(ws.words_dir.glob(f"{GLOVE_NAME}.kv*")) and not marker.exists()
    assert "saxophone" in load_word_vectors(ws, GLOVE_NAME)
    assert build_glove(ws, limit=2000)["created"] == rebuilt["created"]  # current: skipped
