"""Render a music21 score to audio: General MIDI program per part, a tempo, a SoundFont.

The chain is music21 score -> cleaned copy (:func:`prepare_score`) -> Standard
MIDI bytes at one base tempo (:func:`score_to_midi`) -> paired notes in
seconds (:func:`midi_notes`) -> a humanised performance of them
(:func:`core.demo.humanize.perform`: tempo drift, onset jitter, dynamics) ->
TinySoundFont with ``TimGM6mb.sf2`` (:func:`render_notes`) -> mono float32 at
22,050 Hz -> OGG/Vorbis (:func:`write_ogg`). The SoundFont (GPL-2) is read
from the installed ``pretty_midi`` package at build time; it is never copied
into the repository or the workspace.

Every step is deterministic: the same notes give the same samples, and
:func:`write_ogg` fixes the Ogg stream serial number (libsndfile draws a
random one) so the same samples give the same file bytes.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import os
import struct
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError, DataError
from ..fileio import write_atomic

SAMPLE_RATE = 22050
SOUNDFONT_NAME = "TimGM6mb.sf2"
#: Peak level of every rendered clip (linear, about -1 dBFS); clips differ in
#: timbre and tempo, not loudness.
PEAK = 0.89
#: Fixed Ogg bitstream serial number (any constant works; it only has to be the same every time).
OGG_SERIAL = 0x54414753  # "TAGS"


# ------------------------------------------------------------------ SoundFont
def soundfont_path() -> Path:
    """Path of ``TimGM6mb.sf2`` inside the installed ``pretty_midi`` package.

    Raises
    ------
    DataError
        If ``pretty_midi`` is not installed or ships no SoundFont.
    """
    spec = importlib.util.find_spec("pretty_midi")  # locate without importing it
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the demo needs the pretty-midi package (it ships TimGM6mb.sf2); "
                        "run `make install`")
    path = Path(list(spec.submodule_search_locations)[0]) / SOUNDFONT_NAME
    if not path.is_file():
        raise DataError(f"{path} not found; reinstall pretty-midi")
    return path


@lru_cache(maxsize=1)
def _soundfont_bytes() -> bytes:
    return soundfont_path().read_bytes()


# ---------------------------------------------------------------- the score
def prepare_score(score, programs: list[int], bpm: float, beat_quarters: float):
    """Make ``score`` ready for MIDI conversion, in place; returns it.

    Drops grace notes, zero-length notes and chord symbols (grace notes become
    zero-length MIDI notes that hang in the synth; chord symbols are not part
    of the written parts), copies TimeSignature objects shared between
    measures (MIDI conversion refuses them), replaces every instrument and
    tempo mark by ``programs`` and one MetronomeMark. Calling it again with
    other programs or tempo re-dresses the same score.

    Parameters
    ----------
    score : music21.stream.Score
    programs : list of int
        General MIDI program (0-127) per part; the last one is reused for extra parts.
    bpm : float
        Beats per minute, counted in beats of ``beat_quarters`` quarter notes.
    beat_quarters : float
        Length of one beat in quarter notes (1 for 4/4, 1.5 for 6/8, 2 for 2/2).
    """
    from music21 import harmony, instrument, meter, note, tempo

    if not programs:
        raise DataError("prepare_score needs at least one MIDI program")
    seen: set[int] = set()
    for ts in list(score.recurse().getElementsByClass(meter.TimeSignature)):
        if id(ts) in seen:
            ts.activeSite.replace(ts, copy.deepcopy(ts))
        seen.add(id(ts))
    doomed = [el for el in score.recurse()
              if isinstance(el, (instrument.Instrument, tempo.TempoIndication, harmony.Harmony))
              or isinstance(el, note.NotRest) and (el.duration.isGrace or el.duration.quarterLength <= 0)]
    for el in doomed:
        el.activeSite.remove(el)
    for i, part in enumerate(score.parts):
        inst = instrument.Instrument()
        inst.midiProgram = int(programs[min(i, len(programs) - 1)])
        part.insert(0, inst)
        mark = tempo.MetronomeMark(number=float(bpm))
        mark.referent = beat_quarters
        part.insert(0, mark)
    return score


def score_to_midi(score) -> bytes:
    """Standard MIDI file bytes of a prepared score (repeats as written in ``score``)."""
    from music21 import midi

    return midi.translate.streamToMidiFile(score).writestr()


# ---------------------------------------------------------------- the synth
@dataclass(frozen=True)
class Note:
    """One sounding note: MIDI ``channel`` and ``key``, ``velocity`` (1-127), ``on`` and ``off`` in seconds."""

    channel: int
    key: int
    velocity: int
    on: float
    off: float


def midi_notes(midi_bytes: bytes, loop_seconds: float | None = None,
               until: float = float("inf")) -> tuple[list[Note], list]:
    """The notes of a MIDI file, note-ons paired with their note-offs, and its other channel events.

    A note-off (or note-on with velocity 0) ends the earliest sounding note
    of its key and channel; a note-on that is never ended is dropped (it would
    hang in the synth), as is a zero-length note.

    Parameters
    ----------
    midi_bytes : bytes
        Standard MIDI file.
    loop_seconds : float, optional
        If given, the music is played again every ``loop_seconds`` (a tune
        played through more than once) for as long as it starts before ``until``.
    until : float
        Keep notes and events that start at or before this time (s).

    Returns
    -------
    notes : list of Note
        Sorted by onset.
    controls : list of tinysoundfont.midi.Event
        Program changes, controller changes and pitch bends, sorted by time.
    """
    from tinysoundfont.midi import NoteOff, NoteOn, load_memory

    events = load_memory(midi_bytes, persistent=False)
    if not events:
        raise DataError("the score produced no MIDI events")

    def is_off(act) -> bool:
        return isinstance(act, NoteOff) or (isinstance(act, NoteOn) and act.velocity == 0)

    # a repeated pitch must stop before it restarts: note-offs first at one instant
    events = sorted(events, key=lambda ev: (ev.t, 0 if is_off(ev.action) else 1))
    notes, controls = [], []
    shift = 0.0
    while shift <= until:
        sounding: dict[tuple[int, int], list] = {}
        for ev in events:
            t, act = ev.t + shift, ev.action
            if is_off(act):
                started = sounding.get((ev.channel, act.key))
                if started:
                    on, velocity = started.pop(0)
                    if t > on:
                        notes.append(Note(ev.channel, act.key, velocity, on, t))
            elif isinstance(act, NoteOn):
                if t <= until:
                    sounding.setdefault((ev.channel, act.key), []).append((t, act.velocity))
            elif t <= until:
                dup = copy.copy(ev)
                dup.t = t
                controls.append(dup)
        if not loop_seconds:
            break
        shift += loop_seconds
    notes.sort(key=lambda n: (n.on, n.channel, n.key))
    controls.sort(key=lambda ev: ev.t)
    return notes, controls


def note_events(notes: list[Note], controls: list, sr: int = SAMPLE_RATE) -> list:
    """Sequencer events for ``notes`` and ``controls``, on the sample grid of ``sr``.

    At one instant note-offs come first, then controls (a program change
    before the notes it affects), then note-ons. Times are rounded to whole
    samples: the sequencer renders each stretch between events rounded up to a
    whole sample, so off-grid times would add up to a lag.
    """
    from tinysoundfont.midi import Event, NoteOff, NoteOn

    def snap(t: float) -> float:
        return round(t * sr) / sr

    timed = [(snap(ev.t), 1, k, ev) for k, ev in enumerate(controls)]
    for k, n in enumerate(notes):
        timed.append((snap(n.on), 2, k, Event(NoteOn(n.key, n.velocity), t=snap(n.on), channel=n.channel,
                                               persistent=False)))
        timed.append((snap(n.off), 0, k, Event(NoteOff(n.key), t=snap(n.off), channel=n.channel,
                                                persistent=False)))
    timed.sort(key=lambda x: x[:3])
    out = []
    for t, _, _, ev in timed:
        if ev.t != t:  # a control event at an off-grid time
            ev = copy.copy(ev)
            ev.t = t
        out.append(ev)
    return out


def render_notes(notes: list[Note], controls: list, start: float, duration: float,
                 sr: int = SAMPLE_RATE) -> np.ndarray:
    """Synthesize ``duration`` seconds from ``start`` of a note list, mono, peak-normalised.

    Parameters
    ----------
    notes : list of Note
        What to play (:func:`midi_notes`, or a humanised performance of it).
    controls : list of tinysoundfont.midi.Event
        Program changes and other channel events.
    start, duration : float
        Excerpt in seconds.
    sr : int
        Sample rate in Hz.

    Returns
    -------
    np.ndarray
        float32, shape ``(round(duration * sr),)``, peak :data:`PEAK`.

    Raises
    ------
    AudioError
        If the excerpt is silent.
    """
    import tinysoundfont

    until = start + duration
    synth = tinysoundfont.Synth(samplerate=sr)
    synth.sfload(_soundfont_bytes())
    seq = tinysoundfont.Sequencer(synth)
    seq.add([ev for ev in note_events([n for n in notes if n.on <= until], controls, sr) if ev.t <= until])
    n_start, n_len = int(round(start * sr)), int(round(duration * sr))
    stereo = np.frombuffer(synth.generate(n_start + n_len), dtype=np.float32).reshape(-1, 2)
    mono = stereo[n_start:].mean(axis=1)
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    if peak < 1e-4:
        raise AudioError("rendered excerpt is silent")
    return (mono * (PEAK / peak)).astype(np.float32)


# --------------------------------------------------------------- the file
def _ogg_crc_table() -> list[int]:
    table = []
    for i in range(256):
        r = i << 24
        for _ in range(8):
            r = ((r << 1) ^ 0x04C11DB7) if r & 0x80000000 else (r << 1)
        table.append(r & 0xFFFFFFFF)
    return table


_CRC = _ogg_crc_table()


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ _CRC[((crc >> 24) & 0xFF) ^ byte]
    return crc


def _fix_ogg_serial(data: bytes, serial: int = OGG_SERIAL) -> bytes:
    """Rewrite the serial number of every Ogg page (and its CRC) to ``serial``."""
    out = bytearray(data)
    pos = 0
    while pos < len(out):
        if out[pos:pos + 4] != b"OggS":
            raise AudioError("unexpected Ogg page layout")
        n_seg = out[pos + 26]
        size = 27 + n_seg + sum(out[pos + 27:pos + 27 + n_seg])
        struct.pack_into("<I", out, pos + 14, serial)
        struct.pack_into("<I", out, pos + 22, 0)
        struct.pack_into("<I", out, pos + 22, _ogg_crc(bytes(out[pos:pos + size])))
        pos += size
    return bytes(out)


def write_ogg(path: str | os.PathLike, y: np.ndarray, sr: int = SAMPLE_RATE) -> None:
    """Write mono ``y`` as OGG/Vorbis, atomically and byte-reproducibly."""
    buf = io.BytesIO()
    sf.write(buf, np.asarray(y, dtype=np.float32), sr, format="OGG", subtype="VORBIS")
    write_atomic(path, _fix_ogg_serial(buf.getvalue()))


def audio_ok(path: str | os.PathLike, duration: float, tolerance: float = 0.05) -> bool:
    """True if ``path`` is a readable audio file about ``duration`` seconds long."""
    try:
        info = sf.info(str(path))
    except (RuntimeError, OSError, sf.LibsndfileError):
        return False
    return abs(info.frames / info.samplerate - duration) <= tolerance
