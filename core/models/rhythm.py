"""An optional rhythm branch for the audio encoders: onset autocorrelation -> MLP.

Small CNNs trained on a CPU budget do not find tempo in a 3-4 s mel crop (on the
default demo the paper-width-scaled networks stay at chance on tempo triplets and
tempo tags; see the README). Tempo is a periodicity, which a tempogram makes
explicit, as in tempo estimators (Grosche & Mueller's autocorrelation tempogram,
librosa's ``tempogram``). This branch computes one from the encoder's own input
crop, with no learned parameters:

1. onset strength: half-wave rectified first difference over time of the
   (log-scaled) mel crop, averaged over mel bands, mean removed (spectral flux);
2. its autocorrelation at lags ``1 .. max_lag`` frames, divided by the lag-0 value
   (so the branch ignores loudness and the input's log scale);

and a learned MLP (Linear -> BatchNorm -> ReLU -> Linear) maps the ``max_lag``
autocorrelation values into the encoder's output space, where they are *added*
to the CNN's pooled output. With the branch off (every family's default, the
papers' networks) nothing changes; the ``*-rhythm`` presets switch it on and record
it in the checkpoint config as ``rhythm: true``.

At 22,050 Hz and hop 512 a frame is 23.2 ms, so 96 lags reach 2.23 s (27 bpm):
one beat at the slowest common tempi, two at 60 bpm.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ParameterError

MAX_LAG = 96
HIDDEN = 128


def check_crop_length(n_frames: int, max_lag: int = MAX_LAG) -> None:
    """Raise :class:`ParameterError` unless an ``n_frames`` crop is long enough for ``max_lag`` lags."""
    if n_frames < max_lag + 2:
        raise ParameterError(f"a {n_frames}-frame crop is too short for {max_lag} autocorrelation lags of the "
                             f"rhythm branch (n_frames={n_frames}; needs >= {max_lag + 2}): turn rhythm off "
                             "or use longer crops")


def onset_autocorrelation(mel: torch.Tensor, max_lag: int = MAX_LAG) -> torch.Tensor:
    """Normalised autocorrelation of the spectral-flux onset envelope of mel crops.

    Parameters
    ----------
    mel : Tensor, shape (B, n_mels, frames)
        Log-scaled mel crops (any affine scale: dB, ``log10(1 + 10 S)``, z-scored).
    max_lag : int
        Largest lag in frames; the crop needs at least ``max_lag + 2`` frames.

    Returns
    -------
    Tensor, shape (B, max_lag), float32
        ``r[k] / r[0]`` for ``k = 1 .. max_lag``; zeros for a crop without onsets.
    """
    if mel.ndim != 3:
        raise ParameterError(f"expected mel crops of shape (batch, mels, frames), got {tuple(mel.shape)}")
    check_crop_length(mel.shape[-1], max_lag)
    flux = torch.relu(mel.float().diff(dim=-1)).mean(dim=1)        # (B, frames - 1)
    flux = flux - flux.mean(dim=-1, keepdim=True)
    n = flux.shape[-1]
    spectrum = torch.fft.rfft(flux, n=2 * n)                        # zero padding: linear, not circular
    acf = torch.fft.irfft(spectrum.real ** 2 + spectrum.imag ** 2, n=2 * n)[:, :max_lag + 1]
    energy = acf[:, :1]
    return torch.where(energy > 1e-8, acf[:, 1:] / energy.clamp_min(1e-8), torch.zeros_like(acf[:, 1:]))


class RhythmBranch(nn.Module):
    """Onset autocorrelation (fixed) -> ``Linear -> BN -> ReLU -> Linear`` to ``out_dim`` (learned).

    ``n_frames``, when given, is the encoder's crop length, checked here so that a
    too-short crop fails when the model is built rather than on its first batch.
    """

    def __init__(self, out_dim: int, max_lag: int = MAX_LAG, hidden: int = HIDDEN, n_frames: int | None = None):
        super().__init__()
        if out_dim < 1 or max_lag < 1 or hidden < 1:
            raise ParameterError("rhythm branch sizes must be >= 1")
        if n_frames is not None:
            check_crop_length(n_frames, max_lag)
        self.max_lag = int(max_lag)
        self.fc1, self.bn1, self.fc2 = nn.Linear(max_lag, hidden), nn.BatchNorm1d(hidden), nn.Linear(hidden, out_dim)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, frames)`` crops -> ``(B, out_dim)``."""
        acf = onset_autocorrelation(mel, self.max_lag).to(self.fc1.weight.dtype)
        return self.fc2(torch.relu(self.bn1(self.fc1(acf))))
