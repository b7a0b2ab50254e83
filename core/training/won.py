"""Training Won et al.'s tag/song triplet network (acoustic, cultural or hybrid branch).

Per step: ``batch_size`` (tag, positive song) pairs from the sampler, one random
173-frame crop per song (cut in ``log1p10``, where zero padding is silence, then
converted to dB with the track's peak as in :meth:`WonModel.track_inputs`), in-batch negatives (songs not carrying the anchor tag)
mined by the configured rule, the cosine triplet loss with the tag as anchor.
The best checkpoint is chosen by macro PR-AUC of the valid split (tag retrieval
over 8-crop track embeddings, as in the authors' solver;
:func:`core.evaluation.metrics.pr_auc_tag`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import DataError
from ..evaluation.metrics import pr_auc_tag
from ..models.won import WonModel, db_crops, db_from_log1p10, peak_db
from ..progress import Progress, silent
from .config import WonTrainConfig
from .loop import Run, seed_everything
from .runner import Trainer
from .samplers import TagTripletSampler, mine_negatives
from .triplet_losses import cosine_triplet_loss

EVAL_CHUNK = 64  # crops per forward pass when embedding the valid split
_NUMERIC_TAG = re.compile(r"[0-9][0-9.,/:-]*(\s*(bpm|hz|khz|%))?")


@dataclass
class TagData:
    """What training needs, held in memory.

    ``train_mels``/``valid_mels`` are ``log1p10`` mels ``(128, T)`` (converted to dB per
    crop, see :func:`core.models.won.db_crops`); matrices are
    binary ``(n_tracks, n_tags)``; ``*_cf`` are taste-profile vectors ``(n_tracks, cf_dim)``
    (required by the cultural and hybrid branches only).
    """

    tags: list[str]
    tag_vectors: np.ndarray
    train_mels: list[np.ndarray]
    train_matrix: np.ndarray
    valid_mels: list[np.ndarray]
    valid_matrix: np.ndarray
    train_cf: np.ndarray | None = None
    valid_cf: np.ndarray | None = None
    vocab_extra: dict | None = None


def load_data(ws, config: WonTrainConfig, progress: Progress = silent) -> TagData:
    """Tags with a word vector and at least one train track; mels of the train and valid splits."""
    from ..features import FeatureStore
    from ..words import load_word_vectors

    if config.branch != "acoustic":
        raise DataError(
            f"the {config.branch} branch needs taste-profile (CF) vectors, which workspaces do not hold; "
            "train it with core.training.runner.fit_data on a TagData holding your own vectors")
    catalog = ws.catalog
    train_ids, valid_ids = catalog.train_valid_ids("train a Won model")
    words = load_word_vectors(ws, config.word_embedding)
    counts = catalog.tag_matrix(train_ids).sum(axis=0)
    train_tags = [t for t, n in zip(catalog.tags(), counts) if n >= max(1, config.min_train_tracks)]
    excluded = {"numeric": [], "rare": [t for t, n in zip(catalog.tags(), counts) if 0 < n < config.min_train_tracks]}
    if config.exclude_numeric_tags:
        excluded["numeric"] = [t for t in train_tags if is_numeric_tag(t)]
        train_tags = [t for t in train_tags if not is_numeric_tag(t)]
    vectors, found, missing = words.vectors_for(train_tags)
    if not found:
        raise DataError(f"no training tag is in word embedding {config.word_embedding!r}")
    tags = list(found)
    store = FeatureStore(ws)
    store.build(train_ids + valid_ids, progress=progress)
    categories = catalog.tag_categories()
    return TagData(
        tags=tags, tag_vectors=vectors.astype(np.float32),
        train_mels=[store.mel(t) for t in train_ids],
        train_matrix=catalog.tag_matrix(train_ids, tags) > 0,
        valid_mels=[store.mel(t) for t in valid_ids],
        valid_matrix=catalog.tag_matrix(valid_ids, tags) > 0,
        vocab_extra={"tag_categories": {t: categories[t] for t in tags}, "skipped_tags": missing,
                     "excluded_tags": excluded},
    )


def is_numeric_tag(tag: str) -> bool:
    """True for a number with an optional measuring unit ("105 bpm", "120", "4/4"); decades ("80s") are words."""
    return bool(_NUMERIC_TAG.fullmatch(str(tag).strip()))


def build_run(data: TagData, config: WonTrainConfig, model_dir: Path, name: str) -> Run:
    """Model, batches, loss and validation of one Won run."""
    from ..audio import evaluation_crops, random_crop

    if config.branch != "acoustic" and (data.train_cf is None or data.valid_cf is None):
        raise DataError(f"the {config.branch} branch needs train_cf and valid_cf vectors")
    seed_everything(config.seed)  # same initial weights for the same seed
    facts = {"word_dim": int(data.tag_vectors.shape[1]), "n_tags": len(data.tags)}
    if data.train_cf is not None:
        facts["cf_dim"] = int(data.train_cf.shape[1])
    model = WonModel(config.model_config(**facts))
    model.tag_vectors.copy_(torch.from_numpy(data.tag_vectors))
    model.vocab = {"tags": list(data.tags)}
    sampler = TagTripletSampler(data.train_matrix, config.sampler)
    carries = torch.from_numpy(np.asarray(data.train_matrix, dtype=bool))
    uses_spec, uses_cf = config.branch != "cultural", config.branch != "acoustic"
    valid_crops = (np.stack([db_crops(evaluation_crops(m, config.n_frames, 8), m) for m in data.valid_mels])
                   if uses_spec else None)
    peaks = [peak_db(m) for m in data.train_mels] if uses_spec else None

    def batches(rng: np.random.Generator):
        for _ in range(config.steps_per_epoch):
            tags, songs = sampler.sample(config.batch_size, rng)
            spec = (np.stack([db_from_log1p10(random_crop(data.train_mels[s], config.n_frames, rng), peak=peaks[s])
                              for s in songs]) if uses_spec else None)
            cf = data.train_cf[songs] if uses_cf else None
            yield tags, songs, spec, cf

    def loss(model: WonModel, batch, device) -> torch.Tensor:
        tags, songs, spec, cf = batch
        tag_emb = model.word_to_embedding(model.tag_vectors[torch.as_tensor(tags, device=device)])
        song_emb = model.song_to_embedding(
            spec=torch.as_tensor(spec, device=device) if spec is not None else None,
            cf=torch.as_tensor(cf, dtype=torch.float32, device=device) if cf is not None else None)
        scores = F.normalize(tag_emb.float(), dim=1) @ F.normalize(song_emb.float(), dim=1).T
        # valid[i, j]: song j of the batch does not carry anchor tag i
        valid = ~carries[torch.as_tensor(songs)][:, torch.as_tensor(tags)].T.to(device)
        neg, usable = mine_negatives(scores, valid, config.negatives, dim=config.dim,
                                     cutoff=config.distance_cutoff, nonzero_cutoff=config.nonzero_loss_cutoff)
        return cosine_triplet_loss(tag_emb[usable], song_emb[usable], song_emb[neg[usable]], config.margin)

    def validate(model: WonModel, device) -> float:
        k = valid_crops.shape[1] if uses_spec else 1  # hybrid: the CF vector joins every crop
        step, n = max(1, EVAL_CHUNK // k), len(data.valid_matrix)
        parts = []
        for i in range(0, n, step):
            j = min(n, i + step)
            spec = (torch.as_tensor(valid_crops[i:j].reshape(-1, *valid_crops.shape[2:])).to(device)
                    if uses_spec else None)
            cf = (torch.as_tensor(data.valid_cf[i:j], dtype=torch.float32).repeat_interleave(k, 0).to(device)
                  if uses_cf else None)
            parts.append(model.song_to_embedding(spec=spec, cf=cf).float().reshape(j - i, k, -1).mean(dim=1))
        songs = torch.cat(parts)
        tags = model.word_to_embedding(model.tag_vectors)
        scores = F.normalize(songs.float(), dim=1) @ F.normalize(tags.float(), dim=1).T
        return float(pr_auc_tag(data.valid_matrix, scores.cpu().numpy()))

    vocab = {"tags": list(data.tags), **(data.vocab_extra or {})}
    return Run(name=name, model_dir=Path(model_dir), model=model, config=config, vocab=vocab,
               batches=batches, loss=loss, validate=validate, metric="valid_pr_auc",
               extra={"word_embedding": config.word_embedding})


TRAINER = Trainer(WonTrainConfig, load_data, build_run=build_run)
