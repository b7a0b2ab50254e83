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
    The class of the tempo actually rendered: the clip's mean tempo after the
    humanised drift (beats of the written time signature per minute, the
    catalog's ``bpm``) is ``slow`` below 80, ``medium`` from 80 and ``fast``
    from 120 bpm, except within :data:`TEMPO_TOLERANCE` (5%) of a boundary
    (76-84 and 114-126 bpm), where the clip is ambiguous and gets no tempo tag
    (:func:`tempo_tags`). No ``"<N> bpm"`` tags: a continuous tempo has no
    exact value to name, and fine tempo similarity uses the catalog ``bpm``.
mood
    **Rule-derived, not annotated**: from the mode that music21's
    ``analyze('key')`` finds in the rendered excerpt and from the tempo class
    (:data:`MOOD_RULE`, :func:`mood_tags`). An ambiguous tempo gets the moods
    that both neighbouring classes give (minor, slow or medium: melancholic;
    major, medium or fast: happy; else none). Show it as such in the UI.
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

#: Class boundaries (bpm): slow below SLOW_BELOW, fast from FAST_FROM.
SLOW_BELOW = 80
FAST_FROM = 120
#: Relative half-width of the band around each boundary where a tempo gets no class.
TEMPO_TOLERANCE = 0.05
TEMPO_CLASSES = ("slow", "medium", "fast")

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


def tempo_classes(bpm: float) -> tuple[str, ...]:
    """The tempo classes ``bpm`` may belong to: one, or the two either side of a boundary it is near.

    ``bpm`` is near a boundary ``b`` when ``|bpm - b| < TEMPO_TOLERANCE * b``.
    """
    if not (bpm == bpm and 0 < bpm < float("inf")):
        raise ParameterError(f"tempo must be a positive number, got {bpm!r} bpm")
    classes = []
    for name, lo, hi in (("slow", 0.0, SLOW_BELOW), ("medium", SLOW_BELOW, FAST_FROM),
                         ("fast", FAST_FROM, float("inf"))):
        if lo * (1 - TEMPO_TOLERANCE) <= bpm < hi * (1 + TEMPO_TOLERANCE):
            classes.append(name)
    return tuple(classes)


def clear_range(tempo_class: str) -> tuple[float, float]:
    """Tempi ``[lo, hi)`` (bpm) that get ``tempo_class`` without ambiguity (outside every tolerance band)."""
    bounds = {"slow": (0.0, SLOW_BELOW * (1 - TEMPO_TOLERANCE)),
              "medium": (SLOW_BELOW * (1 + TEMPO_TOLERANCE), FAST_FROM * (1 - TEMPO_TOLERANCE)),
              "fast": (FAST_FROM * (1 + TEMPO_TOLERANCE), float("inf"))}
    if tempo_class not in bounds:
        raise ParameterError(f"unknown tempo class {tempo_class!r}; use one of {TEMPO_CLASSES}")
    return bounds[tempo_class]


def tempo_class(bpm: float) -> str | None:
    """``slow`` (< 80 bpm), ``medium`` or ``fast`` (>= 120 bpm); None within 5% of 80 or 120."""
    classes = tempo_classes(bpm)
    return classes[0] if len(classes) == 1 else None


def tempo_tags(bpm: float) -> list[str]:
    """The tempo class of a rendered mean tempo as a tag list: ``[<class>]``, or ``[]`` if ambiguous."""
    cls = tempo_class(bpm)
    return [cls] if cls else []


def mood_tags(mode: str, bpm: float) -> list[str]:
    """Mood tags by :data:`MOOD_RULE`: those every tempo class ``bpm`` may belong to gives.

    ``mode`` is ``major`` or ``minor``.
    """
    if mode not in ("major", "minor"):
        raise ParameterError(f"mode must be 'major' or 'minor', got {mode!r}")
    moods = [MOOD_RULE[(mode, cls)] for cls in tempo_classes(bpm)]
    return [m for m in moods[0] if all(m in other for other in moods[1:])]


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
