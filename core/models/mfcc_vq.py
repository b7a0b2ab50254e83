"""MFCC-VQ baseline (Lee et al. 2020, Table 1): bag of vector-quantised MFCC frames.

Each frame's 39-d MFCC vector (13 coefficients + deltas + delta-deltas, from the
cached mel) is standardised and assigned to its nearest K-means codeword; a track
is the histogram of codeword counts (K = 1024 in the paper).

The paper compares histograms by Euclidean distance. We L2-normalise each
histogram, so ``||a - b||^2 = 2 - 2 <a, b>``: ranking by Euclidean distance is
exactly ranking by inner product, and ``normalized = True`` lets the same
cosine-based indexes and metrics serve this model. The codebook and the
standardisation statistics are buffers, so the model saves like any other.

The model has no input window: a track's histogram counts every frame of the
track, in no order, so "the length the model saw" is the whole track
(``input_frames`` is None and the app plays whole clips).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import ParameterError
from .base import EmbeddingModel, ModelConfig

N_FEATURES = 39  # 13 MFCC + deltas + delta-deltas

@dataclass(frozen=True)
class MfccVqModelConfig(ModelConfig):
    """Every knob of the model (training knobs: :class:`core.training.config.MfccVqTrainConfig`)."""

    variant: str = "default"
    dim: int = 1024                     # codebook size K
    n_mfcc: int = 13

    def validate(self) -> None:
        if int(self.dim) < 2:
            raise ParameterError(f"codebook size must be at least 2, got {self.dim}")
        if int(self.n_mfcc) * 3 != N_FEATURES:
            raise ParameterError(f"the baseline uses 13 MFCCs (+ deltas), got n_mfcc={self.n_mfcc}")


class MfccVqModel(EmbeddingModel):
    """Codebook histogram model, built from a :class:`MfccVqModelConfig`; ``dim`` is the codebook size K."""

    family = "mfcc_vq"
    config_class = MfccVqModelConfig
    normalized = True
    has_text = False

    def __init__(self, config: MfccVqModelConfig | dict):
        super().__init__(config)
        self.register_buffer("codebook", torch.zeros(self.dim, N_FEATURES))
        self.register_buffer("feature_mean", torch.zeros(N_FEATURES))
        self.register_buffer("feature_std", torch.ones(N_FEATURES))

    def set_codebook(self, codebook: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
        """Install a fitted codebook ``(K, 39)`` in standardised units and the standardisation stats."""
        codebook = torch.as_tensor(np.asarray(codebook, dtype=np.float32))
        if tuple(codebook.shape) != tuple(self.codebook.shape):
            raise ParameterError(f"codebook shape {tuple(codebook.shape)} != {tuple(self.codebook.shape)}")
        self.codebook.copy_(codebook)
        self.feature_mean.copy_(torch.as_tensor(np.asarray(mean, dtype=np.float32)))
        self.feature_std.copy_(torch.as_tensor(np.maximum(np.asarray(std, dtype=np.float32), 1e-6)))

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """All MFCC frames of a track as one bag: ``(1, frames, 39)``."""
        from ..audio import mfcc_from_mel

        mfcc = np.asarray(mfcc_from_mel(mel, n_mfcc=int(self.cfg.n_mfcc)), dtype=np.float32)
        return torch.as_tensor(mfcc.T[None].copy())

    def quantize(self, frames: torch.Tensor) -> torch.Tensor:
        """Nearest-codeword index of each ``(..., 39)`` frame."""
        z = (frames - self.feature_mean) / self.feature_std
        flat = z.reshape(-1, N_FEATURES)
        return torch.cdist(flat, self.codebook).argmin(dim=1).reshape(z.shape[:-1])

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        """``(n, frames, 39)`` bags -> ``(n, K)`` L2-normalised codeword histograms."""
        codes = self.quantize(inputs.float())
        counts = F.one_hot(codes, self.dim).sum(dim=1).float()
        return F.normalize(counts, dim=1)
