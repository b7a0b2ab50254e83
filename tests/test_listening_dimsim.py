"""dim-sim import and model-vs-human accuracy against a hand-checked file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from core.errors import DataError
from core.listening.analysis import build_report
from core.listening.scoring import ExcerptEmbedder
from core.listening.db import trials_frame
from core.listening.design import StudyDesign, create_test
from core.listening.dimsim import COLUMNS, human_votes, read_dimsim, score_dimsim
from tests.listening_support import SR

# (anchor, anchor start, song1, song2, song1_vote, song2_vote); every candidate starts at 0 s.
ROWS = [
    ("a", 0.0, "b", "c", 9, 1),   # 1: label song1, agreement 0.9
    ("a", 10.0, "b", "c", 0, 10),  # 2: label song2 (anchor excerpt at 10 s differs from the one at 0 s)
    ("d", 0.0, "e", "f", 1, 0),   # 3: clean-file style 0/1 votes, label song1
    ("d", 0.0, "f", "e", 5, 5),   # 4: tie, never scored
    ("a", 0.0, "c", "b", 6, 4),   # 5: label song1, agreement 0.6
]
# Embeddings per (track, start); subspace "first" = dims 0-1, "second" = dims 2-3.
EMB = {
    ("a", 0.0): [1, 0, 1, 0], ("a", 10.0): [0, 1, 0, 1],
    ("b", 0.0): [1, 0, 0.5, 0.5], ("c", 0.0): [0, 1, 1, 0],
    ("d", 0.0): [1, 0, 0, 0], ("e", 0.0): [0.6, 0, 0.8, 0], ("f", 0.0): [0, 1, 0, 0],
}
# Hand check (cosine; song1 predicted only when strictly more similar):
#   row 1: full cos(a0,b)=1.5/(sqrt2*sqrt1.5)=0.866 > cos(a0,c)=0.5 -> song1 (right);
#          first: 1 > 0 -> song1 (right); second: 0.707 < 1 -> song2 (wrong)
#   row 2: full 0.289 < 0.5 -> song2 (right); first 0 < 1 (right); second 0.707 > 0 -> song1 (wrong)
#   row 3: full 0.6 > 0 -> song1 (right); first 1 > 0 (right); second: d is zero there, 0 = 0 -> song2 (wrong)
#   row 5: full 0.5 < 0.866 -> song2 (wrong); first 0 < 1 (wrong); second 1 > 0.707 -> song1 (right)
# All labelled rows (1, 2, 3, 5): full 3/4, first 3/4, second 1/4.
# Agreement >= 0.9 (rows 1, 2, 3): full 3/3, first 3/3, second 0/3.


def _write(path, rows=ROWS):
    records = []
    for i, (anchor, start, s1, s2, v1, v2) in enumerate(rows):
        records.append({"triplet_id": f"trip{i}", "anchor_id": anchor, "anchor_start_seconds": start,
                        "anchor_start_samples": int(start * SR), "song1_id": s1, "song1_start_seconds": 0.0,
                        "song1_start_samples": 0, "song2_id": s2, "song2_start_seconds": 0.0,
                        "song2_start_samples": 0, "sampling_rate": SR, "clip_lengths_seconds": 3.0,
                        "clip_lengths_samples": 3 * SR, "song1_vote": v1, "song2_vote": v2})
    if path.suffix == ".json":
        path.write_text(json.dumps(records))
    else:
        pd.DataFrame(records, columns=list(COLUMNS)).to_csv(path, index=False)
    return path


def _fake():
    return ExcerptEmbedder(embed=lambda tid, start, length: np.array(EMB[(tid, start)], dtype=float),
                           spaces={"full": slice(None), "first": slice(0, 2), "second": slice(2, 4)},
                           normalized=True)


def test_read_csv_and_json_alike(tmp_path):
    csv, js = read_dimsim(_write(tmp_path / "d.csv")), read_dimsim(_write(tmp_path / "d.json"))
    pd.testing.assert_frame_equal(csv, js)
    votes = human_votes(csv)
    assert votes["agreement"].tolist() == pytest.approx([0.9, 1.0, 1.0, 0.5, 0.6])
    assert [m if isinstance(m, str) else None for m in votes["majority"]] == ["song1", "song2", "song1", None, "song1"]


def test_model_vs_human_accuracy_matches_hand_check(tmp_path):
    frame = read_dimsim(_write(tmp_path / "d.csv"))
    got = score_dimsim(frame, {"fake": _fake()}).set_index("space")
    assert got["n"].tolist() == [4, 4, 4]
    assert got["correct"].to_dict() == {"full": 3, "first": 3, "second": 1}
    assert got.at["full", "accuracy"] == pytest.approx(0.75)
    assert got.at["full", "ci_low"] < 0.75 < got.at["full", "ci_high"]
    strict = score_dimsim(frame, {"fake": _fake()}, threshold=0.9).set_index("space")
    assert strict["correct"].to_dict() == {"full": 3, "first": 3, "second": 0} and (strict["n"] == 3).all()


def test_bad_files_are_rejected_with_reasons(tmp_path):
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"triplet_id": [1]}).to_csv(bad, index=False)
    with pytest.raises(DataError, match="missing dim-sim column"):
        read_dimsim(bad)
    path = _write(tmp_path / "neg.csv", [("a", 0.0, "b", "c", -1, 2)])
    with pytest.raises(DataError, match="negative"):
        read_dimsim(path)
    with pytest.raises(DataError, match="not found"):
        read_dimsim(tmp_path / "none.csv")


def test_imported_test_carries_votes_and_offsets_and_scores_audio_excerpts(listening_ws, listening_db, tmp_path):
    # Track t00 becomes silence for 2 s then a loud tone: excerpts at 0 s and 2.5 s must embed differently.
    y = np.zeros(4 * SR, dtype=np.float32)
    y[2 * SR:] = 0.5 * np.sin(2 * np.pi * 440 * np.arange(2 * SR) / SR)
    sf.write(listening_ws.audio_root / "t00.wav", y, SR)
    rows = [("t00", 2.5, "t01", "t02", 3, 0), ("t00", 0.0, "t02", "t01", 0, 3)]
    path = _write(tmp_path / "ws.csv", rows)
    frame = read_dimsim(path)
    frame["clip_lengths_seconds"] = 1.0
    frame.to_csv(path, index=False)
    test_id = create_test(listening_db, listening_ws, StudyDesign(name="dimsim", source="dimsim", dimsim_path=str(path),
                                                                 n_trials=0, n_catch=1, repeat_fraction=0))
    trials = trials_frame(listening_db, test_id)
    main = trials[trials["kind"] == "main"]
    assert main["anchor_start"].tolist() == [2.5, 0.0] and (main["clip_seconds"] == 1.0).all()

    class Loudness:  # a fake model: 2-d "embedding" = (mean log-mel, 1), with the frames it saw
        normalized = False
        seen = []

        def subspaces(self):
            return {"all": slice(0, 2)}

        def encode_track(self, mel):
            self.seen.append(mel.shape[1])
            return np.array([float(mel.mean()), 1.0])

    model = Loudness()
    embedder = ExcerptEmbedder.from_model(listening_ws, model)
    assert embedder.vector("t00", 0.0, 1.0)[0] < embedder.vector("t00", 2.5, 1.0)[0]
    assert set(model.seen) == {44}  # 1 s at hop 512: 1 + 22050 // 512 frames
    report = build_report(listening_db, test_id, threshold=0.9, embedders={"loud": embedder})
    table = report["trials"]
    assert table["n_votes"].tolist() == [3, 3] and table["majority"].tolist() == ["song1", "song2"]
    assert report["summary"]["trials_above_threshold"] == 2 and report["summary"]["human_ceiling"] == 1.0
    assert report["models"].at[0, "n"] == 2
