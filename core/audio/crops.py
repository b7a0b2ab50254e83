"""Fixed-length pieces of a log-mel spectrogram: training crops, evaluation crops, windows.

All functions take a ``(n_mels, T)`` array and return copies; inputs shorter than
``n_frames`` are zero-padded at the end (zero is silence in the ``log1p10`` scale).
"""

from __future__ import annotations

import numpy as np

from ..errors import ParameterError


def _check(mel: np.ndarray, n_frames: int) -> np.ndarray:
    mel = np.asarray(mel)
    if mel.ndim != 2:
        raise ParameterError(f"expected a spectrogram of shape (n_mels, frames), got shape {mel.shape}")
    if mel.shape[1] == 0:
        raise ParameterError("spectrogram has no frames")
    if int(n_frames) != n_frames or n_frames < 1:
        raise ParameterError(f"n_frames must be a positive integer, got {n_frames!r}")
    return mel


def _pad(mel: np.ndarray, n_frames: int) -> np.ndarray:
    out = np.zeros((mel.shape[0], n_frames), dtype=mel.dtype)
    out[:, : mel.shape[1]] = mel[:, :n_frames]
    return out


def random_crop(mel: np.ndarray, n_frames: int, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """One crop of ``n_frames`` frames starting at a uniformly random frame.

    Parameters
    ----------
    mel : np.ndarray, shape (n_mels, T)
    n_frames : int > 0
        Crop length in frames (e.g. :data:`CHUNK_FRAMES_WON`).
    rng : np.random.Generator or int, optional
        Random generator, or a seed for one.

    Returns
    -------
    np.ndarray, shape (n_mels, n_frames)
    """
    mel = _check(mel, n_frames)
    if mel.shape[1] <= n_frames:
        return _pad(mel, n_frames)
    start = int(np.random.default_rng(rng).integers(0, mel.shape[1] - n_frames + 1))
    return mel[:, start:start + n_frames].copy()


def crop_starts(n_total: int, n_frames: int, n_crops: int) -> np.ndarray:
    """Start frames of ``n_crops`` evenly spaced crops; the first at 0, the last ending at ``n_total``."""
    if n_crops < 1:
        raise ParameterError(f"n_crops must be >= 1, got {n_crops}")
    last = max(n_total - n_frames, 0)
    return np.round(np.linspace(0, last, n_crops)).astype(int)


def evaluation_crops(mel: np.ndarray, n_frames: int, n_crops: int = 8) -> np.ndarray:
    """Evenly spaced crops covering the whole track (Won et al. average 8 of them).

    Parameters
    ----------
    mel : np.ndarray, shape (n_mels, T)
    n_frames : int > 0
        Crop length in frames.
    n_crops : int > 0
        Number of crops. Crops overlap when ``T < n_crops * n_frames``; a track
        shorter than one crop gives ``n_crops`` copies of the zero-padded track,
        so the output shape never depends on the track length.

    Returns
    -------
    np.ndarray, shape (n_crops, n_mels, n_frames)
    """
    mel = _check(mel, n_frames)
    if mel.shape[1] < n_frames:
        return np.repeat(_pad(mel, n_frames)[None], n_crops, axis=0)
    starts = crop_starts(mel.shape[1], n_frames, n_crops)
    return np.stack([mel[:, s:s + n_frames] for s in starts])


def windows(mel: np.ndarray, n_frames: int) -> np.ndarray:
    """Consecutive non-overlapping windows (Lee et al. average them for a full song).

    The trailing partial window is dropped so that padding never biases the
    song-level mean toward silence; a track shorter than one window gives one
    zero-padded window.

    Returns
    -------
    np.ndarray, shape (max(1, T // n_frames), n_mels, n_frames)
    """
    mel = _check(mel, n_frames)
    n = mel.shape[1] // n_frames
    if n == 0:
        return _pad(mel, n_frames)[None]
    return np.ascontiguousarray(mel[:, : n * n_frames].reshape(mel.shape[0], n, n_frames).transpose(1, 0, 2))
