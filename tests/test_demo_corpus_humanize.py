"""Demo corpus: the humanised performance (tempo drift, onset jitter, dynamics), measured on the events rendered."""

from __future__ import annotations

import random
from collections import defaultdict

import numpy as np
import pytest

from core.demo import corpus, humanize, render, tagging
from core.errors import ParameterError

CONFIG = humanize.HumanizeConfig()
BPM = 120.0
EIGHTH = 60.0 / BPM / 2  # seconds at the base tempo


def _score(n_measures: int = 16, chords: bool = True):
    """A 4/4 melody in eighth notes (a repeated pitch in every measure) over a bass of half notes."""
    from music21 import meter, note, stream

    melody, bass = stream.Part(), stream.Part()
    for i in range(n_measures):
        m, b = stream.Measure(number=i + 1), stream.Measure(number=i + 1)
        if i == 0:
            m.insert(0, meter.TimeSignature("4/4"))
            b.insert(0, meter.TimeSignature("4/4"))
        for p in ("C5", "C5", "D5", "E5", "G5", "E5", "D5", "B4"):
            m.append(note.Note(p, quarterLength=0.5))
        for p in ("C3", "G2"):
            b.append(note.Note(p, quarterLength=2))
        melody.append(m)
        bass.append(b)
    score = stream.Score()
    score.insert(0, melody)
    if chords:
        score.insert(0, bass)
    return score


@pytest.fixture(scope="module")
def metronomic():
    """Notes and controls of the test score at 120 bpm, as the MIDI file gives them."""
    score = render.prepare_score(_score(), [40, 0], BPM, 1.0)
    return render.midi_notes(render.score_to_midi(score))


def _performed(notes, controls, seed=0, config=CONFIG):
    rng = np.random.default_rng(seed)
    horizon = max(n.off for n in notes) + 1.0
    warp = humanize.TimeWarp.random(rng, horizon, config)
    return humanize.perform(notes, controls, warp, config, rng)


def _onsets(events):
    """NoteOn times of a sequencer event list, per (channel, key), as the synth receives them."""
    from tinysoundfont.midi import NoteOn

    return sorted(ev.t for ev in events if isinstance(ev.action, NoteOn) and ev.action.velocity > 0)


def test_midi_notes_are_paired_and_metronomic(metronomic):
    notes, controls = metronomic
    melody = [n for n in notes if n.key >= 60]
    assert len(melody) == 128 and len(notes) == 128 + 32
    assert np.allclose([n.on for n in melody], np.arange(128) * EIGHTH, atol=1e-3)
    assert all(n.off > n.on and n.velocity == 90 for n in notes)
    assert any(type(ev.action).__name__ == "ProgramChange" for ev in controls)


def test_onsets_deviate_from_the_grid_by_the_configured_jitter(metronomic):
    notes, controls = metronomic
    played = _performed(notes, controls)
    events = render.note_events(played.notes, played.controls)
    onsets = np.array(_onsets(events))
    grid = np.sort([n.on for n in notes])
    # measured on the event list: map each rendered onset back through the drift, compare with the grid
    deviation = (onsets - played.warp.to_rendered(grid)) * 1000  # ms
    bound = CONFIG.jitter_max_ms + 1000 / render.SAMPLE_RATE
    assert np.abs(deviation).max() <= bound
    expected_sd = np.hypot(CONFIG.jitter_sd_ms, CONFIG.chord_spread_ms)
    assert 0.6 * expected_sd <= deviation.std() <= 1.3 * expected_sd
    assert np.abs(deviation).max() > CONFIG.jitter_sd_ms  # really jittered, not rounded noise
    summary = played.summary(0.0, float(onsets[-1]) + 0.1, BPM)  # what the clip record says
    assert summary["notes"] == len(onsets)
    assert summary["jitter_rms_ms"] == pytest.approx(np.sqrt(np.mean(deviation ** 2)), abs=0.2)
    assert summary["jitter_peak_ms"] == pytest.approx(np.abs(deviation).max(), abs=0.2)
    # notes that start together stay closer together than notes of different onsets
    by_time = defaultdict(list)
    for n, d in zip(np.sort([n.on for n in notes]), deviation):
        by_time[round(n, 3)].append(d)
    spreads = [np.ptp(d) for d in by_time.values() if len(d) > 1]
    assert np.mean(spreads) < 0.6 * deviation.std()


def test_metronomic_config_plays_the_grid_exactly(metronomic):
    notes, controls = metronomic
    played = _performed(notes, controls, config=humanize.METRONOMIC)
    onsets = np.array(_onsets(render.note_events(played.notes, played.controls)))
    assert np.allclose(onsets, np.sort([n.on for n in notes]), atol=1.5 / render.SAMPLE_RATE)
    assert {n.velocity for n in played.notes} == {90}
    summary = played.summary(2.0, 8.0, BPM)
    assert summary["bpm"] == BPM and summary["tempo_min_bpm"] == summary["tempo_max_bpm"] == BPM
    assert summary["jitter_peak_ms"] == 0 and summary["velocity_min"] == summary["velocity_max"] == 90


def test_tempo_drift_is_smooth_and_within_bounds(metronomic):
    notes, controls = metronomic
    for seed in range(5):
        played = _performed(notes, controls, seed=seed)
        factor = played.warp.factor
        assert factor.min() >= 1 - CONFIG.drift_max - 1e-9 and factor.max() <= 1 + CONFIG.drift_max + 1e-9
        assert np.ptp(factor) > 0.01  # it does drift
        assert np.abs(np.diff(factor)).max() < 1e-3  # smoothly: < 0.1% per 5 ms
        # measured on the events: the time from the first to the last onset follows the drift
        onsets = np.array(_onsets(render.note_events(played.notes, played.controls)))
        span_score = 127 * EIGHTH
        span = onsets[-1] - onsets[0]
        slack = 2 * CONFIG.jitter_max_ms / 1000
        assert span_score / (1 + CONFIG.drift_max) - slack <= span <= span_score / (1 - CONFIG.drift_max) + slack
        summary = played.summary(1.0, 20.0, BPM)
        assert summary["tempo_min_bpm"] <= summary["bpm"] <= summary["tempo_max_bpm"]
        assert BPM * (1 - CONFIG.drift_max) <= summary["tempo_min_bpm"]
        assert summary["tempo_max_bpm"] <= BPM * (1 + CONFIG.drift_max)
        # the mean tempo is the score heard per rendered second
        heard = played.warp.to_score(21.0) - played.warp.to_score(1.0)
        assert summary["bpm"] == pytest.approx(BPM * heard / 20.0, abs=0.01)


def test_no_hanging_or_reordered_notes(metronomic):
    from tinysoundfont.midi import NoteOff, NoteOn

    notes, controls = metronomic
    played = _performed(notes, controls, seed=3)
    events = render.note_events(played.notes, played.controls)
    sounding = defaultdict(int)
    for ev in events:  # on and off alternate for every key: nothing starts twice, nothing is left on
        if isinstance(ev.action, NoteOn):
            sounding[(ev.channel, ev.action.key)] += 1
            assert sounding[(ev.channel, ev.action.key)] == 1
        elif isinstance(ev.action, NoteOff):
            sounding[(ev.channel, ev.action.key)] -= 1
            assert sounding[(ev.channel, ev.action.key)] == 0
    assert not any(sounding.values())
    assert all(n.off - n.on >= 0.01 for n in played.notes)
    melody = [n for n in played.notes if n.key >= 60]
    assert all(a.on < b.on for a, b in zip(melody, melody[1:]))  # jitter never swaps melody notes
    assert [n.key for n in melody] == [n.key for n in notes if n.key >= 60]
    # the program change comes before the first note it affects
    first_program = next(i for i, ev in enumerate(events) if type(ev.action).__name__ == "ProgramChange")
    assert first_program < next(i for i, ev in enumerate(events) if isinstance(ev.action, NoteOn))


def test_dynamics_swell_by_phrase_and_vary_by_note(metronomic):
    notes, controls = metronomic
    played = _performed(notes, controls, seed=1)
    velocity = np.array([n.velocity for n in played.notes if n.key >= 60], dtype=float)
    lo = 90 * (1 - CONFIG.swell_depth) * (1 - 2.5 * CONFIG.velocity_sd)
    hi = 90 * (1 + CONFIG.swell_depth) * (1 + 2.5 * CONFIG.velocity_sd)
    assert lo - 1 <= velocity.min() and velocity.max() <= min(127, hi + 1)
    assert np.ptp(velocity) >= 20
    # phrase level: 1-s means wander more than per-note noise alone would make them
    means = velocity[: len(velocity) // 8 * 8].reshape(-1, 8).mean(axis=1)
    assert means.std() > 90 * CONFIG.velocity_sd / np.sqrt(8) * 1.5
    # note level: neighbours differ by more than the slow swell explains
    assert np.abs(np.diff(velocity)).mean() >= 2


def test_same_seed_same_performance_other_seed_differs(metronomic):
    notes, controls = metronomic
    a, b, c = (_performed(notes, controls, seed=s) for s in (7, 7, 8))
    assert a.notes == b.notes and np.array_equal(a.warp.factor, b.warp.factor)
    assert a.notes != c.notes
    ya = render.render_notes(a.notes, a.controls, 1.0, 3.0)
    yb = render.render_notes(b.notes, b.controls, 1.0, 3.0)
    assert np.array_equal(ya, yb)


def test_humanize_config_is_validated():
    with pytest.raises(ParameterError):
        humanize.HumanizeConfig(drift_max=0.6)
    with pytest.raises(ParameterError):
        humanize.HumanizeConfig(jitter_max_ms=-1)
    with pytest.raises(ParameterError):
        humanize.HumanizeConfig(drift_knot_seconds=0)


# ------------------------------------------------------------ tempo draws
def test_base_tempi_are_continuous_within_class_and_range():
    rng = random.Random(0)
    coll = next(c for c in corpus.COLLECTIONS if c.key == "oneills")  # 60-165 bpm
    for cls, (lo, hi) in {"slow": (60, 76), "medium": (84, 114), "fast": (126, 165)}.items():
        draws = [corpus.draw_base_bpm(coll, cls, 1.0, rng) for _ in range(200)]
        assert lo <= min(draws) and max(draws) <= hi  # outside the tolerance bands
        assert min(draws) < lo + 3 and max(draws) > hi - 3  # over the whole clear range
        assert len(set(draws)) > 100  # no grid
        assert np.mean([d % 15 == 0 for d in draws]) < 0.05
        assert {tagging.tempo_class(d) for d in draws} <= {cls, None}
    long_beat = [corpus.draw_base_bpm(coll, "fast", 1.5, rng) for _ in range(50)]
    assert max(long_beat) <= corpus.LONG_BEAT_MAX_BPM
    bach = next(c for c in corpus.COLLECTIONS if c.key == "bach")  # 60-120 bpm: no clear fast range
    assert {tagging.tempo_class(corpus.draw_base_bpm(bach, "fast", 1.0, rng)) for _ in range(50)} == {"medium"}


def test_tags_follow_the_rendered_tempo_not_the_base(metronomic):
    """A clip drawn as medium but rendered inside the band around 120 bpm gets no tempo class."""
    notes, controls = metronomic
    for seed in range(40):
        played = _performed(notes, controls, seed=seed)
        summary = played.summary(0.5, 8.0, 112.0)  # base 112: medium; drift may take it past 114
        if summary["bpm"] >= 114:
            break
    else:
        pytest.fail("no seed drifted the mean tempo into the band")
    assert tagging.tempo_class(112.0) == "medium"
    assert tagging.tempo_tags(summary["bpm"]) == []


def test_synth_sounds_notes_where_the_event_list_says():
    """Thousands of off-grid event times must not add up to a lag (the sequencer rounds each stretch up)."""
    from tinysoundfont.midi import Event, ProgramChange

    rng = np.random.default_rng(0)
    busy = [render.Note(0, 40 + int(k), 60, float(t), float(t) + 0.05)
            for t, k in zip(np.sort(rng.uniform(0, 10, 1500)), rng.integers(0, 20, 1500))]
    probe = render.Note(0, 84, 127, 12.000013, 12.3)
    piano = [Event(ProgramChange(0), t=0.0, channel=0, persistent=False)]
    y = render.render_notes(busy + [probe], piano, 0.0, 12.5)
    tail = np.abs(y[int(11.9 * render.SAMPLE_RATE):])
    heard = 11.9 + np.argmax(tail > 0.2 * tail.max()) / render.SAMPLE_RATE
    assert abs(heard - probe.on) < 0.003
