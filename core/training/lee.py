"""Training Lee et al.'s disentangled, category or specialised similarity network.

Per step: ``batch_size`` category triplets, their dimensions drawn uniformly
(genre, mood, instrument: share a tag of that category; tempo: BPMs within the
tolerance), one random 3 s crop per track, the masked Euclidean triplet loss
(margin 0.1). With ``track_reg``, as many track triplets (two excerpts of one
song overlapping <= 50 %, another song) add ``lambda * loss`` over the full
embedding. With ``triplets="batch"`` (the demo presets) the rows are instead
``batch_size // 2`` (anchor, positive) pairs of uniformly drawn dimensions, every
valid in-batch triplet of every dimension enters the masked loss (mean over the
triplets with a non-zero loss, then over dimensions), and ``batch_size // 4``
track triplets are added. The best checkpoint maximises the mean per-dimension triplet accuracy
on fixed triplets of the valid split (whole tracks; sub-dimension distances for
the disentangled model, full distances for the category model); the learning
rate is divided by 5 when that score plateaus (the paper uses the validation loss).
The specialised baseline (one network per dimension) trains with the same masked
losses: a dimension's loss reaches only its own network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import DataError
from ..evaluation.metrics import triplet_accuracy
from ..models.lee import DIMENSIONS, LeeModel
from ..progress import Progress, silent
from .config import LeeTrainConfig, RunConfig
from .loop import Run, seed_everything
from .runner import Trainer
from .samplers import CategoryTripletSampler, TrackTripletSampler
from .triplet_losses import masked_distance, masked_triplet_loss


@dataclass
class SimilarityData:
    """In-memory ``log1p10`` mels, per-dimension tag sets and BPMs of the train and valid splits."""

    train_mels: list[np.ndarray]
    train_labels: dict[str, list[set]]
    train_bpm: np.ndarray
    valid_mels: list[np.ndarray]
    valid_labels: dict[str, list[set]]
    valid_bpm: np.ndarray


def _labels(catalog, track_ids: list[str]) -> dict[str, list[set]]:
    tags = catalog.track_tags
    out = {}
    for name in DIMENSIONS[:3]:  # tempo comes from the bpm column
        rows = tags[tags["category"] == name]
        by_track = rows.groupby("track_id")["tag"].agg(set).to_dict()
        out[name] = [by_track.get(t, set()) for t in track_ids]
    return out


def load_data(ws, config: RunConfig, progress: Progress = silent) -> SimilarityData:
    """Mels, per-dimension tag sets and BPMs of the train and valid splits (``config`` is not read:
    every Lee and MFCC-VQ run uses the same data)."""
    from ..features import FeatureStore

    catalog = ws.catalog
    train_ids, valid_ids = catalog.train_valid_ids("train a Lee model")
    store = FeatureStore(ws)
    store.build(train_ids + valid_ids, progress=progress)
    bpm = catalog.tracks.set_index("track_id")["bpm"]
    return SimilarityData(
        train_mels=[store.mel(t) for t in train_ids], train_labels=_labels(catalog, train_ids),
        train_bpm=bpm.loc[train_ids].to_numpy(float),
        valid_mels=[store.mel(t) for t in valid_ids], valid_labels=_labels(catalog, valid_ids),
        valid_bpm=bpm.loc[valid_ids].to_numpy(float))


def fixed_triplets(labels: dict[str, list[set]], bpm: np.ndarray, n_per_dimension: int, seed: int,
                   tolerance: float = 5.0) -> dict[str, np.ndarray]:
    """Seeded ``(n, 3)`` triplets per dimension (dimensions without any are left out; ``{}`` if none)."""
    if n_per_dimension < 1:
        return {}
    try:
        sampler = CategoryTripletSampler(labels, bpm, DIMENSIONS, tolerance)
    except DataError:  # e.g. a valid split too small to hold any triplet
        return {}
    rng = np.random.default_rng([seed, 7919])
    return {DIMENSIONS[d]: sampler.sample_dimension(d, n_per_dimension, rng) for d in sampler.active}


def triplet_accuracies(embeddings: torch.Tensor, triplets: dict[str, np.ndarray], masks: dict[str, torch.Tensor]) -> dict:
    """:func:`~core.evaluation.metrics.triplet_accuracy` per dimension, with each dimension's masked distance."""
    out = {}
    for name, t in triplets.items():
        a, p, n = (embeddings[torch.as_tensor(t[:, i])] for i in range(3))
        mask = masks[name]
        out[name] = triplet_accuracy(masked_distance(a, p, mask).numpy(), masked_distance(a, n, mask).numpy())
    return out


def build_run(data: SimilarityData, config: LeeTrainConfig, model_dir: Path, name: str) -> Run:
    from ..audio import random_crop

    seed_everything(config.seed)  # same initial weights for the same seed
    model = LeeModel(config.model_config())
    model.vocab = {}
    n = config.n_frames
    categories = CategoryTripletSampler(data.train_labels, data.train_bpm, DIMENSIONS, config.tempo_tolerance)
    tracks = (TrackTripletSampler([m.shape[1] for m in data.train_mels], n, config.max_overlap)
              if config.track_reg else None)
    valid = fixed_triplets(data.valid_labels, data.valid_bpm, config.valid_triplets, config.seed,
                           config.tempo_tolerance)

    def excerpt(song: int, start: int) -> np.ndarray:
        mel = data.train_mels[song]
        out = np.zeros((mel.shape[0], n), dtype=np.float32)
        piece = mel[:, start:start + n]
        out[:, :piece.shape[1]] = piece
        return out

    batch_mode = config.triplets == "batch"
    # track triplets per step (batch mode: a quarter of the rows, since each category row there holds
    # many triplets while a track triplet still costs three crops)
    n_track = max(1, config.batch_size // 4) if batch_mode else config.batch_size
    similar = {DIMENSIONS.index(k): torch.as_tensor(v | np.diag(categories.known[k])) for k, v in categories.similar.items()}
    known = {DIMENSIONS.index(k): torch.as_tensor(v) for k, v in categories.known.items()}

    def pair_batches(rng: np.random.Generator):
        """Batch mode: ``batch_size // 2`` (anchor, positive) pairs of uniformly drawn dimensions."""
        for _ in range(config.steps_per_epoch):
            _, trip = categories.sample(config.batch_size // 2, rng)
            songs = trip[:, :2].T.reshape(-1)  # anchors..., positives...
            crops = [random_crop(data.train_mels[i], n, rng) for i in songs]
            if tracks is not None:
                t = tracks.sample(n_track, rng)
                crops += [excerpt(s, o) for s, o in zip(np.concatenate([t[:, 0], t[:, 0], t[:, 3]]),
                                                          np.concatenate([t[:, 1], t[:, 2], t[:, 4]]))]
            yield songs, model.standardize(np.stack(crops).astype(np.float32))

    def batch_all_loss(emb: torch.Tensor, songs: np.ndarray, device) -> torch.Tensor:
        """Mean over dimensions of the mean loss of the in-batch triplets with a non-zero loss."""
        idx = torch.as_tensor(songs)
        same = idx[:, None] == idx[None, :]
        parts = []
        for d in categories.active:
            k = known[d][idx]
            pos = (similar[d][idx][:, idx] & k[:, None] & k[None, :] & ~torch.eye(len(idx), dtype=torch.bool))
            neg = ~similar[d][idx][:, idx] & k[:, None] & k[None, :] & ~same
            valid = (pos[:, :, None] & neg[:, None, :]).to(device)
            if not valid.any():
                continue
            x = emb * model.masks(torch.tensor(d, device=device))
            dist = torch.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1) + 1e-12)
            losses = torch.relu(dist[:, :, None] - dist[:, None, :] + config.margin)[valid]
            active = losses > 1e-8
            parts.append(losses[active].mean() if active.any() else losses.sum() * 0.0)
        return torch.stack(parts).mean() if parts else emb.sum() * 0.0

    def batches(rng: np.random.Generator):
        if batch_mode:
            yield from pair_batches(rng)
            return
        for _ in range(config.steps_per_epoch):
            dims, trip = categories.sample(config.batch_size, rng)
            crops = [random_crop(data.train_mels[i], n, rng) for i in trip.T.reshape(-1)]  # a..., p..., n...
            if tracks is not None:
                t = tracks.sample(config.batch_size, rng)
                crops += [excerpt(s, o) for s, o in zip(np.concatenate([t[:, 0], t[:, 0], t[:, 3]]),
                                                          np.concatenate([t[:, 1], t[:, 2], t[:, 4]]))]
            yield dims, model.standardize(np.stack(crops).astype(np.float32))

    def loss(model: LeeModel, batch, device) -> torch.Tensor:
        dims, x = batch
        emb = model.encode_audio(torch.as_tensor(x, device=device)).float()
        if batch_mode:  # dims holds the batch's track indices
            m = len(dims)
            total, rest = batch_all_loss(emb[:m], dims, device), emb[m:]
        else:
            b = config.batch_size
            a, p, neg = emb[:b], emb[b:2 * b], emb[2 * b:3 * b]
            total = masked_triplet_loss(a, p, neg, model.masks(torch.as_tensor(dims, device=device)), config.margin)
            rest = emb[3 * b:]
        if tracks is not None:
            ta, tp, tn = rest[:n_track], rest[n_track:2 * n_track], rest[2 * n_track:]
            total = total + config.track_lambda * masked_triplet_loss(
                ta, tp, tn, torch.ones(config.dim, device=device), config.margin)
        return total

    def validate(model: LeeModel, device) -> float:
        if not valid:
            return float("nan")
        emb = torch.as_tensor(np.stack([model.encode_track(m) for m in data.valid_mels]))
        masks = {name: model.masks(torch.tensor(DIMENSIONS.index(name))).cpu() for name in valid}
        return float(np.mean(list(triplet_accuracies(emb, valid, masks).values())))

    return Run(name=name, model_dir=Path(model_dir), model=model, config=config, vocab={},
               batches=batches, loss=loss, validate=validate, metric="valid_triplet_acc")


TRAINER = Trainer(LeeTrainConfig, load_data, build_run=build_run)
