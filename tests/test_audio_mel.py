"""core.audio: loading, log-mel against librosa, MFCCs."""

import librosa
import numpy as np
import pytest
import soundfile as sf

from core.audio import (CHUNK_FRAMES_3S, CHUNK_FRAMES_WON, SAMPLE_RATE, audio_duration, frames_for_seconds,
                        load_audio, log1p10_to_power, log_mel, mfcc_from_mel)
from core.errors import AudioError, ParameterError

SR = SAMPLE_RATE


def sine(freq=440.0, seconds=1.0, sr=SR, amp=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3"])
def test_load_every_format_mono_float32(tmp_path, ext):
    path = tmp_path / f"a.{ext}"
    sf.write(path, sine(seconds=1.0), SR)
    y = load_audio(path)
    assert y.dtype == np.float32 and y.ndim == 1
    # lossy codecs add encoder delay/padding; the length stays within ~0.1 s
    assert abs(len(y) - SR) < 0.1 * SR
    assert 0.3 < np.abs(y).max() < 0.7
    assert audio_duration(path) == pytest.approx(len(y) / SR, abs=0.1)


def test_stereo_44k_is_mixed_and_resampled(tmp_path):
    left = sine(1000.0, 2.0, sr=44100)
    path = tmp_path / "s.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 44100)
    y = load_audio(path)
    assert len(y) == 2 * SR
    spectrum = np.abs(np.fft.rfft(y))
    assert np.fft.rfftfreq(len(y), 1 / SR)[spectrum.argmax()] == pytest.approx(1000.0, abs=1.0)
    assert np.abs(y[SR // 2:-SR // 2]).max() == pytest.approx(0.25, abs=0.02)  # mean of the channels


def test_offset_and_duration_are_sample_exact(tmp_path):
    ramp = (np.arange(3 * SR) / (3 * SR)).astype(np.float32)
    path = tmp_path / "ramp.wav"
    sf.write(path, ramp, SR, subtype="FLOAT")
    y = load_audio(path, offset=0.5, duration=0.25)
    assert len(y) == SR // 4
    np.testing.assert_allclose(y, ramp[round(0.5 * SR): round(0.5 * SR) + SR // 4])


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(AudioError, match="not found.*nope.wav"):
        load_audio(tmp_path / "nope.wav")
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"this is not audio" * 10)
    with pytest.raises(AudioError, match="bad.ogg"):
        load_audio(bad)
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros(0, dtype=np.float32), SR)
    with pytest.raises(AudioError, match="empty"):
        load_audio(empty)
    short = tmp_path / "short.wav"
    sf.write(short, sine(seconds=1.0), SR)
    with pytest.raises(AudioError, match="past the end"):
        load_audio(short, offset=2.0)
    with pytest.raises(ParameterError):
        load_audio(short, duration=0)


def test_frames_for_seconds_and_chunk_constants():
    assert frames_for_seconds(4.0) == CHUNK_FRAMES_WON == 173
    assert CHUNK_FRAMES_3S == 130
    # what log_mel really gives for that much audio
    assert log_mel(np.zeros(3 * SR, np.float32)).shape == (128, CHUNK_FRAMES_3S)
    with pytest.raises(ParameterError):
        frames_for_seconds(0)


def test_log_mel_matches_librosa_both_scales():
    y = sine(440.0, 2.0)
    S = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=512, n_mels=128, window="hann")
    lee = log_mel(y, scale="log1p10")
    won = log_mel(y, scale="db")
    assert lee.shape == won.shape == (128, 1 + len(y) // 512)
    assert lee.dtype == won.dtype == np.float32
    np.testing.assert_allclose(lee, np.log10(1 + 10 * S), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(won, 10 * np.log10(np.maximum(S, 1e-10)), rtol=1e-4, atol=1e-3)
    # the energy sits in the mel band holding 440 Hz
    centres = librosa.mel_frequencies(n_mels=128, fmax=SR / 2)
    assert abs(centres[lee[:, 10:-10].mean(axis=1).argmax()] - 440.0) < 40.0
    assert lee.min() >= 0.0 and log_mel(np.zeros(SR, np.float32)).max() == 0.0


def test_log_mel_rejects_bad_input():
    with pytest.raises(ParameterError, match="scale"):
        log_mel(sine(), scale="ln")
    with pytest.raises(ParameterError, match="mono"):
        log_mel(np.zeros((2, 100), np.float32))
    with pytest.raises(ParameterError, match="empty"):
        log_mel(np.zeros(0, np.float32))


def test_mfcc_from_mel_matches_librosa():
    rng = np.random.default_rng(0)
    y = (sine(300.0, 2.0) + 0.05 * rng.standard_normal(2 * SR)).astype(np.float32)
    mel = log_mel(y).astype(np.float16).astype(np.float32)  # as the cache returns it
    feats = mfcc_from_mel(mel)
    assert feats.shape == (39, mel.shape[1]) and feats.dtype == np.float32
    ref = librosa.feature.mfcc(y=y, sr=SR, n_fft=1024, hop_length=512, n_mels=128, n_mfcc=13)
    np.testing.assert_allclose(feats[:13], ref, atol=0.5)
    np.testing.assert_allclose(feats[13:26], librosa.feature.delta(ref), atol=0.1)
    np.testing.assert_allclose(log1p10_to_power(log_mel(y)),
                               librosa.feature.melspectrogram(y=y, sr=SR, n_fft=1024, hop_length=512),
                               rtol=1e-3, atol=1e-6)


def test_mfcc_from_mel_short_inputs():
    mel = log_mel(sine(seconds=0.05))  # 3 frames
    assert mfcc_from_mel(mel).shape == (39, mel.shape[1])
    assert np.all(mfcc_from_mel(mel[:, :1])[13:] == 0)
    with pytest.raises(ParameterError):
        mfcc_from_mel(mel, n_mfcc=0)


def test_log_mel_is_the_same_bit_for_bit_on_any_number_of_blas_threads():
    """A feature pool's one-thread workers and a many-thread process cache the same mel (the filterbank
    product summed differently on two threads: 4e-6 apart on this signal before it was held to one)."""
    from threadpoolctl import threadpool_limits

    y = np.random.default_rng(0).normal(size=22050 * 30).astype(np.float32)
    with threadpool_limits(limits=1):
        one = log_mel(y)
    with threadpool_limits(limits=2):
        two = log_mel(y)
    assert np.array_equal(one, two)
