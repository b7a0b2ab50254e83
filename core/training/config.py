"""Training configs: every knob of a run in one dataclass.

Defaults are the papers' settings; :mod:`core.training.presets` overrides them
for the CPU demo. A config round-trips through JSON (``to_dict``/``from_dict``)
and is stored in the checkpoint's ``config.json`` under ``train``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from ..errors import ParameterError


@dataclass
class BaseConfig:
    """Knobs every run has."""

    seed: int = 0

    @classmethod
    def from_dict(cls, values: dict | None = None) -> "BaseConfig":
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

    def replace(self, **changes) -> "BaseConfig":
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


@dataclass
class TrainConfig(BaseConfig):
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
class WonConfig(TrainConfig):
    """Won et al. 2021. Defaults: the paper (Adam 1e-4, wd 1e-4, batch 128, 10,000 samples per epoch)."""

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


@dataclass
class LeeConfig(TrainConfig):
    """Lee et al. 2020. Defaults: the paper (Adam 0.01, x1/5 on plateau after 4 epochs, up to 5 times)."""

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


@dataclass
class MfccVqConfig(BaseConfig):
    """MFCC-VQ baseline: K-means over standardised MFCC frames of the train split."""

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
