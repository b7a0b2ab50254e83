"""Training Muslse (Weston et al. 2011, Algorithm 1), vectorised over a batch.

Each step picks one task at random (the paper's multi-task SGD) and a batch of
training songs for it:

* ``tag``: rank the song's tags above the others (``Y`` = all tags);
* ``artist``: rank the song's artist above the others (``Y`` = training artists);
* ``similar``: rank similar training songs above the others (``Y`` = training
  songs; similar = same artist, or at least ``similar_min_shared_tags`` tags in
  common; a song is never its own positive or negative).

Songs enter through their features (:meth:`MuslseModel.track_features`): a
codebook histogram of MFCC frames (the codebook fitted here on train frames), or
the frozen embedding of a trained model named by ``input_model``.

A random positive label per row is ranked with the WARP loss (sampled rank,
``max_draws`` cap) or the AUC margin-ranking loss (:mod:`core.training.ranking_losses`);
an ensemble's members each get their own loss. Norms are kept ``<= max_norm`` by
projection after every step (done at the start of the next step and before
validation, which is the same thing: nothing reads the weights in between).
The best checkpoint is chosen by tag P@3 on the valid split
(:func:`core.evaluation.metrics.precision_at_k` by clip).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..evaluation.metrics import precision_at_k
from ..models.muslse import MuslseModel
from ..progress import Progress, silent
from .config import MuslseTrainConfig
from .loop import Run
from .ranking_losses import auc_loss, warp_loss
from .runner import Trainer


@dataclass
class MuslseData:
    """Training inputs held in memory (mels as float16 ``log1p10``).

    ``codebook`` (centroids, mean, std from :func:`core.models.bof.fit_codebook`) is
    set for the bag-of-frames frontend, ``frontend`` (a trained model) otherwise.
    """

    tags: list[str]
    artists: list[str]
    train_mels: list[np.ndarray]
    train_tags: np.ndarray               # (n_train, n_tags) bool
    train_artists: np.ndarray            # (n_train,) artist index
    valid_mels: list[np.ndarray]
    valid_tags: np.ndarray
    codebook: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
    frontend: torch.nn.Module | None = None


def load_data(ws, config: MuslseTrainConfig, progress: Progress = silent) -> MuslseData:
    """Mels and labels of the train and valid splits, and the frontend: a codebook fitted on
    train MFCC frames, or the trained model ``config.input_model``."""
    from ..audio import mfcc_from_mel
    from ..features import FeatureStore
    from ..models.bof import fit_codebook

    catalog = ws.catalog
    train_ids, valid_ids = catalog.train_valid_ids("train a Muslse model")
    store = FeatureStore(ws)
    store.build(train_ids + valid_ids, progress=progress)
    train_mels = [store.mel(t).astype(np.float16) for t in train_ids]
    codebook = frontend = None
    if config.input_model:
        from ..models.checkpoint import load_model

        frontend = load_model(ws, config.input_model)
    else:
        rng = np.random.default_rng(config.seed)
        frames = []
        for mel in progress(train_mels, total=len(train_mels), desc="MFCC frames"):
            mfcc = mfcc_from_mel(mel.astype(np.float32)).T
            frames.append(mfcc[rng.choice(len(mfcc), size=min(config.frames_per_track, len(mfcc)), replace=False)])
        frames = np.concatenate(frames)
        if len(frames) < config.n_codes:
            raise DataError(f"only {len(frames)} MFCC frames for a codebook of {config.n_codes}; "
                            "lower n_codes or raise frames_per_track")
        codebook = fit_codebook(frames, config.n_codes, config.seed)
    tags = [t for t, n in zip(catalog.tags(), catalog.tag_matrix(train_ids).sum(axis=0)) if n > 0]
    artist_of = catalog.tracks.set_index("track_id")["artist_id"]
    artists = sorted(set(artist_of[train_ids]))
    index = {a: i for i, a in enumerate(artists)}
    return MuslseData(
        tags=tags, artists=artists, train_mels=train_mels, train_tags=catalog.tag_matrix(train_ids, tags) > 0,
        train_artists=np.array([index[artist_of[t]] for t in train_ids]),
        valid_mels=[store.mel(t).astype(np.float16) for t in valid_ids],
        valid_tags=catalog.tag_matrix(valid_ids, tags) > 0, codebook=codebook, frontend=frontend)


def build_run(data: MuslseData, config: MuslseTrainConfig, model_dir: Path, name: str) -> Run:
    """Model, batches, loss and validation of one Muslse run."""
    if data.frontend is None:
        frontend = {"frontend": "bof", "frontend_config": None, "n_features": len(data.codebook[0])}
    else:
        frontend = {"frontend": data.frontend.family, "frontend_config": dict(data.frontend.config),
                    "n_features": data.frontend.dim}
    model = MuslseModel(config.model_config(n_tags=len(data.tags), n_artists=len(data.artists), **frontend))
    if data.frontend is None:
        model.set_codebook(*data.codebook)
    else:
        model.frontend.load_state_dict(data.frontend.state_dict())
    model.vocab = {"tags": list(data.tags), "artists": list(data.artists)}
    with torch.no_grad():  # the frontend is frozen: features are computed once
        features = {split: torch.stack([model.track_features(m.astype(np.float32)) for m in mels])
                    for split, mels in (("train", data.train_mels), ("valid", data.valid_mels))}

    # positive masks, one row per training song
    artist_mask = np.eye(len(data.artists), dtype=bool)[data.train_artists]
    shared = data.train_tags.astype(np.int32) @ data.train_tags.T.astype(np.int32)
    similar = (data.train_artists[:, None] == data.train_artists[None, :]) | (shared >= config.similar_min_shared_tags)
    np.fill_diagonal(similar, False)
    masks = {"tag": data.train_tags, "artist": artist_mask,
             "similar": similar | np.eye(len(similar), dtype=bool)}  # self: never a negative
    positives = {"tag": data.train_tags, "artist": artist_mask, "similar": similar}
    # a row needs a positive and a negative; a task needs such rows
    rows_of = {t: np.flatnonzero(positives[t].any(axis=1) & ~masks[t].all(axis=1)) for t in config.tasks.split("+")}
    tasks = [t for t, rows in rows_of.items() if len(rows)]
    if not tasks:
        raise DataError(f"none of the tasks {config.tasks!r} has positives and negatives in the train split")
    cache: dict = {}

    def on(device) -> dict:
        """Features and masks on the training device, moved once."""
        if cache.get("device") != device:
            cache.update(device=device, features={k: v.to(device) for k, v in features.items()},
                         masks={k: torch.as_tensor(v, device=device) for k, v in masks.items()})
        return cache

    def batches(rng: np.random.Generator):
        for _ in range(config.steps_per_epoch):
            task = tasks[rng.integers(len(tasks))]
            rows = rng.choice(rows_of[task], size=config.batch_size)
            # one random positive per row: argmax of random keys on the positive cells
            positive = (rng.random((len(rows), positives[task].shape[1])) * positives[task][rows]).argmax(axis=1)
            yield task, rows, positive

    def loss(model: MuslseModel, batch, device) -> torch.Tensor:
        model.project_norms()  # the projection after the previous step
        task, rows, positive = batch
        state = on(device)
        rows_t = torch.as_tensor(rows, device=device)
        songs = model.member_audio(state["features"]["train"][rows_t])           # (E, B, m)
        labels = {"tag": model.tags, "artist": model.artists}.get(task)
        if labels is None:
            labels = model.member_audio(state["features"]["train"])             # similar: all train songs
        scores = torch.einsum("ebm,elm->ebl", songs, labels).float()
        E = scores.shape[0]
        scores = scores.reshape(E * len(rows), -1)
        pos = torch.as_tensor(positive, device=device).repeat(E)
        mask = state["masks"][task][rows_t].repeat(E, 1)
        if config.loss == "warp":
            return warp_loss(scores, pos, mask, config.max_draws, config.margin, config.weighting) * E
        return auc_loss(scores, pos, mask, config.margin) * E

    def validate(model: MuslseModel, device) -> float:
        model.project_norms()
        state = on(device)
        scores = model.embed_features(state["features"]["valid"]) @ model.tag_vectors().T
        return float(precision_at_k(data.valid_tags, scores.float().cpu().numpy(), 3, by="clip"))

    vocab = {"tags": list(data.tags), "artists": list(data.artists)}
    return Run(name=name, model_dir=Path(model_dir), model=model, config=config, vocab=vocab,
               batches=batches, loss=loss, validate=validate, metric="valid_p_at_3",
               extra={"word_embedding": None, "tasks": tasks})


TRAINER = Trainer(MuslseTrainConfig, load_data, build_run=build_run)
