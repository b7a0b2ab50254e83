"""What the rater page's player sends back, checked before anything is stored.

The player (``core/listening/player/index.html``) runs in the rater's browser,
so its value is untrusted input: a rater can send any JSON. A well-formed
report is::

    {"trial_id": int, "seq": int, "answer": "A" | "B" | None, "response_ms": number | None,
     "plays": {"anchor" | "A" | "B": [{"heard_full": bool, "listened_s": number}, ...]}}

Anything else (another type, an unknown key, a list longer than
:data:`MAX_PLAYS_PER_CLIP`, a non-finite number) is rejected with a
:class:`MalformedReport` that says which field is wrong. Values that are
well-typed but out of range are clamped: ``response_ms`` to
``[0, MAX_RESPONSE_MS]``, ``listened_s`` to ``[0, clip length + 1 s]``. The cap
on plays per clip bounds the rows one report can write in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import ParameterError

CLIPS = ("anchor", "A", "B")
SIDES = ("A", "B")
#: Plays stored per clip and trial; the player stops counting new plays here (it passes this cap on).
MAX_PLAYS_PER_CLIP = 20
#: Longest response time stored (ms): one hour; longer means the rater left the tab open.
MAX_RESPONSE_MS = 3_600_000
#: ``listened_s`` is clamped to the clip length plus this (s): time advancing a little past the end.
LISTENED_SLACK_S = 1.0
#: Upper bound of ``seq`` and ``trial_id`` (a 32-bit signed integer column).
MAX_INT = 2**31 - 1
_REPORT_KEYS = frozenset({"trial_id", "seq", "answer", "response_ms", "plays"})
_PLAY_KEYS = frozenset({"heard_full", "listened_s"})


class MalformedReport(ParameterError):
    """The player's value is not a report this app sends (wrong type, key, length or number)."""


@dataclass(frozen=True)
class PlayerReport:
    """A checked player report (see the module docstring).

    ``plays`` maps each clip the player reported to its plays, in order, as
    ``{"heard_full": bool, "listened_s": float}`` dicts (clamped).
    """

    trial_id: int
    seq: int
    answer: str | None
    response_ms: int | None
    plays: dict


def _integer(value, field: str, low: int = 0, high: int = MAX_INT) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise MalformedReport(f"the player sent a malformed report: {field} must be a whole number, "
                              f"got {type(value).__name__}")
    if not low <= value <= high:
        raise MalformedReport(f"the player sent a malformed report: {field} must be in [{low}, {high}], got {value}")
    return value


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedReport(f"the player sent a malformed report: {field} must be a number, "
                              f"got {type(value).__name__}")
    value = float(value)
    if not math.isfinite(value):
        raise MalformedReport(f"the player sent a malformed report: {field} must be finite, got {value}")
    return value


def clamp_response_ms(value) -> int | None:
    """A response time in ms as stored: None stays None, a number is clamped to ``[0, MAX_RESPONSE_MS]``.

    Raises
    ------
    MalformedReport
        If ``value`` is neither None nor a finite number.
    """
    if value is None:
        return None
    return int(round(min(max(_number(value, "response_ms"), 0.0), MAX_RESPONSE_MS)))


def check_plays(reported, clip_seconds: float | None = None) -> dict:
    """Checked plays ``{clip: [{"heard_full": bool, "listened_s": float}, ...]}`` (``None`` is no plays).

    Parameters
    ----------
    reported : mapping or None
        What the player sent under ``plays``.
    clip_seconds : float, optional
        The trial's clip length (s); ``listened_s`` is clamped to it plus
        :data:`LISTENED_SLACK_S` (without it, to one hour).

    Raises
    ------
    MalformedReport
        Unknown clip, more than :data:`MAX_PLAYS_PER_CLIP` plays of a clip, or a
        play that is not ``{"heard_full": bool, "listened_s": number}``.
    """
    if reported is None:
        return {}
    if not isinstance(reported, Mapping):
        raise MalformedReport(f"the player sent a malformed report: plays must be an object, "
                              f"got {type(reported).__name__}")
    ceiling = MAX_RESPONSE_MS / 1000 if clip_seconds is None else float(clip_seconds) + LISTENED_SLACK_S
    out = {}
    for clip, items in reported.items():
        if clip not in CLIPS:
            raise MalformedReport(f"the player sent a malformed report: unknown clip {str(clip)[:20]!r} "
                                  f"(clips are {', '.join(CLIPS)})")
        if not isinstance(items, list):
            raise MalformedReport(f"the player sent a malformed report: plays[{clip}] must be a list")
        if len(items) > MAX_PLAYS_PER_CLIP:
            raise MalformedReport(f"the player sent a malformed report: {len(items)} plays of clip {clip}, "
                                  f"at most {MAX_PLAYS_PER_CLIP} are recorded")
        checked = []
        for i, play in enumerate(items):
            field = f"plays[{clip}][{i}]"
            if not isinstance(play, Mapping) or set(play) != _PLAY_KEYS:
                raise MalformedReport(f"the player sent a malformed report: {field} must be an object with "
                                      f"exactly the keys heard_full and listened_s")
            if not isinstance(play["heard_full"], bool):
                raise MalformedReport(f"the player sent a malformed report: {field}.heard_full must be true or false")
            listened = _number(play["listened_s"], f"{field}.listened_s")
            checked.append({"heard_full": play["heard_full"], "listened_s": min(max(listened, 0.0), ceiling)})
        out[clip] = checked
    return out


def check_side(side) -> str:
    """``side`` if it is ``"A"`` or ``"B"``; else :class:`MalformedReport`."""
    if side not in SIDES:
        raise MalformedReport(f"answer side must be 'A' or 'B', got {str(side)[:20]!r}")
    return side


def parse_player_report(value, clip_seconds: float | None = None) -> PlayerReport:
    """Check the player's value and return it as a :class:`PlayerReport`.

    Parameters
    ----------
    value : object
        What the component returned (decoded JSON).
    clip_seconds : float, optional
        The trial's clip length, for clamping ``listened_s``.

    Raises
    ------
    MalformedReport
        Naming the first field that is wrong. Never another exception.
    """
    if not isinstance(value, Mapping):
        raise MalformedReport(f"the player sent a malformed report: expected an object, got {type(value).__name__}")
    unknown = set(value) - _REPORT_KEYS
    if unknown:
        raise MalformedReport(f"the player sent a malformed report: unknown field(s) "
                              f"{sorted(str(k)[:20] for k in unknown)[:5]}")
    missing = {"trial_id", "seq"} - set(value)
    if missing:
        raise MalformedReport(f"the player sent a malformed report: missing {sorted(missing)}")
    answer = value.get("answer")
    return PlayerReport(trial_id=_integer(value["trial_id"], "trial_id"), seq=_integer(value["seq"], "seq"),
                        answer=None if answer is None else check_side(answer),
                        response_ms=clamp_response_ms(value.get("response_ms")),
                        plays=check_plays(value.get("plays"), clip_seconds))
