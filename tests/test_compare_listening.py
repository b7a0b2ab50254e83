"""From disagreement triplets to a listening test and back: the design round-trips through the
listening database (SQLite and PostgreSQL), and the report's A-vs-B split is right on a hand-checked set."""

from __future__ import annotations

import json
import numpy as np
import pandas as pd
import pytest

from core.errors import DataError, ParameterError
from core.fileio import write_json
from core.listening.access import create_raters
from core.listening.analysis import build_report, format_report, model_side_split
from core.listening.db import trials_frame
from core.listening.design import StudyDesign, build_trials, create_test
from core.listening.session import record_answer, start_session
from core.listening.stats import wilson_interval

# 2-D vectors of the 12 tracks of tests/listening_support.py: model A puts them on a half circle in
# index order, model B in the order i * 5 mod 12, so the two disagree on which neighbour is closer.
ANGLES = np.linspace(0, np.pi, 12)


def _store_embeddings(ws, name: str, angles: np.ndarray) -> np.ndarray:
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)
    folder = ws.embeddings_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "tracks.npy", vectors)
    write_json(folder / "track_ids.json", [f"t{i:02d}" for i in range(12)])
    return vectors.astype(np.float64)


@pytest.fixture()
def two_models(listening_ws):
    va = _store_embeddings(listening_ws, "model-a", ANGLES)
    vb = _store_embeddings(listening_ws, "model-b", ANGLES[[(i * 5) % 12 for i in range(12)]])
    return va, vb


# (anchor, x, y): A puts the anchor nearer x (index neighbour), B nearer y
CHOSEN = ({"anchor_id": "t05", "song1_id": "t04", "song2_id": "t11"},
          {"anchor_id": "t02", "song1_id": "t03", "song2_id": "t09"},
          {"anchor_id": "t08", "song1_id": "t07", "song2_id": "t01"})


def _row(tid: str) -> int:
    return int(tid[1:])


def test_disagreement_design_round_trips_through_the_listening_db(listening_ws, listening_db, two_models):
    va, vb = two_models
    design = StudyDesign(name="A vs B", source="disagreement", models=("model-a", "model-b"), triplets=CHOSEN,
                         n_trials=len(CHOSEN), n_catch=2, repeat_fraction=0.34, must_play_both=False, seed=3)
    test_id = create_test(listening_db, listening_ws, design)
    trials = trials_frame(listening_db, test_id).sort_values("position")
    main = trials[trials["kind"] == "main"]
    assert [(r.anchor_id, r.song1_id, r.song2_id) for r in main.itertuples()] == \
        [(t["anchor_id"], t["song1_id"], t["song2_id"]) for t in CHOSEN]
    for r in main.itertuples():
        origin = json.loads(r.origin)
        a, s1, s2 = _row(r.anchor_id), _row(r.song1_id), _row(r.song2_id)
        assert origin["models"] == ["model-a", "model-b"]
        assert origin["margin"]["model-a"] == pytest.approx(va[a] @ va[s1] - va[a] @ va[s2], abs=1e-6)
        assert origin["margin"]["model-b"] == pytest.approx(vb[a] @ vb[s1] - vb[a] @ vb[s2], abs=1e-6)
        assert origin["margin"]["model-a"] > 0 > origin["margin"]["model-b"]
    catches = trials[trials["kind"] == "catch"]
    assert len(catches) == 2
    for r in catches.itertuples():
        assert getattr(r, f"{r.expected}_id") == r.anchor_id  # the anchor copy is the expected answer
    repeats = trials[trials["kind"] == "repeat"]
    assert len(repeats) == 1
    original = trials.set_index("trial_id").loc[int(repeats.iloc[0]["repeat_of"])]
    assert original["song1_side"] != repeats.iloc[0]["song1_side"]  # sides swapped

    # two raters answer every main trial: rater 1 always sides with A, rater 2 with A on the first trial only
    links = create_raters(listening_db, test_id, 2)
    side_of = {r.trial_id: r.song1_side for r in trials.itertuples()}
    for n, (rater, _) in enumerate(links):
        session = start_session(listening_db, test_id, rater)
        for i, r in enumerate(main.itertuples()):
            pick_song1 = n == 0 or i == 0  # song1 is A's choice on every chosen triplet
            side = side_of[r.trial_id] if pick_song1 else ("B" if side_of[r.trial_id] == "A" else "A")
            record_answer(listening_db, session, r.trial_id, side)
    report = build_report(listening_db, test_id)
    sides = report["sides"].set_index("basis")
    answers = sides.loc["answers"]
    assert (answers["model_a"], answers["model_b"], answers["n"], answers["with_a"], answers["with_b"]) == \
        ("model-a", "model-b", 6, 4, 2)
    assert (answers["a_low"], answers["a_high"]) == pytest.approx(wilson_interval(4, 6))
    majorities = sides.loc["trial majorities"]  # trial 1: 2-0 for A; trials 2 and 3: 1-1 ties, no majority
    assert (majorities["n"], majorities["with_a"], majorities["with_b"]) == (1, 1, 0)
    assert "siding with model A vs model B" in format_report(report)


def test_chosen_triplets_must_be_opposite_judgements(listening_ws, two_models):
    va, vb = two_models
    a, s1, s2 = 0, 1, 11  # both models put t00 nearer t01 than t11
    assert va[a] @ va[s1] - va[a] @ va[s2] > 0 and vb[a] @ vb[s1] - vb[a] @ vb[s2] > 0
    agreed = ({"anchor_id": "t00", "song1_id": "t01", "song2_id": "t11"},)
    design = StudyDesign(name="x", source="disagreement", models=("model-a", "model-b"), triplets=agreed)
    with pytest.raises(DataError, match="do not make opposite judgements"):
        build_trials(listening_ws, design)
    unknown = ({"anchor_id": "t00", "song1_id": "t01", "song2_id": "zz"},)
    with pytest.raises(DataError, match="no vector"):
        build_trials(listening_ws, StudyDesign(name="x", source="disagreement", models=("model-a", "model-b"),
                                               triplets=unknown))
    with pytest.raises(ParameterError, match="three different track ids"):
        StudyDesign(name="x", source="disagreement", models=("model-a", "model-b"),
                    triplets=({"anchor_id": "t01", "song1_id": "t01", "song2_id": "t02"},)).validate()
    with pytest.raises(ParameterError, match="need the disagreement source"):
        StudyDesign(name="x", source="random", triplets=CHOSEN).validate()


def _trial(trial_id, models, margins, kind="main"):
    return {"trial_id": trial_id, "kind": kind, "position": trial_id, "repeat_of": None, "expected": None,
            "anchor_id": "a", "song1_id": "s1", "song2_id": "s2",
            "origin": json.dumps({"models": models, "margin": dict(zip(models, margins))} if models else {})}


def _answer(trial_id, rater, choice, kind="main"):
    return {"trial_id": trial_id, "rater_id": rater, "choice": choice, "kind": kind}


def test_side_split_on_a_hand_checked_set():
    """Hand count. Trials 1-3 compare m1 vs m2, trial 4 m1 vs m3, trial 5 is a random trial, 6 a catch.

    trial 1: m1 prefers song1, m2 song2; answers song1, song1, song2 -> m1 2, m2 1; majority song1 (m1)
    trial 2: m1 prefers song2 (negative margin), m2 song1; answers song2, song2 -> m1 2; majority m1
    trial 3: m1 song1, m2 song2; answers song2, song1 -> m1 1, m2 1; tie, no majority
    trial 4: m1 song1, m3 song2; answer song2 -> m3 1; majority m3
    trial 5 (no models) and 6 (catch) and the repeat answer of trial 1 do not count.
    Answers, m1 vs m2: n 7, with m1 5, with m2 2. Majorities: n 2 (trials 1, 2), both m1.
    """
    trials = pd.DataFrame([_trial(1, ["m1", "m2"], [0.3, -0.1]), _trial(2, ["m1", "m2"], [-0.2, 0.4]),
                           _trial(3, ["m1", "m2"], [0.1, -0.5]), _trial(4, ["m1", "m3"], [0.2, -0.2]),
                           _trial(5, None, None), _trial(6, ["m1", "m2"], [0.3, -0.1], kind="catch"),
                           _trial(7, ["m1", "m2"], [0.3, -0.1], kind="repeat")])
    answers = pd.DataFrame([_answer(1, "r1", "song1"), _answer(1, "r2", "song1"), _answer(1, "r3", "song2"),
                            _answer(2, "r1", "song2"), _answer(2, "r2", "song2"),
                            _answer(3, "r1", "song2"), _answer(3, "r2", "song1"),
                            _answer(4, "r1", "song2"), _answer(5, "r1", "song1"),
                            _answer(6, "r1", "song2", "catch"), _answer(7, "r1", "song2", "repeat")])
    split = model_side_split(trials, answers)
    got = {(r.basis, r.model_a, r.model_b): (r.n, r.with_a, r.with_b) for r in split.itertuples()}
    assert got == {("answers", "m1", "m2"): (7, 5, 2), ("answers", "m1", "m3"): (1, 0, 1),
                   ("trial majorities", "m1", "m2"): (2, 2, 0), ("trial majorities", "m1", "m3"): (1, 0, 1)}
    row = split[(split["basis"] == "answers") & (split["model_b"] == "m2")].iloc[0]
    assert row["share_a"] == pytest.approx(5 / 7)
    assert (row["a_low"], row["a_high"]) == pytest.approx(wilson_interval(5, 7))
    assert (row["b_low"], row["b_high"]) == pytest.approx(wilson_interval(2, 7))
    empty = model_side_split(trials[trials["trial_id"] == 5], answers)
    assert empty.empty and list(empty.columns)[:3] == ["basis", "model_a", "model_b"]
