"""Playable excerpts: WAV bytes cut at sample accuracy.

``st.audio(start_time=...)`` rounds down to whole seconds, so sub-second excerpts
are cut here, on the server, and handed to the player as a complete WAV file.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf

from ..errors import AudioError, ParameterError
from .io import describe_decode_error, open_soundfile, skip_frames


def excerpt_bytes(path: str | os.PathLike, start_s: float, end_s: float) -> bytes:
    """The part of an audio file between two times, as a 16-bit PCM WAV file.

    The excerpt keeps the file's own sample rate and channels (it is for
    listening, not for features). Sample ``i`` of the excerpt is sample
    ``round(start_s * sr) + i`` of the file.

    Parameters
    ----------
    path : path
        Audio file (wav/flac/ogg/mp3).
    start_s, end_s : float
        Start and end in seconds, ``0 <= start_s < end_s <= duration``
        (``end_s`` may exceed the duration by less than one sample period).

    Returns
    -------
    bytes
        A complete RIFF/WAV file.

    Raises
    ------
    ParameterError
        If the interval is empty, negative or past the end of the file.
    AudioError
        If the file is missing or undecodable.
    """
    path = Path(path)
    if not (np.isfinite(start_s) and np.isfinite(end_s)):
        raise ParameterError(f"excerpt times must be finite, got {start_s}..{end_s}")
    if start_s < 0 or end_s <= start_s:
        raise ParameterError(f"excerpt needs 0 <= start < end, got start={start_s} s, end={end_s} s")
    with open_soundfile(path) as f:
        sr, total = f.samplerate, f.frames
        duration = total / sr
        if end_s > duration + 1.0 / sr:
            raise ParameterError(f"excerpt end {end_s:.3f} s is past the end of {path.name} ({duration:.3f} s)")
        start = int(round(start_s * sr))
        stop = min(int(round(end_s * sr)), total)
        if stop <= start:
            raise ParameterError(f"excerpt {start_s}..{end_s} s of {path.name} holds no sample")
        try:
            skip_frames(f, start)
            data = f.read(stop - start, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, ValueError) as err:
            raise AudioError(f"cannot decode audio file {path}: {describe_decode_error(err)}") from err
    buf = io.BytesIO()
    sf.write(buf, data, sr, format="WAV", subtype="PCM_16")
    return buf.getvalue()
