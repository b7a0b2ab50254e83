"""Demo corpus: tag rules, rendering and planning (no full build)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from core.demo import corpus, render, tagging
from core.errors import ParameterError

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ tags
@pytest.mark.parametrize("bpm, cls", [
    (60, "slow"), (75.99, "slow"), (76, None), (80, None), (83.99, None), (84, "medium"), (100.5, "medium"),
    (113.99, "medium"), (114, None), (120, None), (125.99, None), (126, "fast"), (180, "fast")])
def test_tempo_class_has_a_tolerance_band_around_each_boundary(bpm, cls):
    assert tagging.tempo_class(bpm) == cls
    assert tagging.tempo_tags(bpm) == ([cls] if cls else [])  # no "<N> bpm" tags any more
    assert len(tagging.tempo_classes(bpm)) == (1 if cls else 2)


def test_clear_ranges_lie_outside_the_tolerance_bands():
    for cls in tagging.TEMPO_CLASSES:
        lo, hi = tagging.clear_range(cls)
        inside = np.linspace(max(lo, 1.0), min(hi, 300.0) - 1e-6, 50)
        assert {tagging.tempo_class(b) for b in inside} == {cls}
    assert tagging.clear_range("medium") == pytest.approx((84, 114))
    with pytest.raises(ParameterError):
        tagging.clear_range("presto")


@pytest.mark.parametrize("bpm", [0, -3, float("nan"), float("inf")])
def test_tempo_class_rejects_impossible_tempi(bpm):
    with pytest.raises(ParameterError):
        tagging.tempo_class(bpm)


def test_mood_rule_covers_every_mode_and_tempo_class():
    assert tagging.mood_tags("major", 150) == ["happy", "energetic"]
    assert tagging.mood_tags("minor", 60) == ["sad", "melancholic"]
    assert tagging.mood_tags("minor", 150) == ["dark", "energetic"]
    for mode in ("major", "minor"):
        for bpm in (60, 100, 150):
            assert tagging.mood_tags(mode, bpm) == list(tagging.MOOD_RULE[(mode, tagging.tempo_class(bpm))])
    with pytest.raises(ParameterError):
        tagging.mood_tags("dorian", 100)
    assert "rule-derived" in tagging.__doc__.lower().replace("**", "")


@pytest.mark.parametrize("mode, bpm, moods", [
    ("minor", 79, ["melancholic"]), ("major", 79, []), ("major", 118, ["happy"]), ("minor", 118, [])])
def test_ambiguous_tempo_keeps_only_moods_both_classes_give(mode, bpm, moods):
    assert tagging.mood_tags(mode, bpm) == moods


@pytest.mark.parametrize("title, tune", [
    ("Around the World -- Reel", "reel"), ("Andrew Carey's -- Slipjig", "slip jig"),
    ("BARNEY'S GOAT -- JIG", "jig"), ("Quick Step. 25th Regt.", "march"),
    ("Duke of York's March", "march"), ("The Enchanted Valley", None), ("Reeling Home", None),
])
def test_tune_type_from_title(title, tune):
    assert tagging.tune_type(title) == tune


def test_instrument_programs_are_distinct_and_checked():
    programs = list(tagging.INSTRUMENTS.values())
    assert len(set(programs)) == len(programs) >= 10
    with pytest.raises(ParameterError):
        tagging.instrument_program("theremin")


# ----------------------------------------------------------------- render
def _melody(n_notes: int = 8, grace: bool = False):
    from music21 import meter, note, stream

    part = stream.Part()
    for i in range(n_notes // 4):
        m = stream.Measure(number=i + 1)
        if i == 0:
            m.insert(0, meter.TimeSignature("4/4"))
        if grace and i == 0:
            m.append(note.Note("D5", quarterLength=0.5).getGrace())
        for p in ("C4", "C4", "E4", "G4"):  # a repeated pitch must sound twice
            m.append(note.Note(p, quarterLength=1))
        part.append(m)
    score = stream.Score()
    score.insert(0, part)
    return score


def test_soundfont_comes_from_installed_package_not_repo():
    path = render.soundfont_path()
    assert path.name == "TimGM6mb.sf2" and path.stat().st_size > 1_000_000
    assert path.parent.name == "pretty_midi"
    in_repo = [p for p in REPO.rglob("*.sf2") if ".venv" not in p.relative_to(REPO).parts]
    assert not in_repo, "never commit a SoundFont"


@pytest.mark.parametrize("bpm, beat, seconds_per_quarter", [(120, 1.0, 0.5), (60, 1.0, 1.0), (120, 1.5, 1 / 3),
                                                            (97.3, 1.0, 60 / 97.3)])
def test_midi_note_times_follow_the_tempo(bpm, beat, seconds_per_quarter):
    score = render.prepare_score(_melody(8, grace=True), [0], bpm, beat)
    notes, _ = render.midi_notes(render.score_to_midi(score))
    assert len(notes) == 8  # the grace note was dropped
    assert np.allclose(np.diff([n.on for n in notes]), seconds_per_quarter, atol=1e-3)
    assert np.allclose([n.off - n.on for n in notes], seconds_per_quarter, atol=1e-3)


def test_midi_notes_loop_and_pair_repeated_pitches():
    score = render.prepare_score(_melody(4), [40], 120, 1.0)
    notes, controls = render.midi_notes(render.score_to_midi(score), loop_seconds=2.0, until=5.0)
    assert [n.on for n in notes] == pytest.approx([0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5], abs=1e-3)
    assert [n.key for n in notes[:2]] == [60, 60] and notes[0].off <= notes[1].on  # C4 twice, not one long C4
    assert controls and all(ev.t in (0.0, 2.0, 4.0) for ev in controls)


def test_render_is_mono_exact_length_normalised_and_loops():
    score = render.prepare_score(_melody(4), [40], 120, 1.0)
    midi = render.score_to_midi(score)
    y = render.render_notes(*render.midi_notes(midi, loop_seconds=2.0, until=5.0), 0.0, 5.0)  # 2 s played 3 times
    assert y.dtype == np.float32 and y.shape == (5 * render.SAMPLE_RATE,)
    assert np.isclose(np.abs(y).max(), render.PEAK, atol=1e-4)
    tail = y[int(4.2 * render.SAMPLE_RATE):]
    assert np.sqrt(np.mean(tail ** 2)) > 0.01  # the loop still sounds at 4.2 s
    once = render.render_notes(*render.midi_notes(midi), 0.0, 5.0)
    late = once[int(4.5 * render.SAMPLE_RATE):]
    assert np.sqrt(np.mean(late ** 2)) < np.sqrt(np.mean(tail ** 2)) / 3  # without a loop it has died away


def test_write_ogg_is_byte_reproducible_and_readable(tmp_path):
    t = np.arange(render.SAMPLE_RATE * 2) / render.SAMPLE_RATE
    y = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    a, b = tmp_path / "a.ogg", tmp_path / "b.ogg"
    render.write_ogg(a, y)
    render.write_ogg(b, y)
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    back, sr = sf.read(a, dtype="float32")  # libogg rejects pages with a bad CRC
    assert sr == render.SAMPLE_RATE and back.ndim == 1 and abs(len(back) - len(y)) < 10
    assert render.audio_ok(a, 2.0) and not render.audio_ok(a, 3.0)
    (tmp_path / "bad.ogg").write_bytes(b"not audio")
    assert not render.audio_ok(tmp_path / "bad.ogg", 2.0)


# --------------------------------------------------------------- planning
@pytest.fixture(scope="module")
def bundle():
    from music21 import corpus as m21corpus

    return m21corpus.corpora.CoreCorpus().metadataBundle[:]


def test_plan_is_deterministic_and_unrestricted(bundle):
    a, b = corpus.plan_corpus("tiny", 0, bundle), corpus.plan_corpus("tiny", 0, bundle)
    other = corpus.plan_corpus("tiny", 1, bundle)
    ids = lambda plan: [(j.piece.piece_id, [(s.track_id, s.instruments, s.tempo_class) for s in j.slots])
                        for j in plan.jobs]
    assert ids(a) == ids(b)
    assert ids(a) != ids(other)
    pieces = [j.piece for j in a.jobs] + [p for r in a.reserves.values() for p in r]
    assert not [p.path for p in pieces if p.path.endswith(".krn") or p.path.startswith("essenFolksong")]
    assert len({p.piece_id for p in pieces}) == len(pieces)  # a piece is used once at most
    n_clips = sum(len(j.slots) for j in a.jobs)
    assert 35 <= n_clips <= 45


def test_default_plan_has_400_clips_and_varied_choices(bundle):
    plan = corpus.plan_corpus("default", 0, bundle)
    slots = [s for j in plan.jobs for s in j.slots]
    assert len(slots) == 400 and len({s.track_id for s in slots}) == 400
    instruments = {i for s in slots for i in s.instruments}
    assert len(instruments) >= 10
    classes = [s.tempo_class for s in slots]
    assert min(classes.count(c) for c in ("slow", "medium", "fast")) > 100
    for job_coll in {j.piece.collection for j in plan.jobs}:  # tempo must not follow the instrument
        pairs = {(s.instruments[-1], s.tempo_class) for j in plan.jobs if j.piece.collection == job_coll
                 for s in j.slots}
        per_instrument = {}
        for inst, cls in pairs:
            per_instrument.setdefault(inst, set()).add(cls)
        assert max(len(c) for c in per_instrument.values()) > 1, job_coll


def test_splits_keep_pieces_together_and_are_deterministic():
    records = [{"track_id": f"t{i}", "collection": "c" if i < 30 else "d", "piece_id": f"p{i // 2}"}
               for i in range(40)]
    splits = corpus.assign_splits(records, seed=0)
    assert splits == corpus.assign_splits(records, seed=0)
    by_piece = {}
    for rec in records:
        by_piece.setdefault(rec["piece_id"], set()).add(splits[rec["track_id"]])
    assert all(len(s) == 1 for s in by_piece.values())
    for coll in ("c", "d"):
        assert {splits[r["track_id"]] for r in records if r["collection"] == coll} == {"train", "valid", "test"}
    assert list(splits.values()).count("train") >= 24


def test_rare_tune_types_are_dropped_but_collection_genres_kept():
    def rec(i, genres):
        return {"track_id": f"demo-{i:04d}", "artist_id": "ryans-mammoth", "title": "t", "audio_path": f"{i}.ogg",
                "duration": 8.0, "bpm": 90.3, "collection": "ryans", "piece_id": f"p{i}",
                "tags": {"genre": genres, "instrument": ["flute"], "tempo": ["medium"], "mood": ["happy"]}}

    records = [rec(i, ["folk", "reel"]) for i in range(3)] + [rec(3, ["folk", "clog"])]
    cat = corpus.records_to_catalog(records, seed=0)
    assert cat.tags("genre") == ["folk", "reel"]
    assert cat.tracks_with_all_categories() == 4
