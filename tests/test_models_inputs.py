"""What a model hears: Won-style dB inputs padded with silence, and each family's input length."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.audio import log_mel
from core.audio.mel import HOP_LENGTH
from core.models.mwe import MweModel
from core.models.won import WonModel, db_crops, db_from_log1p10

CROP = 173  # Won's crop: 173 frames = 172 hops


def _clip(n_hops: int, seed: int = 0) -> np.ndarray:
    """A loud, changing signal of ``n_hops`` hops: tones over noise (about 2 s for 86 hops)."""
    rng = np.random.default_rng(seed)
    t = np.arange(n_hops * HOP_LENGTH) / 22050
    y = 0.3 * np.sin(2 * np.pi * (220 + 300 * t) * t) + 0.2 * np.sin(2 * np.pi * 1500 * t) * (t % 0.5 < 0.25)
    return (y + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def _clip_and_padded_mels():
    """The mel of a 2 s clip, and the mel of the same clip followed by digital silence up to one crop."""
    clip = _clip(86)
    padded = np.concatenate([clip, np.zeros((CROP - 1 - 86) * HOP_LENGTH, np.float32)])
    short, long = log_mel(clip), log_mel(padded)
    # the premise: the padded audio's mel is the clip's mel followed by frames of silence (0 in log1p10)
    assert short.shape[1] == 87 and long.shape[1] == CROP
    assert np.allclose(long[:, :87], short, atol=1e-6) and not long[:, 87:].any()
    return short, long


@pytest.mark.parametrize("make", [
    lambda: WonModel({"width": 0.0625, "word_dim": 8}),
    lambda: WonModel({"width": 0.0625, "word_dim": 8, "rhythm": True}),
    lambda: MweModel({"word_dim": 8, "encoder": "short_chunk", "width": 0.0625, "n_frames": CROP, "dim": 12}),
])
def test_a_short_clip_embeds_as_the_clip_padded_with_silence(make):
    torch.manual_seed(0)
    model = make().eval()
    short, long = _clip_and_padded_mels()
    assert torch.allclose(model.track_inputs(short), model.track_inputs(long), atol=1e-4)
    assert np.allclose(model.encode_track(short), model.encode_track(long), atol=1e-5)
    # the padding is the quietest value of the input (silence), not 0 dB
    inputs = model.track_inputs(short)
    assert float(inputs[0, :, 100:].max()) == pytest.approx(float(inputs.min()))
    assert float(inputs[0, :, 100:].max()) < -40


def test_crops_convert_like_the_whole_track():
    """For a track longer than a crop, a crop in dB is the same frames of the whole track in dB."""
    mel = log_mel(_clip(400, seed=1))
    whole = db_from_log1p10(mel)
    crops = db_crops(np.stack([mel[:, 10:10 + CROP], mel[:, 200:200 + CROP]]), mel)
    assert np.array_equal(crops[0], whole[:, 10:10 + CROP]) and np.array_equal(crops[1], whole[:, 200:200 + CROP])


def test_won_training_crops_of_a_short_track_are_padded_with_silence(tmp_path):
    """The trainer's random crops of the short clip equal those of the clip padded with silence."""
    from core.training import won as won_training
    from core.training.config import WonTrainConfig

    short, long = _clip_and_padded_mels()
    config = WonTrainConfig(width=0.0625, batch_size=4, steps_per_epoch=2, epochs=1, device="cpu", threads=1)
    batches = []
    for mel in (short, long):
        data = won_training.TagData(tags=["a", "b"], tag_vectors=np.eye(2, 8, dtype=np.float32),
                                   train_mels=[mel, mel], train_matrix=np.eye(2, dtype=bool),
                                   valid_mels=[mel, mel], valid_matrix=np.eye(2, dtype=bool))
        run = won_training.build_run(data, config, tmp_path / "m", "m")
        batches.append([spec for _, _, spec, _ in run.batches(np.random.default_rng(0))])
    for a, b in zip(*batches):
        assert a.shape == (4, 128, CROP) and np.allclose(a, b, atol=1e-4)
