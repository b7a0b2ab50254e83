"""Reading audio: any of wav/flac/ogg/mp3, from a path or an upload's bytes, to mono float32 at 22,050 Hz.

Every file is checked from its header before a sample is decoded (1 to
:data:`MAX_CHANNELS` channels, a native rate within :data:`SAMPLE_RATE_RANGE`),
then decoded :data:`BLOCK_FRAMES` frames at a time, each block mixed to mono
and resampled as a stream. Memory therefore grows with the mono output at
22,050 Hz, never with the file's channels or native rate: a long 8-channel
192 kHz upload never sits in memory whole.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..errors import AudioError, ParameterError

#: Sample rate every feature is computed at (Hz).
SAMPLE_RATE = 22050
#: File extensions the importers and the loader accept (libsndfile >= 1.1 reads all four).
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")
#: Most channels a file may have (7.1 surround); more is refused before decoding.
MAX_CHANNELS = 8
#: Native sample rates accepted, in Hz (inclusive); others are refused before decoding.
SAMPLE_RATE_RANGE = (8_000, 192_000)
#: Frames decoded at once: decoding holds at most ``BLOCK_FRAMES * channels`` float32 samples.
BLOCK_FRAMES = 1 << 16
#: What libsndfile (and soundfile's argument checks) raise on a file it cannot read.
_DECODE_ERRORS = (sf.LibsndfileError, RuntimeError, TypeError, ValueError, EOFError, OverflowError)


def describe_decode_error(err: Exception) -> str:
    """libsndfile's own words for a failure, without soundfile's "Error opening <object>" prefix."""
    text = str(getattr(err, "error_string", "") or err).strip().rstrip(".")
    # what libsndfile says of data it cannot recognise when read through a file object
    return "Format not recognised" if "not a regular file" in text else text


def check_header(f: sf.SoundFile, name: str) -> None:
    """Refuse a file whose header has no channels, too many, or a sample rate out of range.

    Parameters
    ----------
    f : soundfile.SoundFile
        An open file (only its header has been read).
    name : str
        How errors name the file (its path, or an upload's file name).

    Raises
    ------
    AudioError
    """
    if f.channels < 1:
        raise AudioError(f"{name} declares no audio channel")
    if f.channels > MAX_CHANNELS:
        raise AudioError(f"{name} has {f.channels} channels; at most {MAX_CHANNELS} are supported "
                         "(mix it down to stereo or mono first)")
    low, high = SAMPLE_RATE_RANGE
    if not low <= f.samplerate <= high:
        raise AudioError(f"{name} declares a sample rate of {f.samplerate} Hz; "
                         f"supported rates are {low:,}-{high:,} Hz")


class _SequentialFile(sf.SoundFile):
    """A sound file read front to back, never seeking between reads.

    ``SoundFile.read`` seeks to the position it has just reached after every call
    on a seekable file, and libsndfile 1.2's MPEG decoder returns wrong samples
    after any seek (even that one). Reporting the file as not seekable keeps the
    reads sequential; :func:`skip_frames` replaces seeking for MPEG.
    """

    def seekable(self) -> bool:
        return False


def _open(source: str | io.BytesIO, name: str) -> sf.SoundFile:
    try:
        f = _SequentialFile(source)
    except _DECODE_ERRORS as err:
        raise AudioError(f"cannot decode audio file {name}: {describe_decode_error(err)}") from err
    try:
        check_header(f, name)
    except AudioError:
        f.close()
        raise
    return f


def skip_frames(f: sf.SoundFile, start: int) -> None:
    """Move a freshly opened file to frame ``start``: a seek, or for MPEG (inexact seeks) reading past them."""
    if f.format != "MP3":
        f.seek(start)
        return
    buffer = np.empty((min(BLOCK_FRAMES, start), f.channels), dtype=np.float32)
    while start > 0:
        n = len(f.read(out=buffer[:min(len(buffer), start)]))
        if n == 0:
            break
        start -= n


def open_soundfile(path: Path) -> sf.SoundFile:
    """Open ``path`` after :func:`check_header`, for sequential reads (:class:`AudioError` naming it on failure).

    Read it with explicit frame counts (``f.read(n)``), and move with :func:`skip_frames`.
    """
    if not path.is_file():
        raise AudioError(f"audio file not found: {path}")
    return _open(str(path), str(path))


def audio_duration(path: str | os.PathLike) -> float:
    """Duration of an audio file in seconds, read from its header.

    Raises
    ------
    AudioError
        If the file is missing, not decodable, refused by :func:`check_header`, or holds no frames.
    """
    path = Path(path)
    with open_soundfile(path) as f:
        if f.frames <= 0:
            raise AudioError(f"audio file {path} holds no audio frames (empty or damaged)")
        return f.frames / f.samplerate


def _check_request(sr: int, offset: float, duration: float | None) -> None:
    if sr <= 0:
        raise ParameterError(f"sample rate must be positive, got {sr}")
    if not offset >= 0:  # also refuses NaN
        raise ParameterError(f"offset must be >= 0 seconds, got {offset}")
    if duration is not None and not duration > 0:
        raise ParameterError(f"duration must be > 0 seconds, got {duration}")


def _read_mono(f: sf.SoundFile, name: str, sr: int, offset: float, duration: float | None) -> np.ndarray:
    """Decode ``f`` block by block, mixed to mono and resampled to ``sr`` as a stream."""
    native = f.samplerate
    start = int(round(offset * native))
    wanted = None if duration is None else int(round(duration * native))
    resampler = None if native == sr else soxr.ResampleStream(native, sr, 1, dtype="float32", quality="HQ")
    block = np.empty((BLOCK_FRAMES, f.channels), dtype=np.float32)
    pieces, n_read = [], 0
    try:
        if start:
            if start >= f.frames:
                raise AudioError(f"{name}: offset {offset:.3f} s is past the end ({f.frames / native:.3f} s)")
            skip_frames(f, start)
        while wanted is None or n_read < wanted:
            n = BLOCK_FRAMES if wanted is None else min(BLOCK_FRAMES, wanted - n_read)
            got = f.read(out=block[:n])
            if len(got) == 0:
                break
            n_read += len(got)
            mono = got.mean(axis=1)
            if not np.all(np.isfinite(mono)):
                raise AudioError(f"audio file {name} decodes to non-finite samples")
            pieces.append(mono if resampler is None else resampler.resample_chunk(mono))
    except _DECODE_ERRORS as err:
        raise AudioError(f"cannot decode audio file {name}: {describe_decode_error(err)}") from err
    if n_read == 0:
        raise AudioError(f"audio file {name} is empty (no samples to read)")
    if resampler is not None:
        pieces.append(resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True))
    y = np.concatenate(pieces)
    if resampler is not None:  # the length librosa.resample gives: ceil(n * sr / native)
        n_out = int(np.ceil(n_read * sr / native))
        y = y[:n_out] if len(y) >= n_out else np.pad(y, (0, n_out - len(y)))
    return np.ascontiguousarray(y, dtype=np.float32)


def load_audio(path: str | os.PathLike, sr: int = SAMPLE_RATE, offset: float = 0.0,
               duration: float | None = None) -> np.ndarray:
    """Load an audio file as a mono float32 signal.

    Parameters
    ----------
    path : path
        wav, flac, ogg (Vorbis) or mp3 file.
    sr : int > 0
        Target sample rate in Hz (resampled with soxr, high quality, if the file differs).
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
        If the file is missing, undecodable, refused by :func:`check_header`, or
        nothing is left to read (empty file, or ``offset`` at or after its end).
    ParameterError
        If ``sr``, ``offset`` or ``duration`` is out of range.
    """
    _check_request(sr, offset, duration)
    path = Path(path)
    with open_soundfile(path) as f:
        return _read_mono(f, str(path), sr, offset, duration)


def decode_audio(data: bytes, name: str, sr: int = SAMPLE_RATE, offset: float = 0.0,
                 duration: float | None = None) -> np.ndarray:
    """Decode an upload's bytes (wav, flac, ogg, mp3) as :func:`load_audio` decodes a file.

    Nothing is written to disk, and errors name the upload by ``name`` alone
    (never a server path).

    Parameters
    ----------
    data : bytes
        The file's content.
    name : str
        The upload's file name, for error messages.
    sr, offset, duration
        As in :func:`load_audio`.

    Raises
    ------
    AudioError
        If the content is empty, undecodable or refused by :func:`check_header`.
    ParameterError
        If ``sr``, ``offset`` or ``duration`` is out of range.
    """
    _check_request(sr, offset, duration)
    if not data:
        raise AudioError(f"{name} is empty (0 bytes)")
    with _open(io.BytesIO(data), name) as f:
        return _read_mono(f, name, sr, offset, duration)
