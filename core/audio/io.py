"""Reading audio files: any of wav/flac/ogg/mp3 to mono float32 at 22,050 Hz."""

from __future__ import annotations

import os
from pathlib import Path

import librosa
import numpy as np
import soundfile as sf

from ..errors import AudioError, ParameterError

#: Sample rate every feature is computed at (Hz).
SAMPLE_RATE = 22050
#: File extensions the importers and the loader accept (libsndfile >= 1.1 reads all four).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")


def open_soundfile(path: Path) -> sf.SoundFile:
    """Open ``path`` with soundfile, raising :class:`AudioError` naming the file on failure."""
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    try:
        return sf.SoundFile(str(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as err:
        raise AudioError(f"cannot decode audio file {path}: {err}") from err


def audio_duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, read from its header.

    Raises
    ------
    AudioError
        If the file is missing or not decodable.
    """
    path = Path(path)
    with open_soundfile(path) as f:
        return f.frames / f.samplerate


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, offset: float = 0.0,
               duration: float | None = None) -> np.ndarray:
    """Load an audio file as a mono float32 signal.

    Parameters
    ----------
    path : path
        wav, flac, ogg (Vorbis) or mp3 file.
    sr : int > 0
        Target sample rate in Hz (resampled with soxr if the file differs).
    offset : float >= 0
        Start, in seconds from the beginning of the file.
    duration : float > 0, optional
        Length to read, in seconds; default to the end of the file.

    Returns
    -------
    np.ndarray, shape (n_samples,), float32
        Channels averaged to mono.

    Raises
    ------
    AudioError
        If the file is missing, undecodable, or nothing is left to read
        (empty file, or ``offset`` at or after its end).
    ParameterError
        If ``sr``, ``offset`` or ``duration`` is out of range.
    """
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    if offset < 0:
        raise ParameterError(f"offset must be >= 0 seconds, got {offset}")
    if duration is not None and duration <= 0:
        raise ParameterError(f"duration must be > 0 seconds, got {duration}")
    path = Path(path)
    with open_soundfile(path) as f:
        native = f.samplerate
        start = int(round(offset * native))
        frames = -1 if duration is None else int(round(duration * native))
        try:
            if start:
                if start >= f.frames:
                    raise AudioError(f"{path}: offset {offset:.3f} s is past the end "
                                     f"({f.frames / native:.3f} s)")
                f.seek(start)
            y = f.read(frames, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as err:
            raise AudioError(f"cannot decode audio file {path}: {err}") from err
    if y.shape[0] == 0:
        raise AudioError(f"audio file {path} is empty (no samples to read)")
    y = y.mean(axis=1)
    if native != sr:
        y = librosa.resample(y, orig_sr=native, target_sr=sr, res_type="soxr_hq")
    if not np.all(np.isfinite(y)):
        raise AudioError(f"audio file {path} decodes to non-finite samples")
    return np.ascontiguousarray(y, dtype=np.float32)
