"""Log-mel spectrograms with the seeds' settings (Hann 1024, hop 512, 128 mels at 22,050 Hz).

Two log scales are named after the papers that use them:

``log1p10``
    ``log10(1 + 10 * S)`` (Lee et al. 2020, Choi et al. 2019): 0 for silence, about
    0-5 for music. This is what :class:`core.features.FeatureStore` caches.
``db``
    ``10 * log10(max(S, 1e-10))`` (Won et al. 2021, torchaudio ``AmplitudeToDB`` on a
    power spectrogram with reference 1 and no ``top_db`` clipping).

``S`` is the power (magnitude squared) mel spectrogram from
:func:`librosa.feature.melspectrogram` (Slaney mel scale and normalisation,
centred frames).
"""

from __future__ import annotations

import functools

import librosa
import numpy as np

from ..errors import ParameterError
from .io import SAMPLE_RATE

N_FFT = 1024
HOP_LENGTH = 512
N_MELS = 128
SCALES = ("log1p10", "db")
#: Smallest power the dB scale resolves (-100 dB); avoids log(0) on digital silence.
DB_AMIN = 1e-10


def frames_for_seconds(seconds: float, sr: int = SAMPLE_RATE) -> int:
    """Number of mel frames :func:`log_mel` gives for ``seconds`` of audio.

    With centred frames a signal of ``n`` samples gives ``1 + n // hop`` frames,
    so 4.0 s gives Won et al.'s 173 frames and 3.0 s gives 130.

    Parameters
    ----------
    seconds : float > 0
        Duration in seconds.
    sr : int
        Sample rate in Hz.
    """
    if seconds <= 0:
        raise ParameterError(f"seconds must be > 0, got {seconds}")
    return 1 + int(round(seconds * sr)) // HOP_LENGTH


#: Won et al.'s training chunk (``--input_length 173``, about 4 s).
CHUNK_FRAMES_WON = 173
#: Lee et al.'s 3-second window.
CHUNK_FRAMES_3S = frames_for_seconds(3.0)


def mel_power(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Power mel spectrogram ``S``, shape (128, T), float32."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ParameterError(f"expected a mono signal of shape (n_samples,), got shape {y.shape}")
    if y.size == 0:
        raise ParameterError("cannot compute a spectrogram of an empty signal")
    if not np.all(np.isfinite(y)):
        raise ParameterError("signal contains NaN or infinite samples")
    with _blas().limit(limits=1):
        S = librosa.feature.melspectrogram(y=y.astype(np.float32, copy=False), sr=sr, n_fft=N_FFT,
                                           hop_length=HOP_LENGTH, n_mels=N_MELS, window="hann", power=2.0)
    return S.astype(np.float32, copy=False)


@functools.cache
def _blas():
    """The loaded BLAS pools. The filterbank product runs on one thread: its sums then come out the same,
    bit for bit, in a feature pool's one-thread workers and in a process of many threads (they did not),
    and a 20 s clip's mel took 8 ms on one thread against 7 ms (twice the CPU) on two."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def log_mel(y: np.ndarray, sr: int = SAMPLE_RATE, scale: str = "log1p10") -> np.ndarray:
    """Log-mel spectrogram of a mono signal.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono signal (see :func:`core.audio.load_audio`).
    sr : int
        Sample rate of ``y`` in Hz.
    scale : {"log1p10", "db"}
        Lee et al.'s ``log10(1 + 10 S)`` or Won et al.'s power-to-dB (see the module docstring).

    Returns
    -------
    np.ndarray, shape (128, T), float32
        ``T = 1 + len(y) // 512`` frames of 512 samples (23.2 ms at 22,050 Hz).
    """
    if scale not in SCALES:
        raise ParameterError(f"unknown mel scale {scale!r}; use one of {SCALES}")
    S = mel_power(y, sr)
    if scale == "log1p10":
        out = np.log10(1.0 + 10.0 * S)
    else:
        out = librosa.power_to_db(S, ref=1.0, amin=DB_AMIN, top_db=None)
    return out.astype(np.float32, copy=False)


def log1p10_to_power(mel: np.ndarray) -> np.ndarray:
    """Invert ``log10(1 + 10 S)`` back to the power mel spectrogram ``S`` (clipped at 0)."""
    mel = np.asarray(mel, dtype=np.float64)
    return np.maximum((np.power(10.0, mel) - 1.0) / 10.0, 0.0)
