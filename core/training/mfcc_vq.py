"""Fitting the MFCC-VQ baseline: a K-means codebook over MFCC frames of the train split.

Nothing is learned by gradient descent, so this trainer does not use the shared
loop (its :class:`~core.training.runner.Trainer` has ``fit``, not ``build_run``):
it samples ``frames_per_track`` frames per train track, fits the codebook
(:func:`core.models.bof.fit_codebook`) and records the valid-split triplet
accuracy (full histograms, Euclidean) as the checkpoint's ``best`` score.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..models.bof import fit_codebook
from ..models.checkpoint import save_checkpoint
from ..models.mfcc_vq import MfccVqModel
from ..progress import Progress, silent
from .config import MfccVqTrainConfig
from .lee import SimilarityData, fixed_triplets, load_data, triplet_accuracies
from .runner import Trainer


def fit(data: SimilarityData, config: MfccVqTrainConfig, model_dir, name: str, progress: Progress = silent) -> dict:
    """Fit the codebook on ``data.train_mels`` and save ``model_dir``."""
    from ..audio import mfcc_from_mel

    rng = np.random.default_rng(config.seed)
    frames = []
    for mel in progress(data.train_mels, total=len(data.train_mels), desc=f"{name} MFCC frames"):
        mfcc = np.asarray(mfcc_from_mel(mel, n_mfcc=config.n_mfcc), dtype=np.float32).T
        take = rng.choice(len(mfcc), size=min(len(mfcc), config.frames_per_track), replace=False)
        frames.append(mfcc[take])
    frames = np.concatenate(frames)
    if len(frames) < config.n_codes:
        raise DataError(f"only {len(frames)} MFCC frames for a codebook of {config.n_codes}; "
                        "lower n_codes or raise frames_per_track")
    codebook, mean, std = fit_codebook(frames, config.n_codes, seed=config.seed)
    model = MfccVqModel(config.model_config())
    model.set_codebook(codebook, mean, std)
    model.vocab = {}

    valid = fixed_triplets(data.valid_labels, data.valid_bpm, config.valid_triplets, config.seed)
    emb = torch.as_tensor(np.stack([model.encode_track(m) for m in data.valid_mels]))
    accuracy = triplet_accuracies(emb, valid, {k: torch.ones(model.dim) for k in valid})
    score = float(np.mean(list(accuracy.values()))) if accuracy else None  # None: no valid triplets
    best = {"metric": "valid_triplet_acc", "value": score, "epoch": 1}
    save_checkpoint(Path(model_dir), model, {"variant": config.variant, "train": config.to_dict(), "best": best}, {})
    return {"best": best, "epochs": 1, "stopped_early": False, "history": [], "device": "cpu"}


TRAINER = Trainer(MfccVqTrainConfig, load_data, fit=fit)
