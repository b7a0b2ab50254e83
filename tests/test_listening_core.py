"""Listening tests without a browser: database, design, rater flow, analysis, export, CLI."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sqlalchemy import func, select, text

from core.cli import main as cli_main
from core.errors import DataError, ParameterError
from core.listening.access import AccessDenied, authenticate_rater, create_raters, token_hash
from core.listening.analysis import build_report
from core.listening.db import (LATEST_VERSION, answers, database_url, get_test, list_tests, metadata, open_db,
                               raters, schema_version, trials_frame)
from core.listening.design import StudyDesign, build_trials, create_test
from core.listening.export import export_test
from core.listening.scoring import ExcerptEmbedder
from core.listening.session import (headphone_tone, headphone_trials, next_trial, record_answer,
                                    record_headphone_check, record_plays, session_info, start_session)

PLAYED = {"A": [{"heard_full": True, "listened_s": 3.0}], "B": [{"heard_full": False, "listened_s": 1.0}]}


def _tags(ws, track_id, category):
    return set(ws.catalog.tags_of(track_id).get(category, []))


# -------------------------------------------------------------- database
def test_migrations_run_once_in_order(listening_db, listening_ws):
    """On each backend: an empty database is refused without migrating, migrated once, then left alone."""
    with listening_db.write() as conn:  # back to an empty database: drop every table
        metadata.drop_all(conn)
    assert listening_db.version() == 0
    with pytest.raises(DataError, match="listening migrate"):
        open_db(listening_ws, migrate=False)
    db = open_db(listening_ws)
    assert db.dialect == listening_db.dialect and db.version() == LATEST_VERSION
    assert db.migrate() == []  # idempotent
    with db.read() as conn:
        versions = conn.execute(select(schema_version.c.version).order_by(schema_version.c.version)).scalars().all()
    assert versions == list(range(1, LATEST_VERSION + 1))
    db.dispose()


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(listening_ws):
    db = open_db(listening_ws)
    with db.read() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() >= 10_000
        assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
    assert (listening_ws.listening_dir / "listening.db").exists()
    db.dispose()


def test_database_url_precedence(listening_ws, monkeypatch, tmp_path):
    assert database_url(listening_ws) == f"sqlite:///{listening_ws.listening_dir / 'listening.db'}"
    listening_ws.manifest["listening_db_url"] = "postgresql://lab/db"
    assert database_url(listening_ws) == "postgresql://lab/db"
    monkeypatch.setenv("TAGSPACE_LISTENING_DB", f"sqlite:///{tmp_path / 'env.db'}")
    assert database_url(listening_ws) == f"sqlite:///{tmp_path / 'env.db'}"
    assert database_url(listening_ws, url="sqlite://") == "sqlite://"


# ---------------------------------------------------------------- design
def test_random_design_has_tag_triplets_catches_and_swapped_repeats(listening_ws):
    design = StudyDesign(name="d", n_trials=10, dimensions=("genre", "mood"), n_catch=2, repeat_fraction=0.2,
                        clip_seconds=3.0, offset="middle", seed=3)
    rows = build_trials(listening_ws, design)
    assert rows == build_trials(listening_ws, design)  # seeded
    kinds = [r["kind"] for r in rows]
    assert kinds.count("main") == 10 and kinds.count("catch") == 2 and kinds.count("repeat") == 2
    for r in rows:
        if r["kind"] == "main":
            pos, neg = (r["song1_id"], r["song2_id"]) if r["expected"] == "song1" else (r["song2_id"], r["song1_id"])
            anchor_tags = _tags(listening_ws, r["anchor_id"], r["dimension"])
            assert anchor_tags & _tags(listening_ws, pos, r["dimension"])
            assert not anchor_tags & _tags(listening_ws, neg, r["dimension"])
            assert r["anchor_start"] == pytest.approx(0.5)  # middle of a 4 s track, 3 s clips
        if r["kind"] == "catch":
            copy = r["expected"]
            assert (r[f"{copy}_id"], r[f"{copy}_start"]) == (r["anchor_id"], r["anchor_start"])
        if r["kind"] == "repeat":
            original = rows[r["repeat_of_position"]]
            assert original["kind"] == "main" and original["song1_side"] != r["song1_side"]
            assert (original["anchor_id"], original["song1_id"]) == (r["anchor_id"], r["song1_id"])
    sides = {r["song1_side"] for r in rows}
    assert sides == {"A", "B"}


def test_tempo_triplets_use_bpm_within_five(listening_ws):
    rows = build_trials(listening_ws, StudyDesign(name="t", n_trials=6, dimensions=("tempo",), n_catch=0,
                                                  repeat_fraction=0, seed=1))
    bpm = listening_ws.catalog.tracks.set_index("track_id")["bpm"]
    for r in rows:
        pos, neg = (r["song1_id"], r["song2_id"]) if r["expected"] == "song1" else (r["song2_id"], r["song1_id"])
        assert abs(bpm[pos] - bpm[r["anchor_id"]]) <= 5 < abs(bpm[neg] - bpm[r["anchor_id"]])


def test_retrieval_and_disagreement_sources(listening_ws):
    ids = listening_ws.catalog.track_ids
    rng = np.random.default_rng(0)
    for name in ("m1", "m2"):
        folder = listening_ws.embeddings_dir / name
        folder.mkdir(parents=True)
        (folder / "track_ids.json").write_text(json.dumps(ids))
        vectors = rng.normal(size=(len(ids), 8))
        np.save(folder / "tracks.npy", (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32))
    rows = build_trials(listening_ws, StudyDesign(name="r", source="retrieval", models=("m1",), n_trials=4,
                                                  n_catch=0, repeat_fraction=0))
    vecs = np.load(listening_ws.embeddings_dir / "m1" / "tracks.npy")
    index = {t: i for i, t in enumerate(ids)}
    for r in rows:
        near = r[f"{r['origin']['model_prefers']}_id"]
        far = r["song2_id"] if near == r["song1_id"] else r["song1_id"]
        a = vecs[index[r["anchor_id"]]]
        assert a @ vecs[index[near]] > a @ vecs[index[far]]
    rows = build_trials(listening_ws, StudyDesign(name="g", source="disagreement", models=("m1", "m2"),
                                                  n_trials=5, n_catch=0, repeat_fraction=0))
    for r in rows:
        margins = r["origin"]["margin"]
        assert margins["m1"] * margins["m2"] < 0  # the two models prefer different candidates
    scores = [r["origin"]["disagreement"] for r in rows]
    assert scores == sorted(scores, reverse=True)


def test_design_validation_errors(listening_ws):
    with pytest.raises(ParameterError, match="question"):
        build_trials(listening_ws, StudyDesign(name="x", question="loudness"))
    with pytest.raises(ParameterError, match="2 model"):
        build_trials(listening_ws, StudyDesign(name="x", source="disagreement", models=("m1",)))
    with pytest.raises(DataError, match="embed"):
        build_trials(listening_ws, StudyDesign(name="x", source="retrieval", models=("nope",)))


# ----------------------------------------------------------- rater flow
def _make_test(db, ws, **kw):
    params = dict(name="flow", n_trials=8, dimensions=("genre",), n_catch=1, repeat_fraction=0.25,
                  clip_seconds=2.0, seed=0)
    params.update(kw)
    return create_test(db, ws, StudyDesign(**params))


def test_rater_links_grant_only_their_test(listening_ws, listening_db):
    t1, t2 = _make_test(listening_db, listening_ws), _make_test(listening_db, listening_ws)
    (rid, token), = create_raters(listening_db, t1, 1)
    assert authenticate_rater(listening_db, t1, token) == rid
    with pytest.raises(AccessDenied):
        authenticate_rater(listening_db, t2, token)
    with pytest.raises(AccessDenied):
        authenticate_rater(listening_db, t1, token + "x")
    with listening_db.read() as conn:  # only a hash of the token is stored
        stored = conn.execute(select(raters.c.token_hash).where(raters.c.rater_id == rid)).scalar_one()
    assert stored == token_hash(token) and token not in stored


def test_session_resumes_enforces_must_play_and_ignores_double_submission(listening_ws, listening_db):
    test_id = _make_test(listening_db, listening_ws, trials_per_rater=4)
    (rid, _), = create_raters(listening_db, test_id, 1)
    sid = start_session(listening_db, test_id, rid, {"m": "abc"})
    assert start_session(listening_db, test_id, rid) == sid  # a reload resumes the same session
    info = session_info(listening_db, sid)
    trials = trials_frame(listening_db, test_id).set_index("trial_id")
    order = info["trial_order"]
    kinds = trials.loc[order, "kind"].tolist()
    assert kinds.count("main") == 4 and kinds.count("catch") == 1
    for tid in order:
        if trials.at[tid, "kind"] == "repeat":
            assert trials.at[tid, "repeat_of"] in order[: order.index(tid)]

    view = next_trial(listening_db, sid)
    assert (view.index, view.total) == (1, len(order)) and view.trial_id == order[0]
    with pytest.raises(ParameterError, match="play both"):
        record_answer(listening_db, sid, view.trial_id, "A")
    record_plays(listening_db, sid, view.trial_id, {"A": [{"heard_full": False, "listened_s": 0.5}]})
    stored = record_plays(listening_db, sid, view.trial_id, {"A": [{"heard_full": True, "listened_s": 2.0}]})
    assert stored["A"] == [{"heard_full": True, "listened_s": 2.0}]  # same play, updated
    row, created = record_answer(listening_db, sid, view.trial_id, "B", 1234,
                                 {"B": [{"heard_full": True, "listened_s": 2.0}]})
    assert created and row["plays_a"] == 1 and row["full_a"] and row["full_b"] and row["plays_anchor"] == 0
    song1_side = trials.at[view.trial_id, "song1_side"]
    assert row["choice"] == ("song1" if song1_side == "B" else "song2")
    assert json.loads(row["model_versions"]) == {"m": "abc"} and row["response_ms"] == 1234
    again, created = record_answer(listening_db, sid, view.trial_id, "A", 99, PLAYED)
    assert not created and again == row  # a double click records nothing new
    nxt = next_trial(listening_db, sid)
    assert nxt.index == 2 and nxt.trial_id == order[1]
    with pytest.raises(ParameterError, match="not part"):
        record_answer(listening_db, sid, int(trials.index.max()) + 100, "A", 1, PLAYED)


def test_headphone_check(listening_ws, listening_db):
    orders = headphone_trials(seed=1)
    assert len(orders) == 6 and all(sorted(o) == ["antiphase", "in_phase", "quiet"] for o in orders)
    test_id = _make_test(listening_db, listening_ws, headphone_check=True)
    (rid, _), = create_raters(listening_db, test_id, 1)
    sid = start_session(listening_db, test_id, rid)
    right = [o.index("quiet") for o in orders]
    wrong_two = [(p + 1) % 3 for p in right[:2]] + right[2:]
    assert not record_headphone_check(listening_db, sid, orders, wrong_two)
    assert record_headphone_check(listening_db, sid, orders, [(right[0] + 1) % 3] + right[1:])
    assert session_info(listening_db, sid)["headphone_score"] == 5
    anti, _ = sf.read(io.BytesIO(headphone_tone("antiphase")))
    quiet, _ = sf.read(io.BytesIO(headphone_tone("quiet")))
    assert np.allclose(anti[:, 0], -anti[:, 1], atol=1e-4)
    assert 20 * np.log10(np.abs(quiet).max() / np.abs(anti).max()) == pytest.approx(-6, abs=0.1)


def _answer_all(db, sid, pick):
    while (view := next_trial(db, sid)) is not None:
        record_answer(db, sid, view.trial_id, pick(view), 500, PLAYED)


def test_report_agreement_reliability_and_model_scores(listening_ws, listening_db):
    test_id = _make_test(listening_db, listening_ws, n_trials=6, repeat_fraction=0.5)
    trials = trials_frame(listening_db, test_id).set_index("trial_id")
    side_of = lambda tid, song: trials.at[tid, "song1_side"] if song == "song1" else (  # noqa: E731
        "B" if trials.at[tid, "song1_side"] == "A" else "A")
    expected_side = lambda v: side_of(v.trial_id, trials.at[v.trial_id, "expected"])  # noqa: E731
    sessions = [start_session(listening_db, test_id, rid) for rid, _ in create_raters(listening_db, test_id, 3)]
    _answer_all(listening_db, sessions[0], expected_side)
    _answer_all(listening_db, sessions[1], expected_side)
    _answer_all(listening_db, sessions[2], lambda v: "A")  # a careless rater: always A
    fake = ExcerptEmbedder(embed=lambda tid, s, l: np.eye(12)[int(tid[1:])],
                           spaces={"full": slice(None)}, normalized=True)
    report = build_report(listening_db, test_id, threshold=0.6, embedders={"onehot": fake})
    s = report["summary"]
    assert s["answers"] == 3 * len(session_info(listening_db, sessions[0])["trial_order"])
    assert s["raters"] == 3 and s["rated_trials"] == 6 and s["ratings_per_trial"] == 3
    table = report["trials"]
    assert (table["n_votes"] == 3).all()
    assert (table["majority"] == table["expected"]).all()  # two careful raters out of three
    careless = (report["answers"].query("kind == 'main'").groupby("rater_id")["side_chosen"]
                .agg(lambda x: set(x) == {"A"}))
    careless_id = careless[careless].index[0]
    raters_tab = report["raters"].set_index("rater_id")
    careful = raters_tab.drop(careless_id)
    assert (careful["catch_accuracy"] == 1).all() and (careful["repeat_consistency"] == 1).all()
    assert raters_tab.at[careless_id, "repeat_consistency"] == 0  # same side twice = different songs
    expected_pa = (12 + (table["song1_side"] == table["expected"].map({"song1": "A", "song2": "B"})).sum()) / 18
    assert s["percent_agreement_with_majority"] == pytest.approx(expected_pa)
    assert s["human_ceiling"] == pytest.approx(table["agreement"].mean())
    models = report["models"]
    assert list(models["model"]) == ["onehot"] and models.at[0, "n"] == s["trials_above_threshold"]
    # one-hot excerpts: every candidate is equally (dis)similar, so the model always says song2
    assert models.at[0, "correct"] == int((table["majority"] == "song2").sum())


def test_export_csv_and_parquet(listening_ws, listening_db, tmp_path):
    test_id = _make_test(listening_db, listening_ws)
    (rid, _), = create_raters(listening_db, test_id, 1)
    sid = start_session(listening_db, test_id, rid)
    _answer_all(listening_db, sid, lambda v: "B")
    paths = export_test(listening_db, test_id, tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(f"{test_id}_{t}.{f}" for t in ("trials", "answers", "plays")
                                                     for f in ("csv", "parquet"))
    csv = pd.read_csv(tmp_path / "out" / f"{test_id}_answers.csv")
    parquet = pd.read_parquet(tmp_path / "out" / f"{test_id}_answers.parquet")
    n = len(session_info(listening_db, sid)["trial_order"])
    assert len(csv) == len(parquet) == n and set(csv["side_chosen"]) == {"B"}
    assert {"rater_id", "anchor_start", "song1_side", "plays_a", "full_b", "response_ms", "app_version"} <= set(csv)
    plays = pd.read_parquet(tmp_path / "out" / f"{test_id}_plays.parquet")
    assert len(plays) == 2 * n  # one A and one B play per trial


def test_cli_migrate_create_report_export(listening_ws, listening_db, tmp_path, capsys):
    root = str(listening_ws.root)
    assert cli_main(["listening", "migrate", "--workspace", root]) == 0
    assert f"schema version {LATEST_VERSION}" in capsys.readouterr().out
    assert cli_main(["listening", "create", "--workspace", root, "--name", "cli", "--n-trials", "4",
                     "--dimensions", "mood", "--raters", "2", "--base-url", "http://lab:8501"]) == 0
    out = capsys.readouterr().out.splitlines()
    test_id = out[0].split()[1]
    assert len(out) == 3 and all(f"http://lab:8501/?test={test_id}&rater=" in line for line in out[1:])
    db = open_db(listening_ws)
    token = out[1].split("rater=")[1]
    sid = start_session(db, test_id, authenticate_rater(db, test_id, token))
    _answer_all(db, sid, lambda v: "A")
    assert cli_main(["listening", "report", "--workspace", root, "--test", test_id, "--models", "", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["summary"]["answers"] == len(session_info(db, sid)["trial_order"])
    assert report["summary"]["percent_agreement_with_majority"] is None  # one rater: no agreement to measure
    assert cli_main(["listening", "export", "--workspace", root, "--test", test_id, "--out", str(tmp_path / "x"),
                     "--format", "csv"]) == 0
    assert len(capsys.readouterr().out.split()) == 3
    assert cli_main(["listening", "report", "--workspace", root, "--test", "t-nope", "--models", ""]) == 2
    assert "unknown listening test" in capsys.readouterr().err
    assert get_test(db, test_id)["design"]["n_trials"] == 4
    with db.read() as conn:
        assert conn.execute(select(func.count()).select_from(answers)).scalar_one() > 0


# ------------------------------------------------------------------ pages
def _app(page: str, ws, monkeypatch):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("TAGSPACE_WORKSPACE", str(ws.root))
    return AppTest.from_file(f"../pages/{page}", default_timeout=60)


def test_rater_page_link_consent_and_headphone_check(listening_ws, listening_db, monkeypatch):
    test_id = _make_test(listening_db, listening_ws, headphone_check=True)
    (rid, token), = create_raters(listening_db, test_id, 1)
    at = _app("listening_rate.py", listening_ws, monkeypatch)
    at.query_params.update({"test": test_id, "rater": "forged"})
    at.run()
    assert "not valid" in at.error[0].value and not at.button
    at.query_params["rater"] = token
    at.run()
    at.button[0].click().run()  # "I agree, start"
    orders = headphone_trials(int(get_test(listening_db, test_id)["seed"]))
    assert len(at.radio) == 6
    for radio, order in zip(at.radio, orders):
        radio.set_value(order.index("quiet") + 1)
    at.button[0].click().run()  # "Continue"
    info = session_info(listening_db, start_session(listening_db, test_id, rid))
    assert info["consent_at"] and info["headphone_score"] == 6 and info["headphone_passed"]
    assert any("more similar" in m.value for m in at.markdown)


def test_researcher_page_needs_the_password(listening_ws, listening_db, monkeypatch):
    monkeypatch.setenv("TAGSPACE_RESEARCHER_PASSWORD", "s3cret-pass-phrase")
    _make_test(listening_db, listening_ws)
    at = _app("listening_design.py", listening_ws, monkeypatch)
    at.run()
    assert not at.tabs
    at.text_input[0].input("guess")
    at.button[0].click().run()
    assert "wrong password" in at.error[0].value and not at.tabs
    at.text_input[0].input("s3cret-pass-phrase")
    at.button[0].click().run()
    assert [t.label for t in at.tabs] == ["Design", "Rater links", "Report"]
    assert any(m.label == "Answers" and m.value == "0" for m in at.metric)
    next(b for b in at.button if b.label == "Create test").click().run()
    assert not at.error and "Created test" in at.success[0].value
    tests = list_tests(listening_db)
    assert len(tests) == 2 and tests[0]["name"] == "listening test"
    assert len(trials_frame(listening_db, tests[0]["test_id"])) == 20 + 2 + 2  # main, catch, 10% repeats


def test_csv_exports_are_safe_against_formula_injection(listening_ws, listening_db, tmp_path):
    from sqlalchemy import update

    from core.listening.db import trials
    from core.listening.export import listening_tables, table_bytes

    test_id = _make_test(listening_db, listening_ws)
    payload = '=HYPERLINK("http://evil","x")'
    with listening_db.write() as conn:  # a track id that a spreadsheet would run as a formula
        conn.execute(update(trials).where(trials.c.test_id == test_id).values(anchor_id=payload))
    export_test(listening_db, test_id, tmp_path / "out", formats=("csv",))
    cells = pd.read_csv(tmp_path / "out" / f"{test_id}_trials.csv")["anchor_id"]
    assert set(cells) == {"'" + payload}
    download = table_bytes(listening_tables(listening_db, test_id)["trials"], "csv").decode()
    assert "'" + payload.replace('"', '""') in download and "\n" + payload not in download
    parquet = pd.read_parquet(io.BytesIO(table_bytes(trials_frame(listening_db, test_id), "parquet")))
    assert set(parquet["anchor_id"]) == {payload}  # Parquet keeps the data as it is
