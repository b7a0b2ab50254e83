"""A humanised performance of a metronomic note list: tempo drift, onset jitter, dynamics.

The demo renders each clip from a MIDI file at one base tempo; played as is,
every beat falls exactly on a grid and every note has the same velocity, so
the clip's tempo is the generator's setting read back. :func:`perform` turns
the metronomic notes (:class:`core.demo.render.Note`, times in seconds) into a
performance:

tempo drift
    The local tempo is ``base * r(t)`` with ``r`` a smooth random curve
    through knots every :attr:`HumanizeConfig.drift_knot_seconds` seconds
    (values uniform in ``1 ± drift_max``, cosine interpolation, so ``r`` never
    leaves that band). :class:`TimeWarp` maps score time (seconds at the base
    tempo) to rendered time, ``T(t) = integral of 1 / r``.
onset jitter
    Notes that start together in the score share a Gaussian offset
    (``jitter_sd_ms``), each note adds a smaller one (``chord_spread_ms``);
    the sum is clipped to ``jitter_max_ms`` and to 40% of the gap to the
    neighbouring onsets, so jitter never reorders the notes. A note-off moves
    with its note-on (the written length is kept, on the warped time line) and
    ends before the next note of the same key and channel starts: no note hangs
    and no note is cut to nothing.
dynamics
    Velocity is the written velocity times a phrase-level swell (a smooth
    random curve in ``1 ± swell_depth``, knots every ``swell_seconds``) times a
    per-note factor ``1 + N(0, velocity_sd)`` clipped to ±2.5 sd, kept in 1-127.

Every random draw comes from the ``numpy.random.Generator`` passed in, so the
same seed gives the same performance.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ParameterError

#: Step (s) of the grid on which the tempo curve is integrated.
_GRID_SECONDS = 0.005
#: Shortest sounding note after humanising (s).
_MIN_NOTE_SECONDS = 0.01
#: Jitter may use at most this share of the gap to the neighbouring onsets (keeps their order).
_GAP_SHARE = 0.4


@dataclass(frozen=True)
class HumanizeConfig:
    """How a metronomic note list becomes a performance (see the module docstring).

    Attributes
    ----------
    drift_max : float
        Largest relative deviation of the local tempo from the base tempo (0.04: ±4%).
    drift_knot_seconds : float
        Spacing of the tempo curve's random knots, in seconds of score time.
    jitter_sd_ms, chord_spread_ms : float
        Standard deviation (ms) of the offset shared by notes that start
        together, and of each note's own extra offset.
    jitter_max_ms : float
        Bound (ms) on a note's total onset offset.
    swell_depth : float
        Phrase-level velocity swell: a factor within ``1 ± swell_depth``.
    swell_seconds : float
        Spacing (s) of the swell curve's random knots.
    velocity_sd : float
        Relative standard deviation of the per-note velocity factor.
    """

    drift_max: float = 0.04
    drift_knot_seconds: float = 4.0
    jitter_sd_ms: float = 8.0
    chord_spread_ms: float = 3.0
    jitter_max_ms: float = 25.0
    swell_depth: float = 0.2
    swell_seconds: float = 3.0
    velocity_sd: float = 0.07

    def __post_init__(self) -> None:
        if not 0 <= self.drift_max < 0.5:
            raise ParameterError(f"drift_max must be in [0, 0.5), got {self.drift_max}")
        if not 0 <= self.swell_depth < 1:
            raise ParameterError(f"swell_depth must be in [0, 1), got {self.swell_depth}")
        if min(self.jitter_sd_ms, self.chord_spread_ms, self.jitter_max_ms, self.velocity_sd) < 0:
            raise ParameterError("jitter and velocity spreads must be >= 0")
        if min(self.drift_knot_seconds, self.swell_seconds) <= 0:
            raise ParameterError("knot spacings must be > 0 seconds")


#: No humanising at all: the metronomic rendering (a reference for tests and comparisons).
METRONOMIC = HumanizeConfig(drift_max=0.0, jitter_sd_ms=0.0, chord_spread_ms=0.0, jitter_max_ms=0.0,
                            swell_depth=0.0, velocity_sd=0.0)


def smooth_curve(rng: np.random.Generator, t: np.ndarray, knot_seconds: float, depth: float) -> np.ndarray:
    """A smooth random curve in ``[-depth, depth]`` at times ``t`` (s, from 0).

    Knot values are uniform in ``[-depth, depth]`` every ``knot_seconds``;
    between knots the curve follows a half cosine, so it is smooth at the
    knots and never overshoots them.
    """
    t = np.asarray(t, dtype=float)
    n_knots = int(np.ceil(max(float(t.max(initial=0.0)), 0.0) / knot_seconds)) + 2
    knots = rng.uniform(-depth, depth, n_knots)
    pos = np.clip(t, 0.0, None) / knot_seconds
    k = np.minimum(pos.astype(int), n_knots - 2)
    w = (1 - np.cos(np.pi * (pos - k))) / 2
    return knots[k] * (1 - w) + knots[k + 1] * w


@dataclass(frozen=True)
class TimeWarp:
    """Score time (seconds at the base tempo) <-> rendered time, through a tempo curve.

    ``factor[i]`` is the local tempo relative to the base tempo on
    ``[score[i], score[i+1])``; ``rendered`` is its running integral of ``1 / factor``.
    Beyond the grid, time runs at the base tempo.
    """

    score: np.ndarray
    rendered: np.ndarray
    factor: np.ndarray

    @classmethod
    def random(cls, rng: np.random.Generator, horizon: float, config: HumanizeConfig) -> "TimeWarp":
        """A drift curve over ``[0, horizon]`` seconds of score time (see :class:`HumanizeConfig`)."""
        n = int(np.ceil(max(horizon, _GRID_SECONDS) / _GRID_SECONDS))
        score = np.arange(n + 1) * _GRID_SECONDS
        factor = 1.0 + smooth_curve(rng, score[:-1] + _GRID_SECONDS / 2, config.drift_knot_seconds,
                                    config.drift_max)
        rendered = np.concatenate([[0.0], np.cumsum(_GRID_SECONDS / factor)])
        return cls(score, rendered, factor)

    def to_rendered(self, t):
        """Rendered time (s) of score time ``t`` (s)."""
        t = np.asarray(t, dtype=float)
        out = np.interp(t, self.score, self.rendered)
        return np.where(t > self.score[-1], self.rendered[-1] + (t - self.score[-1]), out)

    def to_score(self, t):
        """Score time (s) of rendered time ``t`` (s); inverse of :meth:`to_rendered`."""
        t = np.asarray(t, dtype=float)
        out = np.interp(t, self.rendered, self.score)
        return np.where(t > self.rendered[-1], self.score[-1] + (t - self.rendered[-1]), out)

    def tempo_range(self, start: float, end: float) -> tuple[float, float]:
        """Lowest and highest local tempo factor on score time ``[start, end]`` (s)."""
        lo = max(int(np.floor(start / _GRID_SECONDS)), 0)
        hi = min(int(np.ceil(end / _GRID_SECONDS)), len(self.factor))
        window = self.factor[lo:hi] if hi > lo else np.array([1.0])
        if end > self.score[-1]:  # past the curve the base tempo applies
            window = np.append(window, 1.0)
        return float(window.min()), float(window.max())


@dataclass
class Performance:
    """A performed note list and how it was made.

    ``notes`` are the humanised notes (rendered seconds, sorted by onset);
    ``controls`` the other channel events, moved to rendered time;
    ``jitter`` each note's onset offset (s) from its warped score time.
    """

    notes: list
    controls: list
    jitter: np.ndarray
    warp: TimeWarp

    def summary(self, start: float, duration: float, base_bpm: float) -> dict:
        """What was rendered in the window ``[start, start + duration]`` (rendered seconds).

        Returns
        -------
        dict
            ``base_bpm``; ``bpm``: the mean tempo rendered (score beats heard
            per minute); ``tempo_min_bpm`` / ``tempo_max_bpm``: the range of the
            local tempo; ``jitter_rms_ms`` / ``jitter_peak_ms``: root mean square and
            largest absolute onset offset; ``velocity_min`` / ``velocity_max``; ``notes``:
            onsets in the window. Tempi are rounded to 0.01 bpm, times to 0.1 ms.
        """
        score_start, score_end = (float(x) for x in self.warp.to_score([start, start + duration]))
        lo, hi = self.warp.tempo_range(score_start, score_end)
        heard = [i for i, n in enumerate(self.notes) if start <= n.on <= start + duration]
        jitter_ms = np.abs(self.jitter[heard]) * 1000 if heard else np.zeros(1)
        velocities = [self.notes[i].velocity for i in heard] or [0]
        return {"base_bpm": base_bpm, "bpm": round(base_bpm * (score_end - score_start) / duration, 2),
                "tempo_min_bpm": round(base_bpm * lo, 2), "tempo_max_bpm": round(base_bpm * hi, 2),
                "jitter_rms_ms": round(float(np.sqrt(np.mean(jitter_ms ** 2))), 1),
                "jitter_peak_ms": round(float(jitter_ms.max()), 1),
                "velocity_min": int(min(velocities)), "velocity_max": int(max(velocities)), "notes": len(heard)}


def _onset_groups(onsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each onset's group (onsets within 1 ms start together) and the sorted group times."""
    order = np.argsort(onsets, kind="stable")
    new_group = np.concatenate([[True], np.diff(onsets[order]) > 1e-3])
    group_sorted = np.cumsum(new_group) - 1
    group = np.empty(len(onsets), dtype=int)
    group[order] = group_sorted
    return group, onsets[order][new_group]


def perform(notes: list, controls: list, warp: TimeWarp, config: HumanizeConfig,
            rng: np.random.Generator) -> Performance:
    """Humanise metronomic ``notes`` (see the module docstring).

    Parameters
    ----------
    notes : list of core.demo.render.Note
        Paired notes, times in seconds of score time (at the base tempo).
    controls : list of tinysoundfont.midi.Event
        Other channel events (program changes...): moved by the warp, not jittered.
    warp : TimeWarp
        The tempo drift (:meth:`TimeWarp.random`; a flat warp for none).
    config : HumanizeConfig
    rng : numpy.random.Generator
        Source of every random draw.

    Returns
    -------
    Performance
    """
    moved = []
    for ev in controls:
        ev = copy.copy(ev)
        ev.t = float(warp.to_rendered(ev.t))
        moved.append(ev)
    if not notes:
        return Performance([], moved, np.zeros(0), warp)
    on = np.array([n.on for n in notes])
    off = np.array([n.off for n in notes])
    group, times = _onset_groups(on)
    gaps = np.diff(times)
    before = np.concatenate([[np.inf], gaps])[group]
    after = np.concatenate([gaps, [np.inf]])[group]
    shared = rng.normal(0.0, config.jitter_sd_ms, len(times))[group]
    own = rng.normal(0.0, config.chord_spread_ms, len(notes))
    bound = np.minimum(config.jitter_max_ms / 1000, _GAP_SHARE * np.minimum(before, after))
    jitter = np.clip((shared + own) / 1000, -bound, bound)
    new_on = np.maximum(warp.to_rendered(on) + jitter, 0.0)
    jitter = new_on - warp.to_rendered(on)
    new_off = warp.to_rendered(off) + jitter
    swell = 1.0 + smooth_curve(rng, new_on, config.swell_seconds, config.swell_depth)
    spread = 1.0 + np.clip(rng.normal(0.0, 1.0, len(notes)), -2.5, 2.5) * config.velocity_sd
    velocity = np.clip(np.rint([n.velocity for n in notes] * swell * spread), 1, 127).astype(int)
    # a note ends before the next note of its key and channel starts, and lasts at least 10 ms
    next_on = np.full(len(notes), np.inf)
    last: dict[tuple[int, int], int] = {}
    for i in np.argsort(new_on, kind="stable")[::-1]:
        key = (notes[i].channel, notes[i].key)
        if key in last:
            next_on[i] = new_on[last[key]]
        last[key] = i
    new_off = np.maximum(np.minimum(new_off, next_on - 1e-3), new_on + _MIN_NOTE_SECONDS)
    order = np.argsort(new_on, kind="stable")
    performed = [replace(notes[i], velocity=int(velocity[i]), on=float(new_on[i]), off=float(new_off[i]))
                 for i in order]
    return Performance(performed, moved, jitter[order], warp)
