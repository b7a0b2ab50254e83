"""Muslse (Weston, Bengio & Hamel 2011): tags, artists and songs in one d-dimensional space.

* a tag ``i`` is a learned vector ``T_i``, an artist ``j`` a learned vector ``A_j``;
* a song is mapped linearly from its audio features: ``Phi(s) = V s``, where ``s``
  is (``frontend="bof"``, the paper) the histogram of its MFCC frames over a
  K-means codebook (the front end of :mod:`core.models.mfcc_vq`), L2-normalised
  so long and short tracks compare, or (``frontend`` = a family name, e.g.
  ``won``) the frozen embedding of a trained CNN, averaged over its crops;
* every score is a plain inner product (``normalized = False``): tag prediction
  ``T_i . V s``, artist prediction ``A_j . V s``, similar songs ``V s . V s'``;
* norms are constrained instead, ``||T_i||, ||A_j||, ||V_k|| <= C`` (``V_k`` the
  vector of input feature ``k``), by projection after each optimiser step.

An **ensemble** of ``members`` models (the paper trains three 100-d models for
d = 300 and sums their scores) is held in one module: every parameter has a
leading member axis, and a member's vectors are concatenated, so one inner
product of concatenated vectors *is* the sum of the members' scores. Members
start from different random draws and get separate losses in training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError, VocabularyError
from .base import EmbeddingModel, ModelConfig
from .mfcc_vq import MfccVqModel

#: Prefix marking artist ids among the text vocabulary (tags are plain).
ARTIST_PREFIX = "artist:"


@dataclass(frozen=True)
class MuslseModelConfig(ModelConfig):
    """Every knob of the model (training knobs: :class:`core.training.config.MuslseTrainConfig`)."""

    n_tags: int
    n_artists: int
    n_features: int = 512       # input size: codebook size K (the paper: 2,000) or the CNN's dim
    frontend: str = "bof"       # bof (MFCC codebook histogram) or the family of a frozen CNN (won, lee, mwe)
    frontend_config: dict | None = None  # the CNN's model config (it is rebuilt inside this model)
    dim: int = 100              # joint-space dimension, summed over ensemble members
    members: int = 1            # ensemble size; each member has dim // members dimensions
    max_norm: float = 1.0       # C of the norm constraints
    variant: str = "warp"       # what was trained: loss and tasks (core.training.config.MuslseTrainConfig.variant)

    def validate(self) -> None:
        for name in ("n_tags", "n_artists", "n_features", "dim", "members"):
            if int(getattr(self, name)) < 1:
                raise ParameterError(f"muslse {name} must be >= 1, got {getattr(self, name)}")
        if self.dim % self.members:
            raise ParameterError(f"muslse dim {self.dim} is not divisible by members={self.members}")
        if self.max_norm <= 0:
            raise ParameterError(f"muslse max_norm must be > 0, got {self.max_norm}")
        if (self.frontend == "bof") != (self.frontend_config is None):
            raise ParameterError("a muslse CNN frontend needs its frontend_config, and bof takes none")


class MuslseModel(EmbeddingModel):
    """Linear joint embedding of audio features, tags and artists, built from a :class:`MuslseModelConfig`.

    ``vocab`` (``{"tags": [...], "artists": [...]}``, the row order of the tag and
    artist tables) is set by the trainer and by :func:`core.models.checkpoint.load_model`.
    """

    family = "muslse"
    config_class = MuslseModelConfig
    normalized = False
    has_text = True

    def __init__(self, config: MuslseModelConfig | dict):
        super().__init__(config)
        cfg = self.cfg
        E, m = cfg.members, cfg.dim // cfg.members
        # the paper's initialisation: mean 0, standard deviation 1/sqrt(d)
        self.tags = nn.Parameter(torch.randn(E, cfg.n_tags, m) / m ** 0.5)
        self.artists = nn.Parameter(torch.randn(E, cfg.n_artists, m) / m ** 0.5)
        self.song = nn.Parameter(torch.randn(E, cfg.n_features, m) / m ** 0.5)  # V, one row per input feature
        if cfg.frontend == "bof":  # the MFCC-VQ baseline's codebook
            self.frontend = MfccVqModel({"dim": cfg.n_features})
        else:
            from ..families import model_class

            self.frontend = model_class(cfg.frontend)(cfg.frontend_config)
            if self.frontend.dim != cfg.n_features:
                raise ParameterError(f"the {cfg.frontend} frontend gives {self.frontend.dim}-d vectors, "
                                     f"not n_features={cfg.n_features}")
        self.frontend.requires_grad_(False)  # fixed features: only T, A and V are learned
        self.vocab: dict = {}

    def train(self, mode: bool = True) -> "MuslseModel":
        super().train(mode)
        self.frontend.eval()  # a frozen CNN keeps its BatchNorm statistics
        return self

    # ------------------------------------------------------------- features
    def set_codebook(self, centroids: np.ndarray, mean: np.ndarray, std: np.ndarray) -> None:
        """Install the K-means codebook ``(n_features, 39)`` (standardised units) and its statistics."""
        if self.cfg.frontend != "bof":
            raise ParameterError(f"this muslse model reads {self.cfg.frontend} embeddings, not a codebook")
        self.frontend.set_codebook(centroids, mean, std)

    @property
    def input_frames(self) -> int | None:
        """The frontend's: None for codebook histograms (the whole track is one bag), a CNN's crop length."""
        return self.frontend.input_frames

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """The frontend's inputs: one bag of MFCC frames ``(1, frames, 39)``, or the CNN's crops."""
        return self.frontend.track_inputs(mel)

    def features(self, inputs: torch.Tensor) -> torch.Tensor:
        """Input features ``(n, n_features)`` of frontend inputs.

        L2-normalised codebook histograms, or the CNN's embeddings (L2-normalised
        when the CNN compares by cosine).
        """
        with torch.no_grad():
            out = self.frontend.encode_audio(inputs).float()
        return nn.functional.normalize(out, dim=1) if self.frontend.normalized else out

    def track_features(self, mel: np.ndarray) -> torch.Tensor:
        """One track's features ``(n_features,)``: the mean over its inputs (``V`` is linear, so
        ``V`` of the mean is the mean song vector that :meth:`encode_track` returns)."""
        device = self.song.device
        return self.features(self.track_inputs(mel).to(device)).mean(dim=0)

    # ---------------------------------------------------------------- embed
    def member_audio(self, features: torch.Tensor) -> torch.Tensor:
        """Per-member song vectors ``(members, n, dim // members)`` from features ``(n, n_features)``."""
        if features.ndim != 2 or features.shape[1] != self.cfg.n_features:
            raise ParameterError(f"muslse expects features of shape (n, {self.cfg.n_features}), "
                                 f"got {tuple(features.shape)}")
        return torch.einsum("nk,ekm->enm", features.to(self.song.dtype), self.song)

    @staticmethod
    def concat(member_vectors: torch.Tensor) -> torch.Tensor:
        """``(members, n, m)`` -> ``(n, members * m)``: inner products of the result sum over members."""
        E, n, m = member_vectors.shape
        return member_vectors.permute(1, 0, 2).reshape(n, E * m)

    def embed_features(self, features: torch.Tensor) -> torch.Tensor:
        """Features ``(n, n_features)`` -> song vectors ``(n, dim)``."""
        return self.concat(self.member_audio(features))

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        """Frontend inputs (bags of MFCC frames, or crops) -> ``(n, dim)``."""
        return self.embed_features(self.features(inputs))

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

    The models must share vocabulary, frontend (codebook or CNN weights),
    per-member dimension and norm bound (e.g. one preset trained with several seeds).
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
        mine, theirs = first.frontend.state_dict(), other.frontend.state_dict()
        if mine.keys() != theirs.keys() or not all(torch.equal(mine[k], theirs[k]) for k in mine):
            raise ParameterError("ensemble members must share the same frontend (codebook or CNN weights)")
    variants = sorted({model.variant for model in models})
    config = dict(first.config, members=sum(x.cfg.members for x in models), variant="+".join(variants))
    config["dim"] = config["members"] * m
    out = MuslseModel(config)
    with torch.no_grad():
        for name in ("tags", "artists", "song"):
            getattr(out, name).copy_(torch.cat([getattr(x, name) for x in models]))
        out.frontend.load_state_dict(first.frontend.state_dict())
    out.vocab = dict(first.vocab)
    return out.to(first.song.device)


__all__ = ["ARTIST_PREFIX", "MuslseModel", "MuslseModelConfig", "ensemble"]
