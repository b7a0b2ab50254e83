"""Which excerpt to play for a track: the window length the model saw, cut server-side."""

from __future__ import annotations

from ..audio.io import SAMPLE_RATE
from ..audio.mel import HOP_LENGTH
from ..errors import ParameterError

HOP_SECONDS = HOP_LENGTH / SAMPLE_RATE  # one mel frame


def model_window_seconds(model_config: dict) -> float:
    """Length in seconds of the input window a model was trained on (3 s if unknown)."""
    frames = model_config.get("chunk_frames") or model_config.get("input_frames")
    return round(float(frames) * HOP_SECONDS, 3) if frames else 3.0


def excerpt_window(duration: float, window: float, where: str = "middle") -> tuple[float, float]:
    """Start and end (seconds) of a ``window``-second excerpt of a ``duration``-second clip.

    ``where`` is ``"middle"`` (centred: the region every evaluation-crop scheme
    covers) or ``"start"``. Clips shorter than the window are played whole.
    """
    if duration <= 0 or window <= 0:
        raise ParameterError(f"duration and window must be positive, got {duration} and {window}")
    if window >= duration:
        return 0.0, float(duration)
    if where == "middle":
        start = (duration - window) / 2
    elif where == "start":
        start = 0.0
    else:
        raise ParameterError(f"unknown excerpt position {where!r}; use 'middle' or 'start'")
    return round(start, 3), round(start + window, 3)
