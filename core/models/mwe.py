"""MWE audio-word joint model (Doh et al. 2023, after Choi et al. 2019's zero-shot tagger).

Two encoders meet in a ``dim``-dimensional space compared by cosine:

* the **audio** encoder maps a mel crop to ``dim``:

  - ``cnn1d`` (Choi et al. 2019): a 130-frame ``log10(1 + 10 S)`` crop,
    normalised with mean 0.2262 and std 0.2579, mel bands as channels;
    [Conv1D(128, k=4) + ReLU + MaxPool(4)] x 3, Conv1D(128, k=2) + ReLU +
    MaxPool(2), Conv1D(dim, k=1), global average pool over time
    ("same" padding, so 130 frames pool to 32, 8, 2, 1);
  - ``short_chunk``: the short-chunk CNN of :mod:`core.models.won` (dB scale made
    as Won's inputs, its own input BatchNorm), ending in ``dim`` channels;
  - ``cnn1d_released``: the 1D-CNN of Doh/Choi's released zero-shot checkpoints
    (``music_zeroshot_models``, imported by :mod:`core.models.imports.zeroshot_lightning`):
    a power-to-dB mel crop (no ``top_db``), [Conv1D(128, k=4, pad 2) + BN + ReLU +
    MaxPool(4)] x 3, Conv1D(128, k=2, pad 1) + BN + ReLU + MaxPool(2), Conv1D(dim, k=1,
    pad 1) + BN + ReLU + MaxPool(2), average over time (attribute names ``_conv1`` ...
    ``_conv5`` as theirs);

* the **text** side is one linear map ``Linear(word_dim -> dim)`` over a frozen
  word embedding (unit-length vectors). Any word the embedding holds - a tag
  never seen in training, an artist id, a free-text query (the mean of its words'
  unit vectors, as the MWE demo) - lands in the joint space: that is zero-shot
  tagging and retrieval.

Training (:mod:`core.training.mwe`) pulls the audio towards tag, artist and
track *prototypes*. Tag prototypes are always projected word vectors; artist and
track prototypes are projected word vectors when the embedding holds the ids
(the MWE recipe puts them into the corpus), otherwise rows of the learned tables
``artist_table`` / ``track_table`` (``n_artists`` / ``n_tracks`` > 0), which live
directly in the joint space.

With ``rhythm`` on (the ``*-rhythm`` presets; not the papers), the onset-autocorrelation
branch of :mod:`core.models.rhythm` is added to the audio encoder's output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..errors import ParameterError, VocabularyError
from .base import EmbeddingModel, ModelConfig
from .rhythm import RhythmBranch

ENCODERS = ("cnn1d", "short_chunk", "cnn1d_released")


@dataclass(frozen=True)
class MweModelConfig(ModelConfig):
    """Every knob of the model (training knobs: :class:`core.training.config.MweTrainConfig`)."""

    word_dim: int                       # dimension of the word embedding the text side reads
    word_embedding: str | None = None   # its workspace name
    dim: int = 100                      # joint space (Choi et al.: 100)
    encoder: str = "cnn1d"              # cnn1d | short_chunk | cnn1d_released
    width: float = 1.0                  # channel multiplier (1.0: 128 channels for cnn1d, Won's for short_chunk)
    batch_norm: bool = False            # cnn1d: BatchNorm after each conv (not in Choi et al.'s description)
    n_frames: int = 130                 # crop length (cnn1d: 130, ~3 s; short_chunk: 173)
    n_crops: int = 8                    # evenly spaced evaluation crops per track
    input_mean: float = 0.2262          # cnn1d input normalisation (Choi et al.)
    input_std: float = 0.2579
    n_tags: int = 0                     # rows of the tag_vectors buffer (the seen training tags)
    n_artists: int = 0                  # rows of the learned artist table; 0: artists from word vectors (or unused)
    n_tracks: int = 0                   # rows of the learned track table; 0: tracks from word vectors (or unused)
    variant: str = "tag+artist+track"   # what was trained (core.training.config.MweTrainConfig.variant)
    rhythm: bool = False                # add the onset-autocorrelation branch (core.models.rhythm)
    mel_map: bool = False               # cnn1d_released: map the workspace's mel bands onto the checkpoint's
                                        # filterbank first (the ``mel_map`` buffer, 128 x 128)

    def validate(self) -> None:
        if self.encoder not in ENCODERS:
            raise ParameterError(f"unknown mwe encoder {self.encoder!r}; use one of {ENCODERS}")
        if self.word_dim < 1 or self.dim < 1 or self.n_frames < 8 or self.n_crops < 1:
            raise ParameterError("mwe word_dim, dim and n_crops must be >= 1 and n_frames >= 8")
        if not 0 < self.width <= 4:
            raise ParameterError(f"mwe width must be in (0, 4], got {self.width}")
        if self.mel_map and self.encoder != "cnn1d_released":
            raise ParameterError("mwe mel_map applies to the cnn1d_released encoder only")
        if min(self.n_tags, self.n_artists, self.n_tracks) < 0 or self.input_std <= 0:
            raise ParameterError("mwe table sizes must be >= 0 and input_std > 0")


class Cnn1d(nn.Module):
    """Choi et al. 2019's 1D-CNN: ``(B, 128, frames)`` -> ``(B, dim)``."""

    def __init__(self, n_mels: int, channels: int, dim: int, batch_norm: bool = False):
        super().__init__()
        layers = []
        for c_in, k, pool in ((n_mels, 4, 4), (channels, 4, 4), (channels, 4, 4), (channels, 2, 2)):
            layers += [nn.ConstantPad1d(((k - 1) // 2, k // 2), 0.0),  # Keras "same" (extra pad on the right)
                       nn.Conv1d(c_in, channels, k), *([nn.BatchNorm1d(channels)] if batch_norm else []),
                       nn.ReLU(), nn.MaxPool1d(pool, ceil_mode=True)]  # ceil: a 2-frame map still pools to 1
        self.convs = nn.Sequential(*layers)
        self.out = nn.Conv1d(channels, dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.convs(x)).mean(dim=2)


class Cnn1dReleased(nn.Module):
    """The 1D-CNN of Doh/Choi's released zero-shot checkpoints: ``(B, 128, frames)`` dB mel -> ``(B, dim)``.

    Layer names follow theirs (``_conv1`` ... ``_conv5``, each ``Sequential(conv, BN, ReLU, pool)``)
    so their ``audio_model._convN.*`` weights load as they are.
    """

    def __init__(self, n_mels: int, channels: int, dim: int):
        super().__init__()
        shapes = ((n_mels, channels, 4, 2, 4), (channels, channels, 4, 2, 4), (channels, channels, 4, 2, 4),
                  (channels, channels, 2, 1, 2), (channels, dim, 1, 1, 2))  # c_in, c_out, kernel, padding, pool
        for i, (c_in, c_out, k, pad, pool) in enumerate(shapes, start=1):
            setattr(self, f"_conv{i}", nn.Sequential(nn.Conv1d(c_in, c_out, k, padding=pad), nn.BatchNorm1d(c_out),
                                                     nn.ReLU(), nn.MaxPool1d(pool)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for i in range(1, 6):
            x = getattr(self, f"_conv{i}")(x)
        return x.mean(dim=2)


class ShortChunk(nn.Module):
    """Won et al.'s short-chunk CNN (blocks from :mod:`core.models.won`): ``(B, 128, frames)`` -> ``(B, dim)``."""

    def __init__(self, width: float, dim: int):
        super().__init__()
        from .won import CHANNELS, Conv2dBlock, ConvEmb

        channels = [max(4, round(c * width)) for c in CHANNELS]
        self.spec_bn = nn.BatchNorm2d(1)
        self.blocks = nn.Sequential(*(Conv2dBlock(c_in, c_out) for c_in, c_out in zip([1] + channels[:-1], channels)))
        self.emb = ConvEmb(channels[-1], dim)
        self.to(memory_format=torch.channels_last)  # faster CPU steps, as in WonModel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.emb(self.blocks(self.spec_bn(x.unsqueeze(1))))
        return out.amax(dim=(2, 3))


class MweModel(EmbeddingModel):
    """Audio-word joint embedding, built from a :class:`MweModelConfig`.

    ``vocab`` (``{"tags": seen tags, "artists": [...], "tracks": [...]}``) is set by
    the trainer and by :func:`core.models.checkpoint.load_model`.
    """

    family = "mwe"
    config_class = MweModelConfig
    normalized = True
    has_text = True

    def __init__(self, config: MweModelConfig | dict):
        super().__init__(config)
        cfg = self.cfg
        if cfg.encoder == "cnn1d":
            self.audio = Cnn1d(128, max(4, round(128 * cfg.width)), cfg.dim, cfg.batch_norm)
        elif cfg.encoder == "cnn1d_released":
            self.audio = Cnn1dReleased(128, max(4, round(128 * cfg.width)), cfg.dim)
        else:
            self.audio = ShortChunk(cfg.width, cfg.dim)
        self.rhythm = RhythmBranch(cfg.dim, n_frames=cfg.n_frames) if cfg.rhythm else None
        self.text = nn.Linear(cfg.word_dim, cfg.dim)
        # unit word vectors of the seen tags, so the model encodes them without the embedding at hand
        self.register_buffer("tag_vectors", torch.zeros(cfg.n_tags, cfg.word_dim))
        if cfg.mel_map:  # rows: the checkpoint's mel bands; columns: the workspace's (see prepare)
            self.register_buffer("mel_map", torch.zeros(128, 128))
        self.artist_table = nn.Embedding(cfg.n_artists, cfg.dim) if cfg.n_artists else None
        self.track_table = nn.Embedding(cfg.n_tracks, cfg.dim) if cfg.n_tracks else None
        self.vocab: dict = {}

    # ---------------------------------------------------------------- audio
    @property
    def input_frames(self) -> int:
        """The crop length (cnn1d: 130 frames, 3 s; short_chunk: 173)."""
        return self.cfg.n_frames

    def prepare(self, crops: np.ndarray, mel: np.ndarray) -> np.ndarray:
        """The encoder's input scale for ``log1p10`` crops of ``mel`` (same shape, float32).

        ``short_chunk`` reads Won et al.'s dB scale (:func:`core.models.won.db_crops`,
        clipped relative to the whole track's peak); ``cnn1d_released`` power-to-dB without a
        clip (torchaudio's ``AmplitudeToDB`` as in the released models), after mapping the
        workspace's mel bands (librosa's Slaney filters) onto the checkpoint's filterbank
        (torchaudio's HTK filters) with the least-squares ``mel_map`` when the model has one;
        ``cnn1d`` the z-scored ``log1p10``.
        """
        if self.cfg.encoder == "cnn1d_released":
            from ..audio.mel import DB_AMIN, log1p10_to_power

            power = log1p10_to_power(crops)
            if self.cfg.mel_map:
                power = np.einsum("ij,...jt->...it", self.mel_map.cpu().double().numpy(), power)
            return (10.0 * np.log10(np.maximum(power, DB_AMIN))).astype(np.float32)
        if self.cfg.encoder == "short_chunk":
            from .won import db_crops

            return db_crops(crops, mel)
        return ((np.asarray(crops, dtype=np.float32) - self.cfg.input_mean) / self.cfg.input_std).astype(np.float32)

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """``n_crops`` evenly spaced crops, ``(n_crops, 128, n_frames)``."""
        from ..audio import evaluation_crops

        # crop before scaling: zero padding is silence in log1p10, the scale maps it like any frame
        crops = evaluation_crops(mel, self.cfg.n_frames, self.cfg.n_crops)
        return torch.as_tensor(self.prepare(crops, mel))

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        out = self.audio(inputs)
        return out if self.rhythm is None else out + self.rhythm(inputs)

    # ----------------------------------------------------------------- text
    def text_vocabulary(self) -> list[str]:
        """The seen training tags (any other word of the embedding works through ``encode_terms``)."""
        return list(self.vocab.get("tags", []))

    def check_words(self, words) -> None:
        """Raise :class:`ParameterError` if ``words`` has another dimension than the model's text side."""
        if int(words.dim) != self.cfg.word_dim:
            raise ParameterError(
                f"word embedding {getattr(words, 'name', '') or 'given'!r} has {words.dim}-d vectors but this "
                f"mwe model reads {self.cfg.word_dim}-d vectors (trained with {self.cfg.word_embedding!r})")

    def encode_word_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        """Project word vectors ``(n, word_dim)`` (normalised to unit length first) to ``(n, dim)``."""
        vectors = torch.as_tensor(vectors, dtype=torch.float32, device=self.text.weight.device)
        if vectors.ndim != 2 or vectors.shape[1] != self.cfg.word_dim:
            raise ParameterError(f"mwe expects word vectors of shape (n, {self.cfg.word_dim}) "
                                 f"({self.cfg.word_embedding!r}), got {tuple(vectors.shape)}")
        return self.text(F.normalize(vectors, dim=1))

    def encode_terms(self, terms: list[str], words=None) -> torch.Tensor:
        """Seen tags from the stored vectors; any other term (unseen tag, artist id, phrase) through ``words``."""
        index = {t: i for i, t in enumerate(self.text_vocabulary())}
        if words is not None:
            self.check_words(words)
        rows = []
        for term in terms:
            if term in index:
                rows.append(self.tag_vectors[index[term]])
            elif words is None:
                raise VocabularyError(f"{term!r} is not a training tag of this mwe model; pass the word "
                                      f"embedding {self.cfg.word_embedding!r} to encode it zero-shot")
            else:
                rows.append(torch.as_tensor(words.lookup(term).vector, device=self.tag_vectors.device))
        if not rows:
            return self.text.weight.new_zeros(0, self.dim)
        return self.encode_word_vectors(torch.stack(rows))

    def encode_text(self, query: str, words):
        """Free-text query: the projected mean of its words' unit vectors (joined forms first).

        Returns
        -------
        vector : torch.Tensor, shape (dim,)
        lookup : core.words.Lookup
            What was looked up (form, method, missing words), to show the user.
        """
        self.check_words(words)
        lookup = words.lookup(query)
        return self.encode_word_vectors(torch.as_tensor(lookup.vector)[None])[0], lookup

    # ------------------------------------------------------------ prototypes
    def prototypes(self, kind: str, word_vectors: torch.Tensor | None = None) -> torch.Tensor:
        """All prototypes of one kind (``tag``, ``artist``, ``track``) in the joint space.

        Tags project the stored ``tag_vectors``; artists and tracks use their learned
        table when the model has one, else project ``word_vectors`` (the ids' vectors).
        """
        if kind not in ("tag", "artist", "track"):
            raise ParameterError(f"unknown prototype kind {kind!r}; use tag, artist or track")
        if kind == "tag":
            return self.encode_word_vectors(self.tag_vectors)
        table = self.artist_table if kind == "artist" else self.track_table
        if table is not None:
            return table.weight
        if word_vectors is None:
            raise ParameterError(f"this mwe model has no learned {kind} table; pass the {kind} ids' word vectors")
        return self.encode_word_vectors(word_vectors)


__all__ = ["ENCODERS", "Cnn1d", "Cnn1dReleased", "MweModel", "MweModelConfig", "ShortChunk"]
