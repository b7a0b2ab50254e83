"""The interface every model family implements, and the base of its config.

The rest of Tagspace (training, evaluation, the engine, the app) talks to models
only through :class:`EmbeddingModel`, so no page or query special-cases a family.

A model maps

* **audio** to the joint space: ``track_inputs(mel)`` turns one track's cached
  log-mel spectrogram into the model's input batch (e.g. 8 evaluation crops, or
  one bag-of-frames histogram), ``encode_audio(batch)`` maps a batch to
  ``(n, dim)`` vectors, and ``encode_track(mel)`` is their mean;
* **text** to the same space, where the model has a text side: ``encode_terms``
  for words/tags (through a word embedding for Won et al. and MWE, through a
  learned table for Muslse), ``encode_word_vectors`` for raw word vectors
  (zero-shot words);
* and names its **subspaces**: ``{"genre": slice(0, 64), ...}`` for the
  disentangled model, ``{"all": slice(0, dim)}`` otherwise;
* and says how long one audio input is (``input_frames``, ``input_seconds``):
  the app plays excerpts of that length ("the length the model saw").

What the app needs to know about a model is a property, never a config key:
``input_frames``/``input_seconds``, ``subspaces()``, ``capabilities`` (a subset of
:data:`CAPABILITIES`), ``normalized``, ``dim``, ``variant``.

Each family's knobs are a frozen :class:`ModelConfig` dataclass in its model file
(``WonModelConfig`` ...), named by the model's ``config_class``; ``model.cfg`` is that
dataclass and ``model.config`` its dict (``config.json`` ``model``). A model is built
from either.

Scores between vectors are inner products after L2 normalisation when
``normalized`` is True (cosine: Won, Lee, MWE) and raw inner products otherwise
(Muslse, whose norms are constrained instead).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError

#: What a model can do, for pages and ``info``: ``audio`` (embeds audio on its own),
#: ``text`` (embeds tags/words), ``zero_shot`` (maps any word vector of its word
#: embedding, so words never seen in training), ``subspaces`` (several named subspaces).
CAPABILITIES = ("audio", "text", "zero_shot", "subspaces")


@dataclass(frozen=True)
class ModelConfig:
    """Base of every family's ``<Family>ModelConfig``: the knobs that rebuild a model.

    Subclasses are frozen dataclasses whose defaults are the paper's network and which
    check their values in :meth:`validate` (a :class:`~core.errors.ParameterError`).
    """

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~core.errors.ParameterError` for values the model cannot be built with."""

    @classmethod
    def from_dict(cls, values: dict):
        """Build from a dict (``config.json`` ``model``); unknown keys are an error, missing ones take defaults."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(known)}")
        try:
            return cls(**values)
        except TypeError as err:  # a required field is missing
            raise ParameterError(f"{cls.__name__}: {err}") from err

    @classmethod
    def coerce(cls, config):
        """``config`` itself if it is a ``cls``, else :meth:`from_dict` of it."""
        return config if isinstance(config, cls) else cls.from_dict(config)

    def to_dict(self) -> dict:
        return asdict(self)


class EmbeddingModel(nn.Module):
    """Base class of all model families. Subclasses set the class attributes."""

    #: family name used in checkpoints and the evaluation JSON (won, lee, mfcc_vq, muslse, mwe)
    family: ClassVar[str] = ""
    #: the family's ModelConfig subclass; without one (a minimal model, a test double)
    #: the config is kept as the given dict and ``cfg`` is None
    config_class: ClassVar[type[ModelConfig] | None] = None
    #: True if vectors are compared by cosine (L2-normalised inner product)
    normalized: ClassVar[bool] = True
    #: True if the model maps words/tags into the joint space
    has_text: ClassVar[bool] = False

    def __init__(self, config: ModelConfig | dict):
        super().__init__()
        self.cfg = self.config_class.coerce(config) if self.config_class is not None else None
        self.config = self.cfg.to_dict() if self.cfg is not None else dict(config)

    # ------------------------------------------------------------- identity
    @property
    def variant(self) -> str:
        return str(self.config.get("variant", "default"))

    @property
    def dim(self) -> int:
        return int(self.config["dim"])

    def subspaces(self) -> dict[str, slice]:
        """Named slices of the embedding; one ``"all"`` subspace unless disentangled."""
        return {"all": slice(0, self.dim)}

    @property
    def input_frames(self) -> int | None:
        """Mel frames of one audio input (a crop or window), or None when the whole track is one input.

        This is the length of audio the network hears at once, so the app plays
        excerpts of it. Bag-of-frames models (MFCC-VQ, Muslse on codebook
        histograms) count frames over the whole track with no order or window:
        they return None and the app plays the whole clip.
        """
        return None

    @property
    def encodes_audio(self) -> bool:
        """True if the model embeds audio on its own (``track_inputs`` + ``encode_audio``)."""
        return True

    @property
    def maps_word_vectors(self) -> bool:
        """True if the model maps raw word vectors (it implements :meth:`encode_word_vectors`)."""
        return self.has_text and type(self).encode_word_vectors is not EmbeddingModel.encode_word_vectors

    @property
    def capabilities(self) -> frozenset[str]:
        """What the model can do, a subset of :data:`CAPABILITIES` (pages and ``info`` ask this)."""
        has = {"audio": self.encodes_audio, "text": self.has_text, "zero_shot": self.maps_word_vectors,
               "subspaces": len(self.subspaces()) > 1}
        return frozenset(name for name in CAPABILITIES if has[name])

    @property
    def input_seconds(self) -> float | None:
        """:attr:`input_frames` in seconds (one frame per hop: frames x 512 / 22,050 Hz), or None."""
        from ..audio.io import SAMPLE_RATE
        from ..audio.mel import HOP_LENGTH

        frames = self.input_frames
        return None if frames is None else round(frames * HOP_LENGTH / SAMPLE_RATE, 3)

    # ---------------------------------------------------------------- audio
    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """Model input batch for one whole track from its log-mel ``(n_mels, frames)``."""
        raise NotImplementedError

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        """Map a batch of model inputs to ``(n, dim)`` embeddings."""
        raise NotImplementedError

    @torch.no_grad()
    def encode_track(self, mel: np.ndarray) -> np.ndarray:
        """Track embedding: mean of the embeddings of its evaluation inputs, ``(dim,)``."""
        was_training = self.training
        self.eval()
        try:
            device = next(self.parameters(), torch.zeros(0)).device
            vectors = self.encode_audio(self.track_inputs(mel).to(device))
            vector = vectors.mean(dim=0)
            if self.normalized:
                vector = nn.functional.normalize(vector, dim=0)
            return vector.float().cpu().numpy()
        finally:
            self.train(was_training)

    # ----------------------------------------------------------------- text
    def text_vocabulary(self) -> list[str]:
        """Terms (tags, artists, ...) the model encodes directly; empty without a text side."""
        return []

    def encode_terms(self, terms: list[str], words=None) -> torch.Tensor:
        """Map terms to ``(n, dim)``; ``words`` is the word embedding for zero-shot terms.

        Raises :class:`~core.errors.VocabularyError` naming any term it cannot encode.
        """
        raise ParameterError(f"the {self.family} model has no text side; it cannot encode words")

    def encode_word_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """Map raw word vectors ``(n, word_dim)`` to ``(n, dim)`` (zero-shot text side)."""
        raise ParameterError(f"the {self.family} model does not map word vectors")

    # ----------------------------------------------------------- utilities
    def weighted_query(self, vector: np.ndarray, weights: dict[str, float]) -> np.ndarray:
        """Scale each subspace of ``vector`` by its weight (Lee et al.'s post-hoc weighting).

        ``sum_s w_s <q_s, x_s> = <w * q, x>``, so weighting the query alone lets any
        inner-product index answer weighted-subspace queries without a rebuild.
        """
        spaces = self.subspaces()
        unknown = set(weights) - set(spaces)
        if unknown:
            raise ParameterError(f"unknown subspace(s) {sorted(unknown)}; this model has {sorted(spaces)}")
        out = np.array(vector, dtype=np.float32, copy=True)
        for name, sl in spaces.items():
            out[sl] *= float(weights.get(name, 1.0))
        return out
