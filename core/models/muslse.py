"""Muslse (Weston, Bengio & Hamel 2011): tags, artists and songs in one d-dimensional space.

* a tag ``i`` is a learned vector ``T_i``, an artist ``j`` a learned vector ``A_j``;
* a song is mapped linearly from its bag-of-frames features: ``Phi(s) = V s``, where
  ``s`` is the histogram of its MFCC frames over a K-means codebook (the front end
  of :mod:`core.models.mfcc_vq`), L2-normalised so long and short tracks compare;
* every score is a plain inner product (``normalized = False``): tag prediction
  ``T_i . V s``, artist prediction ``A_j . V s``, similar songs ``V s . V s'``;
* norms are constrained instead, ``||T_i||, ||A_j||, ||V_k|| <= C`` (``V_k`` the
  vector of codebook word ``k``), by projection after each optimiser step.

An **ensemble** of ``members`` models (the paper trains three 100-d models for
d = 300 and sums their scores) is held in one module: every parameter has a
leading member axis, and a member's vectors are concatenated, so one inner
product of concatenated vectors *is* the sum of the members' scores. Members
start from different random draws and get separate losses in training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError, VocabularyError
from .base import EmbeddingModel
from .mfcc_vq import MfccVqModel

#: Prefix marking artist ids among the text vocabulary (tags are plain).
ARTIST_PREFIX = "artist:"


@dataclass
class MuslseConfig:
    """Every knob of the model (training knobs live in ``core.training.muslse_trainer``)."""

    n_tags: int
    n_artists: int
    n_features: int = 512       # codebook size K (the paper: 2,000)
    dim: int = 100              # joint-space dimension, summed over ensemble members
    members: int = 1            # ensemble size; each member has dim // members dimensions
    max_norm: float = 1.0       # C of the norm constraints
    variant: str = "warp"       # the training loss: warp or auc

    def __post_init__(self) -> None:
        for name in ("n_tags", "n_artists", "n_features", "dim", "members"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"muslse {name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.members:
            raise ParameterError(f"muslse dim {self.dim} is not divisible by members={self.members}")
        if self.max_norm <= 0:
            raise ParameterError(f"muslse max_norm must be > 0, got {self.max_norm}")


class MuslseModel(EmbeddingModel):
    """Linear joint embedding of bag-of-frames audio, tags and artists. See the module docstring.

    ``vocab`` (``{"tags": [...], "artists": [...]}``, the row order of the tag and
    artist tables) is set by the trainer and by :func:`core.models.checkpoint.load_model`.
    """

    family = "muslse"
    normalized = False
    has_text = True

    def __init__(self, config: dict):
        cfg = MuslseConfig(**config)
        super().__init__(asdict(cfg))
        self.cfg = cfg
        E, m = cfg.members, cfg.dim // cfg.members
        # the paper's initialisation: mean 0, standard deviation 1/sqrt(d)
        self.tags = nn.Parameter(torch.randn(E, cfg.n_tags, m) / m ** 0.5)
        self.artists = nn.Parameter(torch.randn(E, cfg.n_artists, m) / m ** 0.5)
        self.song = nn.Parameter(torch.randn(E, cfg.n_features, m) / m ** 0.5)  # V, one row per codebook word
        # the bag-of-frames front end is the MFCC-VQ baseline's codebook, frozen
        self.bof = MfccVqModel({"dim": cfg.n_features})
        self.vocab: dict = {}

    # ------------------------------------------------------------- features
    def set_codebook(self, centroids: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
        """Install the K-means codebook ``(n_features, 39)`` (standardised units) and its statistics."""
        self.bof.set_codebook(centroids, mean, std)

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """All MFCC frames of a track as one bag, ``(1, frames, 39)`` (see :mod:`core.models.mfcc_vq`)."""
        return self.bof.track_inputs(mel)

    def histograms(self, inputs: torch.Tensor) -> torch.Tensor:
        """L2-normalised codebook histograms ``(n, n_features)`` of bags ``(n, frames, 39)``."""
        return self.bof.encode_audio(inputs)

    # ---------------------------------------------------------------- embed
    def member_audio(self, hist: torch.Tensor) -> torch.Tensor:
        """Per-member song vectors ``(members, n, dim // members)`` from histograms ``(n, n_features)``."""
        if hist.ndim != 2 or hist.shape[1] != self.cfg.n_features:
            raise ParameterError(f"muslse expects histograms of shape (n, {self.cfg.n_features}), "
                                 f"got {tuple(hist.shape)}")
        return torch.einsum("nk,ekm->enm", hist.to(self.song.dtype), self.song)

    @staticmethod
    def concat(member_vectors: torch.Tensor) -> torch.Tensor:
        """``(members, n, m)`` -> ``(n, members * m)``: inner products of the result sum over members."""
        E, n, m = member_vectors.shape
        return member_vectors.permute(1, 0, 2).reshape(n, E * m)

    def embed_histograms(self, hist: torch.Tensor) -> torch.Tensor:
        """Histograms ``(n, n_features)`` -> song vectors ``(n, dim)``."""
        return self.concat(self.member_audio(hist))

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        """Bags of MFCC frames ``(n, frames, 39)`` -> ``(n, dim)``."""
        return self.embed_histograms(self.histograms(inputs))

    def tag_vectors(self) -> torch.Tensor:
        """All tag vectors ``(n_tags, dim)``, rows in ``vocab["tags"]`` order."""
        return self.concat(self.tags)

    def artist_vectors(self) -> torch.Tensor:
        """All artist vectors ``(n_artists, dim)``, rows in ``vocab["artists"]`` order."""
        return self.concat(self.artists)

    @torch.no_grad()
    def project_norms(self) -> None:
        """Enforce ``||row|| <= max_norm`` on tag, artist and codebook-word vectors (after each step)."""
        for table in (self.tags, self.artists, self.song):
            norms = table.norm(dim=-1, keepdim=True)
            table.mul_(torch.clamp(self.cfg.max_norm / norms.clamp(min=1e-12), max=1.0))

    # ----------------------------------------------------------------- text
    def text_vocabulary(self) -> list[str]:
        """Tags, then artist ids marked ``artist:<id>``."""
        return list(self.vocab.get("tags", [])) + [ARTIST_PREFIX + a for a in self.vocab.get("artists", [])]

    def encode_terms(self, terms: list[str], words=None) -> torch.Tensor:
        """Vectors of known tags and ``artist:<id>`` terms, ``(n, dim)``.

        ``words`` is ignored: Muslse learns a table per tag and artist and has no
        word-vector side, so it cannot encode an unseen word.
        """
        tag_index = {t: i for i, t in enumerate(self.vocab.get("tags", []))}
        artist_index = {a: i for i, a in enumerate(self.vocab.get("artists", []))}
        unknown = [t for t in terms if t not in tag_index
                   and not (t.startswith(ARTIST_PREFIX) and t[len(ARTIST_PREFIX):] in artist_index)]
        if unknown:
            raise VocabularyError(f"muslse knows only its training tags and artists ('{ARTIST_PREFIX}<id>'); "
                                  f"unknown: {unknown[:5]}")
        tags, artists = self.tag_vectors(), self.artist_vectors()
        rows = [tags[tag_index[t]] if t in tag_index else artists[artist_index[t[len(ARTIST_PREFIX):]]]
                for t in terms]
        return torch.stack(rows) if rows else tags.new_zeros(0, self.dim)


def ensemble(models: list[MuslseModel]) -> MuslseModel:
    """One model whose scores are the sum of the scores of ``models`` (the paper's ensembles).

    The models must share vocabulary, codebook, per-member dimension and norm
    bound (e.g. the same preset trained with different seeds).
    """
    if len(models) < 2:
        raise ParameterError("an ensemble needs at least two muslse models")
    first = models[0]
    m = first.cfg.dim // first.cfg.members
    for other in models[1:]:
        if other.vocab != first.vocab:
            raise ParameterError("ensemble members must share the same tag and artist vocabulary")
        if other.cfg.dim // other.cfg.members != m or other.cfg.n_features != first.cfg.n_features \
                or other.cfg.max_norm != first.cfg.max_norm:
            raise ParameterError("ensemble members must share per-member dim, codebook size and max_norm")
        if not torch.equal(other.bof.codebook, first.bof.codebook):
            raise ParameterError("ensemble members must share the same codebook (train them on one workspace)")
    variants = sorted({model.variant for model in models})
    config = dict(first.config, members=sum(x.cfg.members for x in models), variant="+".join(variants))
    config["dim"] = config["members"] * m
    out = MuslseModel(config)
    with torch.no_grad():
        for name in ("tags", "artists", "song"):
            getattr(out, name).copy_(torch.cat([getattr(x, name) for x in models]))
        out.bof.load_state_dict(first.bof.state_dict())
    out.vocab = dict(first.vocab)
    return out.to(first.song.device)


__all__ = ["ARTIST_PREFIX", "MuslseConfig", "MuslseModel", "ensemble"]
