"""Won et al. 2021, "Multimodal metric learning for tag-based music retrieval".

Two branches meet in a 256-d space compared by cosine similarity:

* the **song** side is one of three branches (``branch``):

  - ``acoustic``: a short-chunk CNN over a 173-frame dB mel crop (seven
    [3x3 conv, BN, ReLU, 2x2 max-pool] blocks, a 1x1 conv, global max over time);
  - ``cultural``: an MLP over a 200-d collaborative-filtering (taste-profile) vector;
  - ``hybrid``: the CNN ending in 200 channels, concatenated with the raw CF
    vector, then an MLP;

* the **tag** side is an MLP over the tag's word vector (300-d in the paper,
  the dimension of whichever word embedding the model was trained with).

Attribute names follow the authors' code (``spec_bn``, ``layer1`` ... ``layer8``,
``fc1``/``bn1``/``fc2``, ``cf_fc1`` ..., ``cat_fc1`` ...), so a checkpoint in
their PyTorch Lightning layout loads with :meth:`WonModel.from_lightning`.
The word vectors of the training tags are a buffer (``tag_vectors``), so a
trained model encodes its own tags without the word embedding at hand.
With ``rhythm`` on (the ``*-rhythm`` presets; not the paper), the onset-autocorrelation
branch of :mod:`core.models.rhythm` is added to the CNN's pooled output.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ..audio.mel import DB_AMIN
from ..errors import CheckpointError, ParameterError, VocabularyError
from .base import EmbeddingModel, ModelConfig
from .rhythm import RhythmBranch

#: Short-chunk CNN channels at width 1.0 (the paper's network).
CHANNELS = (128, 128, 256, 256, 256, 256, 512)
BRANCHES = ("acoustic", "cultural", "hybrid")
HIDDEN = 512

@dataclass(frozen=True)
class WonModelConfig(ModelConfig):
    """Every knob of the model (training knobs: :class:`core.training.config.WonTrainConfig`)."""

    variant: str = "acoustic"
    branch: str = "acoustic"            # acoustic | cultural | hybrid
    dim: int = 256                      # joint space
    width: float = 1.0                  # CNN channel multiplier; 1.0 is the paper's network
    word_dim: int = 300                 # input of the tag branch: the word embedding's dimension
    word_embedding: str | None = None
    cf_dim: int = 200                   # taste-profile vectors
    n_tags: int = 0                     # rows of the tag_vectors buffer (training tags)
    n_frames: int = 173                 # ~4 s crops at 22,050 Hz / hop 512
    n_crops: int = 8                    # evenly spaced evaluation crops per track
    rhythm: bool = False                # add the onset-autocorrelation branch (core.models.rhythm); not in the paper

    def validate(self) -> None:
        if self.branch not in BRANCHES:
            raise ParameterError(f"unknown Won branch {self.branch!r}; use one of {BRANCHES}")
        if not 0 < float(self.width) <= 4:
            raise ParameterError(f"width must be in (0, 4], got {self.width}")


def peak_db(mel: np.ndarray) -> float:
    """The loudest bin of a ``log10(1 + 10 S)`` mel in dB (``10 log10 S``): the reference of the ``top_db`` clip."""
    top = float(np.max(mel))
    return float(10.0 * np.log10(max((10.0 ** top - 1.0) / 10.0, DB_AMIN)))


def db_from_log1p10(mel: np.ndarray, top_db: float = 80.0, peak: float | None = None) -> np.ndarray:
    """Convert a cached ``log10(1 + 10 S)`` mel (any shape) to Won et al.'s power-to-dB scale.

    Inverts the compression to get the power ``S`` back, then applies
    ``10 log10(max(S, 1e-10))`` clipped ``top_db`` below ``peak`` (librosa's
    ``power_to_db`` with ``ref=1``), so one cached feature serves both families.

    Parameters
    ----------
    mel : np.ndarray
        ``log1p10`` values (a whole track, or crops of one).
    top_db : float
        Dynamic range kept below the peak, in dB.
    peak : float, optional
        The clip reference in dB: :func:`peak_db` of the whole track when ``mel``
        holds crops of it, so a crop converts exactly as the same frames of the
        converted track. Default: the peak of ``mel`` itself.
    """
    power = np.maximum((np.power(10.0, np.asarray(mel, dtype=np.float64)) - 1.0) / 10.0, 0.0)
    db = 10.0 * np.log10(np.maximum(power, DB_AMIN))
    return np.maximum(db, (db.max() if peak is None else peak) - top_db).astype(np.float32)


def db_crops(crops: np.ndarray, mel: np.ndarray) -> np.ndarray:
    """Won-style inputs: ``log1p10`` crops of ``mel`` (zero-padded past its end) in dB.

    Cropping and padding happen in the ``log1p10`` scale, where 0 is silence, and the
    clip reference is the whole track's peak: a short clip gives the same inputs as
    the clip followed by digital silence (zero padding in dB would be a loud 0 dB).
    """
    return db_from_log1p10(crops, peak=peak_db(mel))


class Conv2dBlock(nn.Module):
    """3x3 conv -> BN -> ReLU -> 2x2 max-pool (the authors' ``Conv_2d``)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn = nn.BatchNorm2d(c_out)
        self.mp = nn.MaxPool2d(2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mp(F.relu(self.bn(self.conv(x))))


class ConvEmb(nn.Module):
    """1x1 conv -> ReLU (the authors' ``Conv_emb``; their code has no BN here)."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.conv(x))


class WonModel(EmbeddingModel):
    """Tag/song triplet network, built from a :class:`WonModelConfig` (or its dict)."""

    family = "won"
    config_class = WonModelConfig
    normalized = True
    has_text = True

    def __init__(self, config: WonModelConfig | dict):
        super().__init__(config)
        cfg = self.cfg
        dim, cf_dim, word_dim, branch = int(cfg.dim), int(cfg.cf_dim), int(cfg.word_dim), cfg.branch

        if branch in ("acoustic", "hybrid"):
            channels = [max(4, round(c * float(cfg.width))) for c in CHANNELS]
            self.spec_bn = nn.BatchNorm2d(1)
            for i, (c_in, c_out) in enumerate(zip([1] + channels[:-1], channels), start=1):
                setattr(self, f"layer{i}", Conv2dBlock(c_in, c_out))
            # the hybrid's CNN ends in cf_dim channels, concatenated with the raw CF vector
            self.layer8 = ConvEmb(channels[-1], dim if branch == "acoustic" else cf_dim)
            self.rhythm = (RhythmBranch(dim if branch == "acoustic" else cf_dim, n_frames=int(cfg.n_frames))
                           if cfg.rhythm else None)
        if branch == "cultural":
            self.cf_fc1, self.cf_bn1, self.cf_fc2 = nn.Linear(cf_dim, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.Linear(HIDDEN, dim)
        if branch == "hybrid":
            self.cat_fc1, self.cat_bn1, self.cat_fc2 = (
                nn.Linear(2 * cf_dim, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.Linear(HIDDEN, dim))

        # tag branch: word vector -> 512 -> BN -> ReLU -> Dropout -> dim
        self.fc1, self.bn1, self.fc2 = nn.Linear(word_dim, HIDDEN), nn.BatchNorm1d(HIDDEN), nn.Linear(HIDDEN, dim)
        self.dropout = nn.Dropout(0.5)
        self.register_buffer("tag_vectors", torch.zeros(int(cfg.n_tags), word_dim))
        # conv weights in channels-last order: ~1.8x faster CPU training steps of this CNN
        # (measured at width 1/16). Not for Lee's inception blocks: their CPU backward crashes so.
        self.to(memory_format=torch.channels_last)

    # ------------------------------------------------------------- branches
    def spec_to_embedding(self, spec: torch.Tensor) -> torch.Tensor:
        """``(B, 128, frames)`` dB mel crops -> ``(B, C)`` (global max over time)."""
        out = self.spec_bn(spec.unsqueeze(1))
        for i in range(1, 8):
            out = getattr(self, f"layer{i}")(out)
        out = self.layer8(out)          # (B, C, F', T'); F' is 1 for 128 mel bands
        out = out.amax(dim=(2, 3))
        return out if self.rhythm is None else out + self.rhythm(spec)

    def _mlp(self, prefix: str, x: torch.Tensor) -> torch.Tensor:
        fc1, bn1, fc2 = (getattr(self, f"{prefix}{n}") for n in ("fc1", "bn1", "fc2"))
        return fc2(self.dropout(F.relu(bn1(fc1(x)))))

    def cf_to_embedding(self, cf: torch.Tensor) -> torch.Tensor:
        return self._mlp("cf_", cf)

    def word_to_embedding(self, vectors: torch.Tensor) -> torch.Tensor:
        """Tag branch: ``(B, word_dim)`` word vectors -> ``(B, dim)``."""
        return self._mlp("", vectors)

    def song_to_embedding(self, spec: torch.Tensor | None = None, cf: torch.Tensor | None = None) -> torch.Tensor:
        """Song branch of any kind: ``spec`` for acoustic, ``cf`` for cultural, both for hybrid."""
        branch = self.cfg.branch
        need = {"acoustic": ("spec",), "cultural": ("cf",), "hybrid": ("spec", "cf")}[branch]
        given = {"spec": spec, "cf": cf}
        missing = [n for n in need if given[n] is None]
        if missing:
            raise ParameterError(f"the {branch} Won model needs {' and '.join(need)} inputs; missing {missing}")
        if branch == "acoustic":
            return self.spec_to_embedding(spec)
        if branch == "cultural":
            return self.cf_to_embedding(cf)
        return self._mlp("cat_", torch.cat([self.spec_to_embedding(spec), cf], dim=-1))

    # ---------------------------------------------------- EmbeddingModel API
    @property
    def input_frames(self) -> int | None:
        """The crop length (173 frames, about 4 s); None for the cultural branch, which reads no audio."""
        return None if self.cfg.branch == "cultural" else int(self.cfg.n_frames)

    @property
    def encodes_audio(self) -> bool:
        """Only the acoustic branch embeds audio alone (cultural reads CF vectors, hybrid both)."""
        return self.cfg.branch == "acoustic"

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        """Eight evenly spaced 173-frame dB crops of a ``log1p10`` mel: ``(8, 128, 173)``.

        Crops are cut (and a short track zero-padded) in ``log1p10``, then converted with
        :func:`db_crops`: padding is silence, never 0 dB.
        """
        if self.cfg.branch == "cultural":
            raise ParameterError("the cultural Won model reads taste-profile (CF) vectors, not audio, and "
                                 "workspaces hold none: it embeds tags only; use song_to_embedding(cf=...)")
        from ..audio import evaluation_crops

        crops = evaluation_crops(mel, int(self.cfg.n_frames), int(self.cfg.n_crops))
        return torch.as_tensor(db_crops(crops, mel))

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.cfg.branch != "acoustic":
            raise ParameterError(
                f"the {self.cfg.branch} Won model also needs taste-profile (CF) vectors, which workspaces "
                "do not hold: it embeds tags only; use song_to_embedding(spec, cf)")
        return self.spec_to_embedding(inputs)

    def text_vocabulary(self) -> list[str]:
        return list(getattr(self, "vocab", {}).get("tags", []))

    def encode_terms(self, terms: list[str], words=None) -> torch.Tensor:
        """Training tags use the stored word vectors; other terms need ``words`` (zero-shot)."""
        index = {t: i for i, t in enumerate(self.text_vocabulary())}
        rows = []
        for term in terms:
            if term in index:
                rows.append(self.tag_vectors[index[term]].cpu())
            elif words is None:
                raise VocabularyError(
                    f"{term!r} is not a training tag of this model; pass the word embedding "
                    f"{self.cfg.word_embedding!r} to encode it zero-shot")
            else:
                if int(words.dim) != int(self.cfg.word_dim):
                    raise ParameterError(
                        f"word embedding has {words.dim} dims but the model was trained on "
                        f"{self.cfg.word_dim}-d vectors ({self.cfg.word_embedding!r})")
                rows.append(torch.as_tensor(np.asarray(words.lookup(term).vector, dtype=np.float32)))
        if not rows:
            return torch.zeros(0, self.dim)
        return self.encode_word_vectors(torch.stack(rows))

    @torch.no_grad()
    def encode_word_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        vectors = torch.as_tensor(vectors, dtype=torch.float32)
        if vectors.ndim != 2 or vectors.shape[1] != int(self.cfg.word_dim):
            raise ParameterError(
                f"expected word vectors of shape (n, {self.cfg.word_dim}), got {tuple(vectors.shape)}")
        was_training = self.training
        self.eval()  # BN running statistics, no dropout
        try:
            return self.word_to_embedding(vectors.to(self.tag_vectors.device))
        finally:
            self.train(was_training)

    # ------------------------------------------------------------ loading
    @classmethod
    def from_lightning(cls, path, config: WonModelConfig | dict, tags: list[str], tag_vectors: np.ndarray) -> "WonModel":
        """Load the authors' PyTorch Lightning ``.ckpt`` (``state_dict`` keys prefixed ``model.``).

        Parameters
        ----------
        path : path
            The ``.ckpt`` file; read with ``torch.load(weights_only=True)``.
        config : WonModelConfig or dict
            Model config (``branch``, ``width`` ...); ``n_tags`` and ``word_dim`` come from the tags.
        tags : list of str
            The tags to attach; ``tag_vectors`` holds their word vectors, one row each.

        Raises
        ------
        CheckpointError
            If the file is not a Lightning checkpoint or its weights do not fit ``config``.
        """
        from .checkpoint import load_lightning_state, load_state_strict

        tag_vectors = np.asarray(tag_vectors, dtype=np.float32)
        if tag_vectors.ndim != 2 or len(tag_vectors) != len(tags):
            raise CheckpointError(f"need one word vector per tag: {len(tags)} tags, vectors {tag_vectors.shape}")
        model = cls(replace(WonModelConfig.coerce(config), n_tags=len(tags), word_dim=int(tag_vectors.shape[1])))
        state = load_lightning_state(path)
        state["tag_vectors"] = torch.from_numpy(tag_vectors)
        load_state_strict(model, state, source=str(path))
        model.vocab = {"tags": list(tags)}
        return model.eval()
