"""core.audio.io: header checks before decoding, block decoding with bounded memory, malformed files.

Uploads are decoded from bytes (:func:`decode_audio`) and every error names the
upload by its file name, never a server path.
"""

from __future__ import annotations

import io
import struct
import tempfile
import tracemalloc

import librosa
import numpy as np
import pytest
import soundfile as sf

from core.audio import (MAX_CHANNELS, SAMPLE_RATE, SAMPLE_RATE_RANGE, audio_duration, decode_audio, excerpt_bytes,
                        load_audio)
from core.audio.io import BLOCK_FRAMES
from core.errors import AudioError

SR = SAMPLE_RATE


def encoded(y: np.ndarray, sr: int, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format=fmt, **kwargs)
    return buffer.getvalue()


def noise(seconds: float, sr: int, channels: int = 1, seed: int = 0, scale: float = 0.1) -> np.ndarray:
    return (scale * np.random.default_rng(seed).normal(size=(int(seconds * sr) + 7, channels))).astype(np.float32)


def wav_header(channels=1, rate=SR, bits=16, data=b"\0" * 200, data_size=None, byte_rate=None,
               block_align=None, format_tag=1) -> bytes:
    """A RIFF/WAV file written by hand, so that its header can say anything."""
    block_align = channels * bits // 8 if block_align is None else block_align
    byte_rate = rate * block_align if byte_rate is None else byte_rate
    size = len(data) if data_size is None else data_size
    fmt = struct.pack("<HHIIHH", format_tag, channels, rate, byte_rate, block_align, bits)
    return (b"RIFF" + struct.pack("<I", min(36 + size, 2**32 - 1)) + b"WAVE" + b"fmt " + struct.pack("<I", 16)
            + fmt + b"data" + struct.pack("<I", size) + data)


def reference(data: bytes, sr: int = SR, start: int = 0, frames: int | None = None) -> np.ndarray:
    """The whole file read in one call, cut, mixed to mono and resampled by librosa."""
    whole, native = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    mono = whole[start: None if frames is None else start + frames].mean(axis=1)
    return mono if native == sr else librosa.resample(mono, orig_sr=native, target_sr=sr, res_type="soxr_hq")


# ------------------------------------------------------------- header checks
@pytest.mark.parametrize("channels, rate, message", [
    (MAX_CHANNELS + 1, 44100, "9 channels; at most 8"),
    (64, 44100, "64 channels"),
    (1, SAMPLE_RATE_RANGE[0] - 1, "sample rate of 7999 Hz"),
    (2, SAMPLE_RATE_RANGE[1] + 1, "sample rate of 192001 Hz"),
    (1, 1, "sample rate of 1 Hz"),
])
def test_header_refuses_channels_and_rates_before_decoding(tmp_path, monkeypatch, channels, rate, message):
    data = wav_header(channels=channels, rate=rate, data=b"\0" * (channels * 2 * 50))
    monkeypatch.setattr(sf.SoundFile, "read", lambda *a, **kw: pytest.fail("decoded a refused file"))
    with pytest.raises(AudioError, match=message) as err:
        decode_audio(data, "hostile name.wav")
    assert "hostile name.wav" in str(err.value)
    path = tmp_path / "refused.wav"
    path.write_bytes(data)
    for read in (load_audio, audio_duration, lambda p: excerpt_bytes(p, 0.0, 0.001)):
        with pytest.raises(AudioError, match=message):
            read(path)


@pytest.mark.parametrize("channels, rate", [(MAX_CHANNELS, SAMPLE_RATE_RANGE[1]), (1, SAMPLE_RATE_RANGE[0])])
def test_header_limits_are_inclusive(channels, rate):
    y = decode_audio(encoded(noise(0.5, rate, channels), rate, "WAV"), "edge.wav")
    assert y.dtype == np.float32 and len(y) == int(np.ceil((int(0.5 * rate) + 7) * SR / rate))


# ----------------------------------------------------------- block decoding
@pytest.mark.parametrize("fmt, rate, channels", [
    ("WAV", 48000, 6), ("FLAC", 96000, 2), ("OGG", 44100, 2), ("OGG", 22050, 1), ("MP3", 44100, 2), ("MP3", 22050, 1)])
def test_block_decoding_equals_one_whole_read(fmt, rate, channels):
    seconds = 3 * BLOCK_FRAMES / rate + 0.3  # several blocks and a partial one
    data = encoded(noise(seconds, rate, channels), rate, fmt)
    exact = fmt != "MP3"  # libsndfile's MPEG decoder differs from its own whole read by 1 ulp
    for offset, duration in [(0.0, None), (0.7, 1.3), (1.0, None), (0.0, 100.0)]:
        start = int(round(offset * rate))
        expected = reference(data, SR, start, None if duration is None else int(round(duration * rate)))
        y = decode_audio(data, "clip", offset=offset, duration=duration)
        assert y.shape == expected.shape and y.dtype == np.float32
        np.testing.assert_allclose(y, expected, rtol=0, atol=0 if exact else 1e-6)


def test_mp3_offsets_and_excerpts_are_sample_exact(tmp_path):
    """libsndfile 1.2 decodes MPEG wrongly after a seek; offsets are reached by reading instead."""
    path = tmp_path / "clip.mp3"
    sf.write(path, noise(3.3, SR, 1, seed=3), SR)
    data = path.read_bytes()
    np.testing.assert_allclose(load_audio(path, offset=1.0), reference(data, SR, SR), atol=1e-6)
    whole, _ = sf.read(path, dtype="float32", always_2d=True)
    excerpt, sr = sf.read(io.BytesIO(excerpt_bytes(path, 1.0, 2.0)), dtype="float32", always_2d=True)
    assert sr == SR and excerpt.shape == (SR, 1)
    np.testing.assert_allclose(excerpt, whole[SR:2 * SR], atol=1 / 2**15)  # 16-bit excerpt


def test_decoding_memory_does_not_grow_with_channels_or_rate():
    """A 20 s, 8-channel, 48 kHz upload: decoding holds about one block, never the whole file."""
    data = encoded(noise(20.0, 48000, MAX_CHANNELS, scale=0.05), 48000, "WAV", subtype="PCM_16")
    whole_float32 = 20 * 48000 * MAX_CHANNELS * 4  # what reading it in one call would hold (30.7 MB)
    tracemalloc.start()
    try:
        y = decode_audio(data, "long.wav")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    block = BLOCK_FRAMES * MAX_CHANNELS * 4
    assert len(y) == int(np.ceil((20 * 48000 + 7) * SR / 48000))
    assert peak < 2 * y.nbytes + 2 * block + (1 << 20), peak
    assert peak < whole_float32 / 4


# ------------------------------------------------------- malformed uploads
def _truncations(data: bytes) -> list[bytes]:
    return [data[:n] for n in (4, 12, 44, 100, len(data) // 2, len(data) - 1)]


def malformed_uploads() -> dict[str, bytes]:
    """Empty, garbage, truncated, zero-channel and header-lying files."""
    y = noise(1.0, SR, 2, seed=5)
    cases = {"empty": b"", "text": b"this is not audio " * 20, "random": np.random.default_rng(1).bytes(4096),
             "zero channels": wav_header(channels=0, block_align=2),
             "zero rate": wav_header(rate=0),
             "zero bits": wav_header(bits=0, block_align=2),
             "header only": wav_header(data=b""),
             "data size lies (4 GB)": wav_header(data_size=2**32 - 1),
             "byte rate lies": wav_header(byte_rate=7),
             "block align lies": wav_header(block_align=4096),
             "unknown codec": wav_header(format_tag=0x1234),
             "odd bits": wav_header(bits=13)}
    for fmt in ("WAV", "FLAC", "OGG", "MP3"):
        for i, cut in enumerate(_truncations(encoded(y, SR, fmt))):
            cases[f"{fmt} truncated #{i} ({len(cut)} bytes)"] = cut
    return cases


@pytest.mark.parametrize("name", list(malformed_uploads()))
def test_malformed_upload_decodes_or_fails_naming_the_file(name):
    data = malformed_uploads()[name]
    label = f"upload <{name}>.wav"
    try:
        y = decode_audio(data, label, duration=120.0)
    except AudioError as err:
        message = str(err)
        assert label in message and tempfile.gettempdir() not in message and "BytesIO" not in message
    else:  # whatever a damaged file still holds, as finite mono samples
        assert y.dtype == np.float32 and y.ndim == 1 and 0 < len(y) <= 120 * SR and np.all(np.isfinite(y))
