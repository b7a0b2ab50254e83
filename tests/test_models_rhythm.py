"""The onset-autocorrelation rhythm branch: its fixed front end, its learning, its place in the models."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from core.errors import CheckpointError, ParameterError
from core.models.checkpoint import load_model, save_checkpoint
from core.models.lee import LeeModel
from core.models.mwe import MweModel
from core.models.rhythm import RhythmBranch, onset_autocorrelation
from core.models.won import WonModel


def click_mels(periods, frames: int = 129, n_mels: int = 16, seed: int = 0) -> torch.Tensor:
    """Log-mel-like crops: a noise floor and a broadband onset every ``period`` frames (random phase)."""
    rng = np.random.default_rng(seed)
    out = rng.normal(0.0, 0.02, (len(periods), n_mels, frames))
    for row, period in zip(out, periods):
        row[:, rng.integers(period)::period] += 1.0
    return torch.as_tensor(out, dtype=torch.float32)


def reference_acf(mel: np.ndarray, max_lag: int) -> np.ndarray:
    """Plain numpy: mean-removed spectral flux, its linear autocorrelation at lags 1..max_lag over lag 0."""
    flux = np.maximum(np.diff(mel, axis=-1), 0).mean(axis=0)
    flux = flux - flux.mean()
    full = np.correlate(flux, flux, mode="full")[len(flux) - 1:]
    return full[1:max_lag + 1] / full[0]


def test_matches_a_numpy_reference():
    mels = click_mels([10, 17, 23])
    got = onset_autocorrelation(mels, max_lag=96).numpy()
    want = np.stack([reference_acf(m.numpy().astype(np.float64), 96) for m in mels])
    assert got.shape == (3, 96)
    assert np.allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("period", [9, 14, 21, 30])
def test_peaks_at_the_onset_period(period):
    acf = onset_autocorrelation(click_mels([period]), max_lag=40)[0]
    assert int(acf[5:].argmax()) + 6 == period  # lags are 1-based; skip the shortest lags


def test_ignores_loudness_and_log_scale_but_not_rhythm():
    mels = click_mels([12, 12])
    base = onset_autocorrelation(mels)
    assert torch.allclose(onset_autocorrelation(3.0 * mels - 40.0), base, atol=1e-4)  # dB vs log1p10, gain
    other = onset_autocorrelation(click_mels([19]))
    assert not torch.allclose(other[0], base[0], atol=0.1)


def test_silence_gives_zeros_and_short_crops_fail():
    acf = onset_autocorrelation(torch.zeros(2, 8, 129))
    assert torch.equal(acf, torch.zeros(2, 96))
    with pytest.raises(ParameterError, match="too short"):
        onset_autocorrelation(torch.zeros(1, 8, 90))
    with pytest.raises(ParameterError, match="shape"):
        onset_autocorrelation(torch.zeros(8, 129))
    with pytest.raises(ParameterError, match="n_frames=64"):  # caught when the model is built
        LeeModel({"width": 0.0625, "rhythm": True, "n_frames": 64})


def test_branch_learns_to_separate_tempi():
    """Triplets by period: after a few steps same-period crops are closer than other-period ones."""
    torch.manual_seed(0)
    periods = np.array([10, 13, 17, 22])
    branch = RhythmBranch(16)
    optimizer = torch.optim.Adam(branch.parameters(), lr=1e-2)
    rng = np.random.default_rng(1)

    def triplet_accuracy(model, seed: int) -> float:
        model.eval()
        labels = np.repeat(periods, 8)
        with torch.no_grad():
            emb = F.normalize(model(click_mels(labels, seed=seed)), dim=1)
        dist = torch.cdist(emb, emb).numpy()
        same = labels[:, None] == labels[None, :]
        hits = [dist[a, p] < dist[a, n] for a in range(len(labels)) for p in np.flatnonzero(same[a]) if p != a
                for n in np.flatnonzero(~same[a])]
        model.train()
        return float(np.mean(hits))

    for step in range(60):
        labels = rng.choice(periods, 32)
        emb = F.normalize(branch(click_mels(labels, seed=100 + step)), dim=1)
        same = torch.as_tensor(labels[:, None] == labels[None, :])
        dist = torch.cdist(emb, emb)
        valid = same[:, :, None] & ~same[:, None, :] & ~torch.eye(32, dtype=torch.bool)[:, :, None]
        loss = torch.relu(dist[:, :, None] - dist[:, None, :] + 0.2)[valid].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert triplet_accuracy(branch, seed=999) >= 0.95


@pytest.mark.parametrize("make, frames", [
    (lambda rhythm: LeeModel({"width": 0.0625, "rhythm": rhythm}), 129),
    (lambda rhythm: WonModel({"width": 0.0625, "word_dim": 50, "rhythm": rhythm}), 173),
    (lambda rhythm: MweModel({"word_dim": 50, "width": 0.125, "rhythm": rhythm}), 130),
])
def test_models_add_the_branch_only_when_asked(make, frames):
    plain, with_rhythm = make(False), make(True)
    assert not any(k.startswith("rhythm.") for k in plain.state_dict())  # the papers' networks, unchanged
    assert any(k.startswith("rhythm.") for k in with_rhythm.state_dict())
    out = with_rhythm.eval().encode_audio(torch.randn(3, 128, frames))
    assert out.shape == (3, with_rhythm.dim) and torch.isfinite(out).all()


def test_rhythm_checkpoints_round_trip_and_mismatch_fails(tmp_path):
    class Ws:
        models_dir = tmp_path / "models"
        words_dir = tmp_path / "words"

    model = LeeModel({"width": 0.0625, "rhythm": True}).eval()
    save_checkpoint(Ws.models_dir / "r", model, {"train": {}}, {})
    loaded = load_model(Ws, "r")
    x = click_mels([11, 15, 19, 23], frames=129, n_mels=128)
    assert loaded.config["rhythm"] is True
    assert torch.allclose(loaded.encode_audio(x), model.encode_audio(x), atol=1e-6)
    # weights of a rhythm model under a config without the branch: a clear error, not a silent drop
    plain = LeeModel({"width": 0.0625, "rhythm": False})
    save_checkpoint(Ws.models_dir / "p", plain, {"train": {}}, {})
    torch.save(model.state_dict(), Ws.models_dir / "p" / "model.pt")
    with pytest.raises(CheckpointError, match="rhythm"):
        load_model(Ws, "p")
