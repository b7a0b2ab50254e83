"""Which excerpt to play for a track: the input length the model saw, cut server-side.

The length comes from the model (:attr:`core.models.base.EmbeddingModel.input_seconds`):
a Won crop is 173 frames (4.0 s), a Lee window or an MWE crop 3.0 s. Bag-of-frames
models (MFCC-VQ, Muslse on codebook histograms) have no window: their embedding
counts every frame of the track, so the whole clip is what they saw and it plays whole.
"""

from __future__ import annotations

from ..errors import ParameterError


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


def window_caption(window: float | None) -> str:
    """What the players of a page play, for its caption (``window``: the model's ``input_seconds``)."""
    if window is None:
        return "Clips play whole: the model reads a track as one bag of frames, with no window."
    return f"Excerpts: {window:.1f} s windows, the length the model saw."
