"""Tag rules of the demo corpus. Every demo tag is derived by a rule from how the clip was made.

genre
    From the collection, composer and tune type: each collection has fixed
    genre tags (e.g. Bach -> ``baroque``, ``chorale``); folk tunes whose title
    names a dance (``-- Reel``, ``Jig``, ``Hornpipe``, ``March``, ``Quick Step``...)
    also get that tune type (:func:`tune_type`) if at least
    :data:`MIN_TUNE_TYPE_CLIPS` clips of the build do.
instrument
    The General MIDI program family the clip was rendered with
    (:data:`INSTRUMENTS`). A multi-part piece played by an ensemble with a
    solo instrument on the top part gets both tags.
tempo
    The exact tempo set in the MIDI file, ``"<N> bpm"`` (beats of the written
    time signature per minute), plus ``slow`` (< 80), ``medium`` or ``fast``
    (>= 120) (:func:`tempo_tags`).
mood
    **Rule-derived, not annotated**: from the mode that music21's
    ``analyze('key')`` finds in the rendered excerpt and from the tempo class
    (:data:`MOOD_RULE`, :func:`mood_tags`). Show it as such in the UI.
"""

from __future__ import annotations

import re

from ..errors import ParameterError

#: Instrument tag -> General MIDI program (0-based) rendered for it.
INSTRUMENTS: dict[str, int] = {
    "piano": 0, "harpsichord": 6, "organ": 19, "accordion": 21, "guitar": 24,
    "violin": 40, "harp": 46, "strings": 48, "choir": 52, "brass": 61,
    "clarinet": 71, "flute": 73, "banjo": 105,
}

#: Solo instruments that may lead the top part of an ensemble.
LEAD_INSTRUMENTS = ("violin", "flute", "clarinet")

SLOW_BELOW = 80
FAST_FROM = 120

#: (mode, tempo class) -> mood tags. The rule the UI cites.
MOOD_RULE: dict[tuple[str, str], tuple[str, ...]] = {
    ("major", "fast"): ("happy", "energetic"),
    ("major", "medium"): ("happy",),
    ("major", "slow"): ("calm",),
    ("minor", "fast"): ("dark", "energetic"),
    ("minor", "medium"): ("melancholic",),
    ("minor", "slow"): ("sad", "melancholic"),
}

#: Title words -> tune-type tag, checked in this order ("slip jig" before "jig").
_TUNE_TYPES = (
    (r"slip\s*jig", "slip jig"), (r"\bjig\b", "jig"), (r"\breel\b", "reel"),
    (r"\bhornpipe\b", "hornpipe"), (r"\bstrathspey\b", "strathspey"), (r"\bclog\b", "clog"),
    (r"\bwaltz\b", "waltz"), (r"\bpolka\b", "polka"), (r"\bmarch\b|\bquick\s*step\b", "march"),
)


#: Tune-type tags, and the fewest clips a build must have of one for it to be kept.
TUNE_TYPES = tuple(tag for _, tag in _TUNE_TYPES)
MIN_TUNE_TYPE_CLIPS = 3


def tempo_class(bpm: float) -> str:
    """``slow`` below 80 bpm, ``fast`` from 120 bpm, else ``medium``."""
    if bpm <= 0:
        raise ParameterError(f"tempo must be positive, got {bpm} bpm")
    return "slow" if bpm < SLOW_BELOW else "fast" if bpm >= FAST_FROM else "medium"


def tempo_tags(bpm: int) -> list[str]:
    """``["<bpm> bpm", <class>]``."""
    return [f"{int(bpm)} bpm", tempo_class(bpm)]


def mood_tags(mode: str, bpm: float) -> list[str]:
    """Mood tags by :data:`MOOD_RULE`; ``mode`` is ``major`` or ``minor``."""
    key = (mode, tempo_class(bpm))
    if key not in MOOD_RULE:
        raise ParameterError(f"mode must be 'major' or 'minor', got {mode!r}")
    return list(MOOD_RULE[key])


def tune_type(title: str) -> str | None:
    """Dance type named in a folk tune's title (``"Around the World -- Reel"`` -> ``reel``), or None."""
    low = title.lower()
    for pattern, tag in _TUNE_TYPES:
        if re.search(pattern, low):
            return tag
    return None


def instrument_program(tag: str) -> int:
    """General MIDI program of an instrument tag."""
    if tag not in INSTRUMENTS:
        raise ParameterError(f"unknown demo instrument {tag!r}; use one of {sorted(INSTRUMENTS)}")
    return INSTRUMENTS[tag]
