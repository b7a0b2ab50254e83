"""core.audio crops, windows and excerpts."""

import io

import numpy as np
import pytest
import soundfile as sf

from core.audio import crop_starts, evaluation_crops, excerpt_bytes, random_crop, windows
from core.errors import AudioError, ParameterError

SR = 22050


def ramp_mel(frames, n_mels=4):
    """Frame index in every cell, +1 so that zero padding is recognisable."""
    return np.tile(np.arange(1, frames + 1, dtype=np.float32), (n_mels, 1))


def test_random_crop_is_contiguous_seeded_and_padded():
    mel = ramp_mel(100)
    a = random_crop(mel, 10, np.random.default_rng(3))
    b = random_crop(mel, 10, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (4, 10) and np.all(np.diff(a[0]) == 1)
    starts = {int(random_crop(mel, 10, rng)[0, 0]) for rng in range(200)}
    assert min(starts) == 1 and max(starts) == 91  # every start from first to last is reachable
    short = random_crop(ramp_mel(6), 10, 0)
    np.testing.assert_array_equal(short[0], [1, 2, 3, 4, 5, 6, 0, 0, 0, 0])


def test_evaluation_crops_evenly_spaced_cover_the_track():
    mel = ramp_mel(1000)
    crops = evaluation_crops(mel, 173)
    assert crops.shape == (8, 4, 173)
    starts = crops[:, 0, 0] - 1
    assert starts[0] == 0 and starts[-1] == 1000 - 173
    assert np.ptp(np.diff(starts)) <= 1  # equal gaps up to rounding
    np.testing.assert_array_equal(crop_starts(1000, 173, 8), starts)


def test_evaluation_crops_of_a_short_track_are_padded_copies():
    crops = evaluation_crops(ramp_mel(50), 173, n_crops=3)
    assert crops.shape == (3, 4, 173)
    assert np.all(crops[:, :, 50:] == 0) and np.all(crops[:, 0, 49] == 50)


def test_windows_non_overlapping_drop_partial_tail():
    w = windows(ramp_mel(95), 30)
    assert w.shape == (3, 4, 30)
    np.testing.assert_array_equal(w[:, 0, 0], [1, 31, 61])
    np.testing.assert_array_equal(w[1, 2], np.arange(31, 61))
    one = windows(ramp_mel(10), 30)
    assert one.shape == (1, 4, 30) and one[0, 0, 9] == 10 and one[0, 0, 10] == 0


def test_crop_validation():
    with pytest.raises(ParameterError):
        random_crop(np.zeros(10), 5)
    with pytest.raises(ParameterError):
        windows(np.zeros((4, 10)), 0)
    with pytest.raises(ParameterError):
        evaluation_crops(np.zeros((4, 0)), 5)


@pytest.fixture
def click_file(tmp_path):
    """3 s of silence with a single-sample click at 1.2345 s."""
    y = np.zeros(3 * SR, dtype=np.float32)
    click = int(round(1.2345 * SR))
    y[click] = 0.9
    path = tmp_path / "click.flac"
    sf.write(path, y, SR)
    return path, click


def test_excerpt_is_sample_accurate(click_file):
    path, click = click_file
    data, sr = sf.read(io.BytesIO(excerpt_bytes(path, 1.0125, 2.5)))
    assert sr == SR
    assert len(data) == round(2.5 * SR) - round(1.0125 * SR)
    assert int(np.abs(data).argmax()) == click - round(1.0125 * SR)
    assert np.abs(data).max() == pytest.approx(0.9, abs=1e-3)


def test_excerpt_to_the_end_and_validation(click_file):
    path, _ = click_file
    data, _ = sf.read(io.BytesIO(excerpt_bytes(path, 2.9, 3.0)))
    assert len(data) == round(0.1 * SR)
    with pytest.raises(ParameterError, match="past the end"):
        excerpt_bytes(path, 1.0, 3.5)
    with pytest.raises(ParameterError, match="start < end"):
        excerpt_bytes(path, 2.0, 1.0)
    with pytest.raises(ParameterError):
        excerpt_bytes(path, -0.1, 1.0)
    with pytest.raises(AudioError):
        excerpt_bytes(path.with_name("missing.wav"), 0.0, 1.0)
