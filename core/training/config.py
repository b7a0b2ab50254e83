"""Training configs: every knob of a run in one dataclass, one per family, all here.

``<Family>TrainConfig`` holds the knobs of training a family's model (defaults: the
paper's settings; :mod:`core.training.presets` overrides them for the CPU demo) and
builds the model's own config, ``<Family>ModelConfig`` of ``core/models/<family>.py``,
with :meth:`RunConfig.model_config`: fields of the same name are copied, ``variant``
is the run's, and what only the data knows (``n_tags``, ``word_dim`` ...) is passed in.
A config round-trips through JSON (``to_dict``/``from_dict``) and is stored in the
checkpoint's ``config.json`` under ``train``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from ..errors import ParameterError
from ..models.mwe import ENCODERS
from .ranking_losses import RANK_WEIGHTS

#: Muslse tasks (Weston et al. 2011), one picked at random per step.
MUSLSE_TASKS = ("tag", "artist", "similar")
#: MWE supervisions (Doh et al. 2023): prototypes the audio is pulled towards.
MWE_KINDS = ("tag", "artist", "track")


@dataclass
class RunConfig:
    """Knobs every run has; the base of every ``<Family>TrainConfig``."""

    #: the family this config trains (``core.families.FAMILIES``)
    family: ClassVar[str] = ""

    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict | None = None) -> "RunConfig":
        """Build from a dict; unknown keys are an error (a typo must not pass silently)."""
        values = dict(values or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"unknown {cls.__name__} option(s) {unknown}; known: {sorted(known)}")
        config = cls(**values)
        config.validate()
        return config

    def to_dict(self) -> dict:
        return asdict(self)

    def replace(self, **changes) -> "RunConfig":
        config = replace(self, **changes)
        config.validate()
        return config

    def validate(self) -> None:
        """Raise :class:`ParameterError` for out-of-range values."""
        for f in fields(self):
            value = getattr(self, f.name)
            if f.type in ("int", "float") and isinstance(value, (int, float)) and value < 0:
                raise ParameterError(f"{f.name} must be non-negative, got {value}")

    def _choice(self, name: str, options: tuple) -> None:
        if getattr(self, name) not in options:
            raise ParameterError(f"{name} must be one of {options}, got {getattr(self, name)!r}")

    @property
    def variant(self) -> str:
        """What defines the model (``config.json`` ``variant``), unique among the presets."""
        raise NotImplementedError

    def model_config(self, **facts):
        """The ``<Family>ModelConfig`` this run trains; ``facts`` are the values only the data knows."""
        raise NotImplementedError

    def _model_config(self, config_class, **facts):
        """``config_class`` from this run's fields of the same names, its ``variant`` and ``facts``."""
        own = {f.name for f in fields(self)}
        shared = {f.name: getattr(self, f.name) for f in fields(config_class) if f.name in own}
        return config_class(**{**shared, "variant": self.variant, **facts})


@dataclass
class LoopConfig(RunConfig):
    """Knobs of a gradient-trained run (the shared loop in :mod:`core.training.loop`)."""

    epochs: int = 100
    steps_per_epoch: int = 100
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"           # adam | sgd
    momentum: float = 0.9             # sgd only
    nesterov: bool = True             # sgd only
    patience: int = 10                # early stopping: epochs without a better validation score
    lr_schedule: str = "none"         # none | plateau (x lr_factor after lr_patience bad epochs) | cosine
    warmup_steps: int = 0             # cosine only: linear warm-up over this many steps, then cosine to lr * lr_factor
    lr_factor: float = 0.2
    lr_patience: int = 4
    max_lr_reductions: int = 5
    grad_clip: float = 0.0            # 0: off
    device: str = "auto"              # auto | cpu | cuda | cuda:N
    amp: bool = True                  # mixed precision, used on CUDA only
    threads: int = 0                  # CPU threads for torch; 0: auto (os.cpu_count() when idle, see loop.auto_threads)
    keep_freed_memory: bool = True   # Linux/glibc: keep freed memory for reuse (faster CPU steps; see loop)
    validate_every: int = 1           # validate (and checkpoint / early-stop) every this many epochs, and at the end

    def validate(self) -> None:
        super().validate()
        self._choice("optimizer", ("adam", "sgd"))
        self._choice("lr_schedule", ("none", "plateau", "cosine"))
        if self.validate_every < 1:
            raise ParameterError(f"validate_every must be >= 1, got {self.validate_every}")
        if self.epochs < 1 or self.steps_per_epoch < 1 or self.batch_size < 2:
            raise ParameterError("epochs and steps_per_epoch must be >= 1 and batch_size >= 2")
        if self.lr <= 0 or not 0 < self.lr_factor < 1:
            raise ParameterError(f"lr must be > 0 and lr_factor in (0, 1); got {self.lr}, {self.lr_factor}")
        if not (self.device in ("auto", "cpu", "cuda") or self.device.startswith("cuda:")):
            raise ParameterError(f"device must be auto, cpu, cuda or cuda:N, got {self.device!r}")


@dataclass
class WonTrainConfig(LoopConfig):
    """Won et al. 2021. Defaults: the paper (Adam 1e-4, wd 1e-4, batch 128, 10,000 samples per epoch)."""

    family: ClassVar[str] = "won"

    branch: str = "acoustic"              # acoustic | cultural | hybrid
    sampler: str = "balanced"             # random | balanced (uniform over tags first)
    negatives: str = "uniform"            # uniform | cosine-weighted | distance-weighted
    word_embedding: str = "glove-6b-50d"  # workspace word embedding for the tag branch
    width: float = 1.0
    rhythm: bool = False                  # onset-autocorrelation branch (core.models.rhythm); not the paper
    dim: int = 256
    margin: float = 0.4
    n_frames: int = 173
    distance_cutoff: float = 0.5          # Wu et al.: distances below are treated as this
    nonzero_loss_cutoff: float = 1.4      # Wu et al.: negatives farther than this are never drawn
    lr: float = 1e-4
    weight_decay: float = 1e-4
    steps_per_epoch: int = 78             # 10,000 samples / batch 128
    epochs: int = 200
    patience: int = 20
    #: Leave numeric tags ("105 bpm") out of the tag vocabulary. A word embedding has no
    #: meaningful vector for a number (GloVe's "105" is a token about counts and years, not
    #: tempo), so the tag branch cannot place it; the word tags slow / medium / fast stay.
    #: Off by default (the paper has no such tags); the demo presets turn it on. The
    #: vocabulary actually trained on is saved in ``vocab.json``, and evaluation scores the
    #: model's own vocabulary, so excluded tags are reported as not evaluated, not as failures.
    exclude_numeric_tags: bool = False
    #: Won et al. keep tags with >= 100 tracks (MSD100); 1 keeps every tag seen in training.
    min_train_tracks: int = 1

    def validate(self) -> None:
        super().validate()
        self._choice("branch", ("acoustic", "cultural", "hybrid"))
        self._choice("sampler", ("random", "balanced"))
        self._choice("negatives", ("uniform", "cosine-weighted", "distance-weighted"))
        if not self.word_embedding:
            raise ParameterError("word_embedding must name a word embedding of the workspace")

    @property
    def variant(self) -> str:
        """What defines the model, e.g. ``acoustic-balanced-weighted, glove-6b-50d`` (the README's
        sampler naming, then the word embedding of the tag branch, then ``rhythm`` if added)."""
        suffix = {"uniform": "", "cosine-weighted": "-weighted", "distance-weighted": "-distance-weighted"}
        parts = [f"{self.branch}-{self.sampler}{suffix[self.negatives]}", self.word_embedding]
        return ", ".join(parts + (["rhythm"] if self.rhythm else []))

    def model_config(self, **facts):
        """:class:`~core.models.won.WonModelConfig`; facts: ``word_dim``, ``n_tags``, ``cf_dim``."""
        from ..models.won import WonModelConfig

        return self._model_config(WonModelConfig, **facts)


@dataclass
class LeeTrainConfig(LoopConfig):
    """Lee et al. 2020. Defaults: the paper (Adam 0.01, x1/5 on plateau after 4 epochs, up to 5 times)."""

    family: ClassVar[str] = "lee"

    masks: bool = True                    # False: the non-disentangled "category" model
    specialised: bool = False             # one network per dimension (the paper's baseline; masks, no track_reg)
    track_reg: bool = False               # add track-regularisation triplets (full mask)
    track_lambda: float = 0.5
    max_overlap: float = 0.5              # track triplets: anchor/positive overlap at most this
    tempo_tolerance: float = 5.0          # BPM: "similar tempo"
    margin: float = 0.1
    width: float = 1.0
    rhythm: bool = False                  # onset-autocorrelation branch (core.models.rhythm); not the paper
    dim: int = 256
    n_frames: int = 129
    valid_triplets: int = 300             # per dimension, from the valid split (checkpoint criterion)
    #: ``sampled``: the paper's one triplet per row (a dimension, an anchor, a positive, a negative).
    #: ``batch``: rows are (anchor, positive) pairs of sampled dimensions, and every in-batch
    #: triplet of every dimension (masked distance of that dimension; a negative is a labelled
    #: track not similar along it) enters the loss, averaged over the triplets with a non-zero
    #: loss ("batch-all"). Same loss and similarity rules, many more triplets per forward pass.
    triplets: str = "sampled"
    lr: float = 0.01
    lr_schedule: str = "plateau"
    batch_size: int = 64
    patience: int = 8

    def validate(self) -> None:
        super().validate()
        if not 0 <= self.max_overlap < 1:
            raise ParameterError(f"max_overlap must be in [0, 1), got {self.max_overlap}")
        self._choice("triplets", ("sampled", "batch"))
        if self.specialised and (not self.masks or self.track_reg):
            raise ParameterError("specialised networks are trained on their own dimension's triplets only: "
                                 "they need masks=True and track_reg=False")

    @property
    def variant(self) -> str:
        """``category``, ``disentangled``, ``disentangled-trackreg`` or ``specialised``, then ``rhythm`` if added."""
        if self.specialised:
            name = "specialised"
        elif not self.masks:
            name = "category"
        else:
            name = "disentangled-trackreg" if self.track_reg else "disentangled"
        return f"{name}, rhythm" if self.rhythm else name

    def model_config(self, **facts):
        """:class:`~core.models.lee.LeeModelConfig` (no facts needed)."""
        from ..models.lee import LeeModelConfig

        return self._model_config(LeeModelConfig, **facts)


@dataclass
class MfccVqTrainConfig(RunConfig):
    """MFCC-VQ baseline: K-means over standardised MFCC frames of the train split."""

    family: ClassVar[str] = "mfcc_vq"

    n_codes: int = 1024
    n_mfcc: int = 13
    frames_per_track: int = 500           # frames sampled per train track for K-means
    valid_triplets: int = 300             # per dimension, from the valid split (recorded as ``best``)

    def validate(self) -> None:
        super().validate()
        if self.n_codes < 2 or self.frames_per_track < 1:
            raise ParameterError("n_codes must be >= 2 and frames_per_track >= 1")

    @property
    def variant(self) -> str:
        return f"k{self.n_codes}"

    def model_config(self, **facts):
        """:class:`~core.models.mfcc_vq.MfccVqModelConfig`: the codebook size ``n_codes`` is its ``dim``."""
        from ..models.mfcc_vq import MfccVqModelConfig

        return self._model_config(MfccVqModelConfig, dim=self.n_codes, **facts)


@dataclass
class MuslseTrainConfig(LoopConfig):
    """Muslse run. Defaults: the paper where it says (d = 100, margin 1, harmonic L), else the CPU demo's."""

    family: ClassVar[str] = "muslse"

    loss: str = "warp"                    # warp | auc
    tasks: str = "tag+artist+similar"     # "+"-joined subset of MUSLSE_TASKS, one picked at random per step
    dim: int = 100                        # total over ensemble members
    members: int = 1                      # ensemble size (the paper: three 100-d models for d = 300)
    max_norm: float = 1.0                 # C
    margin: float = 1.0
    max_draws: int = 100                  # WARP draw cap per row
    weighting: str = "harmonic"           # harmonic | log
    n_codes: int = 512                    # codebook size K (the paper: 2,000)
    frames_per_track: int = 300           # frames per train track for K-means
    input_model: str = ""                 # a trained model whose (frozen) audio embedding is the input; "": bof
    similar_min_shared_tags: int = 3
    optimizer: str = "adam"
    lr: float = 0.003
    batch_size: int = 64
    epochs: int = 30
    steps_per_epoch: int = 50
    patience: int = 8

    def validate(self) -> None:
        super().validate()
        self._choice("loss", ("warp", "auc"))
        self._choice("weighting", RANK_WEIGHTS)
        tasks = self.tasks.split("+")
        if not tasks or set(tasks) - set(MUSLSE_TASKS) or len(set(tasks)) != len(tasks):
            raise ParameterError(f"tasks must join distinct names of {MUSLSE_TASKS} with '+', got {self.tasks!r}")
        if self.dim % self.members or self.members < 1:
            raise ParameterError(f"dim {self.dim} must be a multiple of members={self.members}")
        if self.max_norm <= 0 or self.margin <= 0 or self.max_draws < 1 or self.n_codes < 2:
            raise ParameterError("max_norm and margin must be > 0, max_draws >= 1 and n_codes >= 2")

    @property
    def variant(self) -> str:
        """What defines the model: loss and tasks, e.g. ``warp, tag``, then the ensemble size
        (``3 members``) and the frozen input model (``on <name>``) when used."""
        parts = [self.loss, self.tasks]
        if self.members > 1:
            parts.append(f"{self.members} members")
        if self.input_model:
            parts.append(f"on {self.input_model}")
        return ", ".join(parts)

    def model_config(self, **facts):
        """:class:`~core.models.muslse.MuslseModelConfig`; facts: ``n_tags``, ``n_artists`` and the
        frontend (``n_features``, ``frontend``, ``frontend_config``)."""
        from ..models.muslse import MuslseModelConfig

        return self._model_config(MuslseModelConfig, **facts)


@dataclass
class MweTrainConfig(LoopConfig):
    """MWE run. Defaults: the paper and its precursor code (SGD 1e-3, Nesterov momentum 0.9, wd 1e-6)."""

    family: ClassVar[str] = "mwe"

    word_embedding: str = "music-skipgram"
    encoder: str = "cnn1d"               # cnn1d (Choi et al.) | short_chunk (Won et al.)
    width: float = 1.0
    batch_norm: bool = False             # cnn1d: BatchNorm after each conv
    rhythm: bool = False                 # onset-autocorrelation branch (core.models.rhythm); not the paper
    dim: int = 100
    n_frames: int = 130                  # ~3 s crops (short_chunk: 173)
    margin: float = 0.4
    lambda_tag: float = 1 / 3            # 0 switches a supervision off
    lambda_artist: float = 1 / 3
    lambda_track: float = 1 / 3
    unseen_fraction: float = 0.2         # used when the workspace has no tag split yet
    split_seed: int = 0
    optimizer: str = "sgd"
    lr: float = 1e-3
    weight_decay: float = 1e-6
    batch_size: int = 64

    def validate(self) -> None:
        super().validate()
        self._choice("encoder", ENCODERS)
        if not any(getattr(self, f"lambda_{k}") > 0 for k in MWE_KINDS):
            raise ParameterError("at least one of lambda_tag, lambda_artist, lambda_track must be > 0")
        if not self.word_embedding:
            raise ParameterError("word_embedding must name a word embedding of the workspace")
        if not 0 < self.unseen_fraction < 1 or self.margin <= 0:
            raise ParameterError("unseen_fraction must be in (0, 1) and margin > 0")

    @property
    def variant(self) -> str:
        """What defines the model: the supervision used and the word embedding, e.g.
        ``tag+artist+track, music-skipgram``, then the encoder if not ``cnn1d`` and ``rhythm`` if added."""
        parts = ["+".join(k for k in MWE_KINDS if getattr(self, f"lambda_{k}") > 0), self.word_embedding]
        if self.encoder != "cnn1d":
            parts.append(self.encoder)
        return ", ".join(parts + (["rhythm"] if self.rhythm else []))

    def model_config(self, **facts):
        """:class:`~core.models.mwe.MweModelConfig`; facts: ``word_dim``, ``n_tags``, ``n_artists``, ``n_tracks``."""
        from ..models.mwe import MweModelConfig

        return self._model_config(MweModelConfig, **facts)


__all__ = ["LeeTrainConfig", "LoopConfig", "MUSLSE_TASKS", "MWE_KINDS", "MfccVqTrainConfig", "MuslseTrainConfig",
           "MweTrainConfig", "RunConfig", "WonTrainConfig"]
