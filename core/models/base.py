"""The interface every model family implements.

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

Scores between vectors are inner products after L2 normalisation when
``normalized`` is True (cosine: Won, Lee, MWE) and raw inner products otherwise
(Muslse, whose norms are constrained instead).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from ..errors import ParameterError


class EmbeddingModel(nn.Module):
    """Base class of all model families. Subclasses set the class attributes."""

    #: family name used in checkpoints and the evaluation JSON (won, lee, mfcc_vq, muslse, mwe)
    family: ClassVar[str] = ""
    #: True if vectors are compared by cosine (L2-normalised inner product)
    normalized: ClassVar[bool] = True
    #: True if the model maps words/tags into the joint space
    has_text: ClassVar[bool] = False

    def __init__(self, config: dict):
        super().__init__()
        self.config = dict(config)

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
