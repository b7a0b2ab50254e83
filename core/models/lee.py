"""Lee et al. 2020, "Disentangled multidimensional metric learning for music similarity".

An Inception-style CNN (our own code, built from the paper's description) maps a
3 s log-mel excerpt (128 mels x 129 frames, ``log10(1 + 10 S)`` z-scored with
mean 0.2 and std 0.25) to a 256-d L2-normalised embedding:

    5x5 conv (64) -> 2x2 max-pool
    6 x [naive inception, stride 2 -> inception]
    1x1 conv -> 256, ReLU, global average pool, L2 normalisation

The **disentangled** variants split the embedding with four fixed disjoint masks
(genre 0:64, mood 64:128, instrument 128:192, tempo 192:256); the **category**
variant is trained on the same triplets without masks and has one ``"all"`` space.
The **specialised** variant is the paper's "set of specialized networks" baseline:
four separate networks of the same architecture, one per dimension, each ending in
its 64-d subspace and L2-normalised on its own, concatenated into one model with
the same four named subspaces (so the four parts have unit length and the whole
vector length 2; comparisons normalise it). A masked triplet loss of one dimension
reaches only that dimension's network, so training on category triplets trains
each network on its own dimension's triplets only.
A whole track is the mean embedding of its non-overlapping 3 s windows.
With ``rhythm`` on, the onset-autocorrelation branch of :mod:`core.models.rhythm`
is added to the pooled output before normalisation (the ``*-rhythm`` presets; not the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ParameterError
from .base import EmbeddingModel, ModelConfig
from .rhythm import RhythmBranch

DIMENSIONS = ("genre", "mood", "instrument", "tempo")
VARIANTS = ("disentangled", "disentangled-trackreg", "category", "specialised")
STEM_CHANNELS = 64
#: Per-branch channels of the six stages at width 1.0 (each inception block outputs 4x this).
STAGE_CHANNELS = (32, 48, 64, 96, 128, 128)

@dataclass(frozen=True)
class LeeModelConfig(ModelConfig):
    """Every knob of the model (training knobs: :class:`core.training.config.LeeTrainConfig`)."""

    variant: str = "disentangled"
    dim: int = 256
    width: float = 1.0                  # channel multiplier; 1.0 is the full network
    masks: bool = True                  # fixed disjoint masks (False: the non-disentangled category model)
    specialised: bool = False           # one network per dimension (the paper's baseline); needs masks
    n_frames: int = 129                 # 3 s at 22,050 Hz / hop 512
    mean: float = 0.2                   # fixed z-score of the log1p10 mel
    std: float = 0.25
    rhythm: bool = False                # add the onset-autocorrelation branch (core.models.rhythm); not in the paper

    def validate(self) -> None:
        if self.masks and int(self.dim) % len(DIMENSIONS):
            raise ParameterError(f"dim {self.dim} must split into {len(DIMENSIONS)} equal subspaces")
        if self.specialised and not self.masks:
            raise ParameterError("specialised networks are one per dimension: they need masks=True")
        if not 0 < float(self.width) <= 4:
            raise ParameterError(f"width must be in (0, 4], got {self.width}")


class ConvBN(nn.Sequential):
    """Conv -> BN -> ReLU with "same" padding."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int = 1):
        super().__init__(nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class NaiveInception(nn.Module):
    """Naive inception with stride 2: parallel 1x1, 3x3, 5x5 convs and a 3x3 max-pool, concatenated.

    Output channels: ``3 * c + c_in`` (the pooling branch keeps its input channels).
    """

    def __init__(self, c_in: int, c: int):
        super().__init__()
        self.b1, self.b3, self.b5 = ConvBN(c_in, c, 1, 2), ConvBN(c_in, c, 3, 2), ConvBN(c_in, c, 5, 2)
        self.pool = nn.MaxPool2d(3, stride=2, padding=1)
        self.out_channels = 3 * c + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.pool(x)], dim=1)


class Inception(nn.Module):
    """Inception with 1x1 reductions: 1x1 | 1x1->3x3 | 1x1->5x5 | pool->1x1; output ``4 * c`` channels."""

    def __init__(self, c_in: int, c: int):
        super().__init__()
        r = max(4, c // 2)
        self.b1 = ConvBN(c_in, c, 1)
        self.b3 = nn.Sequential(ConvBN(c_in, r, 1), ConvBN(r, c, 3))
        self.b5 = nn.Sequential(ConvBN(c_in, r, 1), ConvBN(r, c, 5))
        self.bp = nn.Sequential(nn.MaxPool2d(3, stride=1, padding=1), ConvBN(c_in, c, 1))
        self.out_channels = 4 * c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class LeeModel(EmbeddingModel):
    """Disentangled, category or specialised similarity network, built from a :class:`LeeModelConfig`."""

    family = "lee"
    config_class = LeeModelConfig
    normalized = True
    has_text = False

    def __init__(self, config: LeeModelConfig | dict):
        super().__init__(config)
        cfg = self.cfg
        if cfg.specialised:
            self.networks = nn.ModuleList()
            for _ in DIMENSIONS:
                network = nn.Module()
                _build_network(network, cfg, int(cfg.dim) // len(DIMENSIONS))
                self.networks.append(network)
        else:
            _build_network(self, cfg, int(cfg.dim))
        # fixed 0/1 masks, one row per dimension; not learned and not saved
        self.register_buffer("mask_matrix", self._masks(), persistent=False)

    def _masks(self) -> torch.Tensor:
        masks = torch.zeros(len(DIMENSIONS), self.dim)
        for i, sl in enumerate(self.subspaces().values()):
            masks[i, sl] = 1.0
        return masks if self.cfg.masks else torch.ones(len(DIMENSIONS), self.dim)

    def subspaces(self) -> dict[str, slice]:
        if not self.cfg.masks:
            return {"all": slice(0, self.dim)}
        size = self.dim // len(DIMENSIONS)
        return {name: slice(i * size, (i + 1) * size) for i, name in enumerate(DIMENSIONS)}

    def masks(self, dimensions: torch.Tensor) -> torch.Tensor:
        """Mask rows for a batch of dimension indices (into :data:`DIMENSIONS`); all ones without masks."""
        return self.mask_matrix[dimensions]

    # ---------------------------------------------------- EmbeddingModel API
    @property
    def input_frames(self) -> int:
        """The window length (129 frames, 3 s)."""
        return int(self.cfg.n_frames)

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """Non-overlapping 3 s windows of a ``log1p10`` mel, z-scored: ``(n, 128, 129)``."""
        from ..audio import windows

        crops = np.asarray(windows(mel, int(self.cfg.n_frames)), dtype=np.float32)
        return torch.as_tensor(self.standardize(crops))

    def standardize(self, mel: np.ndarray) -> np.ndarray:
        """The paper's fixed z-score of ``log1p10`` mels."""
        return (mel - float(self.cfg.mean)) / float(self.cfg.std)

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.cfg.specialised:  # each network's part normalised on its own
            return torch.cat([F.normalize(_run_network(n, inputs), dim=1) for n in self.networks], dim=1)
        return F.normalize(_run_network(self, inputs), dim=1)


def _build_network(module: nn.Module, cfg: LeeModelConfig, out_dim: int) -> None:
    """Give ``module`` the layers of one network (``stem``, ``stages``, ``head``, ``rhythm``)."""
    width = float(cfg.width)
    stem = max(8, round(STEM_CHANNELS * width))
    module.stem = nn.Sequential(ConvBN(1, stem, 5), nn.MaxPool2d(2))
    stages, c_in = [], stem
    for c in STAGE_CHANNELS:
        c = max(4, round(c * width))
        naive = NaiveInception(c_in, c)
        block = Inception(naive.out_channels, c)
        stages += [naive, block]
        c_in = block.out_channels
    module.stages = nn.Sequential(*stages)
    module.head = nn.Conv2d(c_in, out_dim, 1)
    module.rhythm = RhythmBranch(out_dim, n_frames=int(cfg.n_frames)) if cfg.rhythm else None


def _run_network(module: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
    """One network's pooled output ``(B, out_dim)`` before normalisation."""
    out = module.stages(module.stem(inputs.unsqueeze(1)))
    out = F.relu(module.head(out)).mean(dim=(2, 3))
    return out if module.rhythm is None else out + module.rhythm(inputs)
