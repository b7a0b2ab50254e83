"""The shared file plumbing: atomic writes, hashes, versioned JSON."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from core.errors import CheckpointError, DataError
from core.fileio import (directory_hash, file_hash, read_json, read_versioned_json, sha256_file, spreadsheet_safe,
                         write_atomic, write_csv, write_json)


def test_write_atomic_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    write_atomic(path, "one")
    write_atomic(path, b"two")
    assert path.read_text() == "two"
    write_atomic(tmp_path / "a.npy", lambda p: np.save(p, np.arange(3)))
    assert np.load(tmp_path / "a.npy", allow_pickle=False).tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.rglob("*.tmp*")) == []


def test_written_files_get_the_usual_permissions(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        write_atomic(tmp_path / "a.txt", "x")
        (tmp_path / "b.txt").write_text("x")
    finally:
        os.umask(mask)
    assert (tmp_path / "a.txt").stat().st_mode & 0o777 == (tmp_path / "b.txt").stat().st_mode & 0o777 == 0o644


def test_a_failed_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "a.json"
    write_json(path, {"x": 1})

    def broken(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(path, broken)
    assert json.loads(path.read_text()) == {"x": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_hashes_match_hashlib(tmp_path):
    (tmp_path / "b").write_bytes(b"beta")
    (tmp_path / "a").write_bytes(b"alpha")
    assert sha256_file(tmp_path / "a") == hashlib.sha256(b"alpha").hexdigest()
    expected = hashlib.sha256(b"a" + b"alpha" + b"b" + b"beta").hexdigest()[:16]
    assert file_hash([tmp_path / "b", tmp_path / "a"]) == expected
    assert directory_hash(tmp_path) == expected
    (tmp_path / "a").write_bytes(b"alphA")
    assert directory_hash(tmp_path) != expected


def test_json_readers_name_the_file(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match="bad.json"):
        read_json(bad)
    with pytest.raises(CheckpointError, match="missing"):
        read_json(tmp_path / "absent.json", CheckpointError)
    write_json(tmp_path / "v.json", {"format_version": 2, "x": 1})
    assert read_versioned_json(tmp_path / "v.json", 2)["x"] == 1
    with pytest.raises(DataError, match="format_version"):
        read_versioned_json(tmp_path / "v.json", 1)
    write_json(tmp_path / "list.json", [1, 2])
    with pytest.raises(DataError, match="JSON object"):
        read_versioned_json(tmp_path / "list.json", 1)


def test_csv_cells_never_start_a_formula(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"title": ["=HYPERLINK(\"http://x\")", "+1", "@SUM(A1)", "-2+3", "plain", "\tx"],
                          "score": [-1.5, 2.0, 3.0, 4.0, 5.0, 6.0]})
    write_csv(frame, tmp_path / "out.csv")
    back = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert not any(str(v).startswith(("=", "+", "@", "-", "\t")) for v in back["title"])
    assert back["title"].tolist()[4] == "plain"
    assert back["score"].tolist()[0] == -1.5  # numbers stay numbers
    assert spreadsheet_safe("=1") == "'=1" and spreadsheet_safe(-3) == -3
