"""MFCCs for the MFCC-VQ baseline (Weston et al. 2011; Lee et al. 2020), from the cached mel."""

from __future__ import annotations

import librosa
import numpy as np

from ..errors import ParameterError
from .mel import DB_AMIN, log1p10_to_power

#: librosa's default delta window (frames); shorter inputs use the largest odd width that fits.
DELTA_WIDTH = 9


def mfcc_from_mel(mel_log1p10: np.ndarray, n_mfcc: int = 13) -> np.ndarray:
    """MFCCs with deltas and delta-deltas, computed from a cached ``log1p10`` mel.

    The mel is inverted to power, converted to dB, and passed to
    :func:`librosa.feature.mfcc` as ``S``, so the MFCC rows equal
    ``librosa.feature.mfcc(y=y, sr=22050, n_fft=1024, hop_length=512, n_mels=128)``
    up to the float16 rounding of the cache.

    Parameters
    ----------
    mel_log1p10 : np.ndarray, shape (n_mels, T)
        ``log10(1 + 10 S)`` mel spectrogram (see :func:`core.audio.log_mel`).
    n_mfcc : int > 0
        Number of cepstral coefficients.

    Returns
    -------
    np.ndarray, shape (3 * n_mfcc, T), float32
        Rows ``[0, n_mfcc)`` are MFCCs, then their deltas, then delta-deltas.
    """
    mel = np.asarray(mel_log1p10)
    if mel.ndim != 2 or mel.shape[1] == 0:
        raise ParameterError(f"expected a non-empty (n_mels, frames) spectrogram, got shape {mel.shape}")
    if not 0 < n_mfcc <= mel.shape[0]:
        raise ParameterError(f"n_mfcc must be in 1..{mel.shape[0]}, got {n_mfcc}")
    db = librosa.power_to_db(log1p10_to_power(mel), ref=1.0, amin=DB_AMIN, top_db=80.0)
    mfcc = librosa.feature.mfcc(S=db, n_mfcc=n_mfcc)
    T = mfcc.shape[1]
    width = min(DELTA_WIDTH, T if T % 2 else T - 1)
    if width < 3:  # one or two frames: no change to measure
        deltas = np.zeros((2 * n_mfcc, T))
    else:
        deltas = np.concatenate([librosa.feature.delta(mfcc, width=width, order=1),
                                 librosa.feature.delta(mfcc, width=width, order=2)])
    return np.concatenate([mfcc, deltas]).astype(np.float32)
