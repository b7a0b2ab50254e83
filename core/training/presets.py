"""Named training presets: model name -> family + config overrides, scaled per size.

A preset defines *what* is trained (sampler, loss, supervision, word embedding,
the optional rhythm branch); the size scales *how much*. Size ``paper`` is the
config defaults (the papers' settings and networks). ``tiny`` and ``default`` are
the demo builds on 2 CPU cores and change only the budget, the same for every
preset of a family: narrow networks, a few hundred steps, a larger learning rate
with a short warm-up and cosine decay (the paper's Adam 1e-4 needs hundreds of
10,000-sample epochs), sparse validation (on the CPU it costs as much as a third
of the training steps). Torch threads are chosen per run (``threads=0``: all cores
when the machine is idle, fewer when other processes keep cores busy, see
:func:`core.training.loop.auto_threads`); ``tiny`` keeps one thread, as the test
suite may run beside other work.

The presets named after a paper's model train the paper's network. The
onset-autocorrelation **rhythm branch** (:mod:`core.models.rhythm`; not in the
papers) is an addition with its own explicitly named presets, ``<preset>-rhythm``
(Won balanced-weighted, Lee disentangled, MWE tag+artist+track), trained at the
same budget so each pair isolates the branch. ``lee-specialised`` is Lee et al.'s
"set of specialized networks" baseline (one network per dimension).

Two ``default`` budget choices change what is trained, the same for all presets
of the family and recorded in the checkpoint:

* Won: ``exclude_numeric_tags`` (a word embedding has no meaningful vector for
  "105 bpm"; slow / medium / fast stay) and ``min_train_tracks=10`` (Won et al.'s
  minimum-count rule, >= 100 tracks on the MSD, scaled to the demo's 278 train tracks).
  ``vocab.json`` holds the tags trained on (and ``excluded_tags``); evaluation scores
  the model's own vocabulary.
* Lee: ``triplets="batch"`` (every in-batch triplet of every dimension enters the
  masked triplet loss, instead of one sampled triplet per row; same similarity rules).
"""

from __future__ import annotations

from ..errors import ParameterError

SIZES = ("paper", "tiny", "default")

#: name -> (family, overrides that define the model)
PRESETS: dict[str, tuple[str, dict]] = {
    "won-random": ("won", {"sampler": "random"}),
    "won-balanced": ("won", {"sampler": "balanced"}),
    "won-balanced-weighted": ("won", {"sampler": "balanced", "negatives": "cosine-weighted"}),
    "won-balanced-weighted-rhythm": ("won", {"sampler": "balanced", "negatives": "cosine-weighted", "rhythm": True}),
    "won-balanced-distance-weighted": ("won", {"sampler": "balanced", "negatives": "distance-weighted"}),
    "won-balanced-weighted-musical": ("won", {"sampler": "balanced", "negatives": "cosine-weighted",
                                              "word_embedding": "music-skipgram"}),
    "lee-disentangled": ("lee", {"masks": True, "track_reg": False}),
    "lee-disentangled-rhythm": ("lee", {"masks": True, "track_reg": False, "rhythm": True}),
    "lee-disentangled-trackreg": ("lee", {"masks": True, "track_reg": True}),
    "lee-category": ("lee", {"masks": False, "track_reg": False}),
    "lee-specialised": ("lee", {"masks": True, "track_reg": False, "specialised": True}),
    "mfcc-vq": ("mfcc_vq", {}),
    "muslse-warp": ("muslse", {"loss": "warp", "tasks": "tag"}),
    "muslse-auc": ("muslse", {"loss": "auc", "tasks": "tag"}),
    "muslse-warp-multitask": ("muslse", {"loss": "warp", "tasks": "tag+artist+similar"}),
    "muslse-warp-ensemble": ("muslse", {"loss": "warp", "tasks": "tag", "members": 3, "dim": 300}),
    "mwe-tag+artist+track": ("mwe", {"word_embedding": "music-skipgram"}),
    "mwe-tag+artist+track-rhythm": ("mwe", {"word_embedding": "music-skipgram", "rhythm": True}),
    "mwe-tag": ("mwe", {"word_embedding": "music-skipgram", "lambda_artist": 0.0, "lambda_track": 0.0}),
    "mwe-track": ("mwe", {"word_embedding": "music-skipgram", "lambda_tag": 0.0, "lambda_artist": 0.0}),
    "mwe-tag+artist+track-glove": ("mwe", {"word_embedding": "glove-6b-50d"}),
}

#: family -> size -> overrides (budget only: the same for every preset of the family)
SIZE_OVERRIDES: dict[str, dict[str, dict]] = {
    "won": {
        "tiny": {"width": 0.0625, "epochs": 2, "steps_per_epoch": 3, "batch_size": 32, "lr": 1e-3, "patience": 2,
                 "threads": 1},
        "default": {"width": 0.0625, "epochs": 40, "steps_per_epoch": 10, "batch_size": 64, "lr": 3e-3,
                    "lr_schedule": "cosine", "warmup_steps": 5, "lr_factor": 0.05, "validate_every": 5,
                    "patience": 10, "threads": 0, "exclude_numeric_tags": True, "min_train_tracks": 10},
    },
    "lee": {
        "tiny": {"width": 0.0625, "epochs": 2, "steps_per_epoch": 3, "batch_size": 16, "patience": 2,
                 "valid_triplets": 50, "threads": 1, "triplets": "batch"},
        "default": {"width": 0.0625, "epochs": 6, "steps_per_epoch": 10, "batch_size": 64, "triplets": "batch",
                    "lr": 5e-3, "lr_schedule": "cosine", "warmup_steps": 3, "lr_factor": 0.05, "validate_every": 2,
                    "patience": 10, "valid_triplets": 200, "threads": 0},
    },
    "mfcc_vq": {
        "tiny": {"n_codes": 32, "frames_per_track": 200},
        "default": {"n_codes": 256, "frames_per_track": 300},
    },
    "muslse": {
        "tiny": {"n_codes": 32, "frames_per_track": 200, "dim": 24, "epochs": 3, "steps_per_epoch": 20,
                 "batch_size": 32, "patience": 3, "threads": 1},
        "default": {"n_codes": 256, "frames_per_track": 300, "dim": 96, "epochs": 30, "steps_per_epoch": 50,
                    "batch_size": 64, "patience": 8, "threads": 1},
    },
    "mwe": {
        "tiny": {"width": 0.125, "epochs": 2, "steps_per_epoch": 5, "batch_size": 16, "optimizer": "adam",
                 "patience": 2, "threads": 1},
        "default": {"width": 0.25, "epochs": 30, "steps_per_epoch": 25, "batch_size": 32, "optimizer": "adam",
                    "patience": 8},
    },
}


def register(name: str, family: str, overrides: dict, sizes: dict[str, dict] | None = None) -> None:
    """Add a preset (other families' modules call this); ``sizes`` adds the family's size overrides."""
    PRESETS[name] = (family, dict(overrides))
    if sizes:
        SIZE_OVERRIDES.setdefault(family, {}).update(sizes)


def family_budget(family: str, size: str) -> dict:
    """The budget overrides of a family at a size (``{}`` at ``paper``): what a non-preset model gets."""
    if size not in SIZES:
        raise ParameterError(f"unknown size {size!r}; use one of {SIZES}")
    return dict(SIZE_OVERRIDES.get(family, {}).get(size, {})) if size != "paper" else {}


def resolve(name: str, size: str = "paper") -> tuple[str, dict]:
    """``(family, overrides)`` of a preset at a size."""
    if name not in PRESETS:
        raise ParameterError(f"unknown preset {name!r}; presets: {', '.join(sorted(PRESETS))}")
    family, overrides = PRESETS[name]
    return family, {**family_budget(family, size), **overrides}
