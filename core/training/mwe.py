"""Training the MWE audio-word joint model (Doh et al. 2023) with seen tags only.

Per step: ``batch_size`` training tracks, each with one of its *seen* tags
(:class:`~core.training.samplers.SeenTagSampler`: unseen tags never reach
training), one random crop per track, and the audio embedding as the anchor of
up to three cosine triplet losses (margin 0.4)::

    L = lambda_tag L(A, P_tag) + lambda_artist L(A, P_artist) + lambda_track L(A, P_track)

Positives are the track's tag / artist / own id; negatives are drawn uniformly
among the prototypes that are not positive for the track. Tag prototypes are
projected word vectors; artist and track prototypes too when the word embedding
holds every training artist (track) id as a token, otherwise learned tables.
The best checkpoint is chosen by the seen-tag ROC-AUC of the valid split
(:func:`core.evaluation.metrics.roc_auc_tag`; unseen tags take no part in model selection).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import DataError, ParameterError
from ..evaluation.metrics import roc_auc_tag
from ..models.mwe import MweModel
from ..progress import Progress, silent
from ..tag_split import ensure_tag_split
from .config import MWE_KINDS, MweTrainConfig
from .loop import Run
from .runner import Trainer
from .samplers import SeenTagSampler
from .triplet_losses import cosine_triplet_loss

EVAL_CHUNK = 64  # crops per forward pass when embedding the valid split


@dataclass
class MweData:
    """Training inputs held in memory (mels as float16 ``log1p10``)."""

    tags: list[str]                      # seen tags with a word vector and a training track
    tag_vectors: np.ndarray              # (n_tags, word_dim) unit vectors
    train_mels: list[np.ndarray]
    train_tags: np.ndarray               # (n_train, n_tags) bool, seen tags only
    train_artists: np.ndarray            # (n_train,) artist index
    artists: list[str]
    tracks: list[str]
    id_vectors: dict                     # "artist"/"track" -> (n, word_dim) unit vectors, or None: learned table
    valid_mels: list[np.ndarray]
    valid_tags: np.ndarray
    word_embedding: str
    vocab_extra: dict


def _id_vectors(words, ids: list[str]) -> np.ndarray | None:
    """Unit word vectors of ids (exact tokens), or None unless every id is a token."""
    if not all(i in words for i in ids):
        return None
    try:
        return np.stack([words.unit(i) for i in ids])
    except KeyError:  # a zero vector
        return None


def load_data(ws, config: MweTrainConfig, progress: Progress = silent) -> MweData:
    """Seen tags and their word vectors, id prototypes, mels of the train and valid splits."""
    from ..features import FeatureStore
    from ..words import load_word_vectors
    from ..words.unseen_tags import check_no_unseen_tags

    catalog = ws.catalog
    train_ids, valid_ids = catalog.train_valid_ids("train an mwe model")
    split = ensure_tag_split(ws, config.split_seed, config.unseen_fraction)
    if (split.seed, split.unseen_fraction) != (config.split_seed, config.unseen_fraction):
        raise ParameterError(
            f"the workspace's tag split was made with seed {split.seed} and unseen_fraction "
            f"{split.unseen_fraction}; train with those, or recreate it with core.tag_split.create_tag_split")
    check_no_unseen_tags(ws, config.word_embedding, split)  # zero-shot means the words never met the unseen tags
    words = load_word_vectors(ws, config.word_embedding)
    trained = catalog.tag_matrix(train_ids, split.seen).sum(axis=0) > 0
    vectors, found, missing = words.vectors_for([t for t, ok in zip(split.seen, trained) if ok])
    if not found:
        raise DataError(f"no seen training tag is in word embedding {config.word_embedding!r}")
    tags = list(found)
    artist_of = catalog.tracks.set_index("track_id")["artist_id"]
    artists = sorted(set(artist_of[train_ids]))
    index = {a: i for i, a in enumerate(artists)}
    id_vectors = {"artist": _id_vectors(words, artists), "track": _id_vectors(words, train_ids)}
    store = FeatureStore(ws)
    store.build(train_ids + valid_ids, progress=progress)
    return MweData(
        tags=tags, tag_vectors=vectors.astype(np.float32),
        train_mels=[store.mel(t).astype(np.float16) for t in train_ids],
        train_tags=catalog.tag_matrix(train_ids, tags) > 0,
        train_artists=np.array([index[artist_of[t]] for t in train_ids]),
        artists=artists, tracks=list(train_ids), id_vectors=id_vectors,
        valid_mels=[store.mel(t).astype(np.float16) for t in valid_ids],
        valid_tags=catalog.tag_matrix(valid_ids, tags) > 0, word_embedding=config.word_embedding,
        vocab_extra={"skipped_tags": missing, "unseen_tags": split.unseen,
                     "prototypes": {k: "words" if v is not None else "table" for k, v in id_vectors.items()}})


def build_run(data: MweData, config: MweTrainConfig, model_dir: Path, name: str) -> Run:
    """Model, batches, loss and validation of one MWE run."""
    from ..audio import random_crop

    lambdas = {k: float(getattr(config, f"lambda_{k}")) for k in MWE_KINDS if getattr(config, f"lambda_{k}") > 0}
    sizes = {"artist": len(data.artists), "track": len(data.tracks)}
    for kind in ("artist", "track"):
        if kind in lambdas and sizes[kind] < 2:
            raise DataError(f"{kind} supervision needs at least two training {kind}s, got {sizes[kind]}")
    tables = {k: sizes[k] if k in lambdas and data.id_vectors[k] is None else 0 for k in ("artist", "track")}
    model = MweModel(config.model_config(word_dim=int(data.tag_vectors.shape[1]), word_embedding=data.word_embedding,
                                         n_tags=len(data.tags), n_artists=tables["artist"], n_tracks=tables["track"]))
    model.tag_vectors.copy_(torch.from_numpy(data.tag_vectors))
    vocab = {"tags": list(data.tags), "artists": list(data.artists), "tracks": list(data.tracks), **data.vocab_extra}
    model.vocab = vocab
    sampler = SeenTagSampler(data.train_tags, data.tags, data.vocab_extra["unseen_tags"])
    negatives_of = ~data.train_tags
    valid_crops = np.stack([model.track_inputs(m.astype(np.float32)).numpy() for m in data.valid_mels])
    cache: dict = {}

    def word_vectors(device) -> dict:
        """Artist/track id vectors on the training device, moved once."""
        if cache.get("device") != device:
            cache.update(device=device, vectors={k: torch.as_tensor(v, device=device) if v is not None else None
                                                 for k, v in data.id_vectors.items()})
        return cache["vectors"]

    def batches(rng: np.random.Generator):
        n_artists, n_tracks = len(data.artists), len(data.tracks)
        for _ in range(config.steps_per_epoch):
            rows, tag_pos = sampler.sample(config.batch_size, rng)
            tag_neg = (rng.random((len(rows), len(data.tags))) * negatives_of[rows]).argmax(axis=1)
            tag_ok = negatives_of[rows].any(axis=1)  # a track carrying every seen tag has no tag negative
            artist_pos = data.train_artists[rows]
            artist_neg = (artist_pos + rng.integers(1, max(n_artists, 2), size=len(rows))) % max(n_artists, 1)
            track_neg = (rows + rng.integers(1, max(n_tracks, 2), size=len(rows))) % n_tracks
            mels = [data.train_mels[r].astype(np.float32) for r in rows]
            crops = np.stack([model.prepare(random_crop(m, config.n_frames, rng), m) for m in mels])
            yield crops, {"tag": (tag_pos, tag_neg, tag_ok), "artist": (artist_pos, artist_neg, None),
                          "track": (rows, track_neg, None)}

    def loss(model: MweModel, batch, device) -> torch.Tensor:
        crops, targets = batch
        audio = model.encode_audio(torch.as_tensor(crops, device=device)).float()
        vectors = word_vectors(device)
        total = audio.new_zeros(())
        for kind, weight in lambdas.items():
            protos = model.prototypes(kind, vectors.get(kind)).float()
            pos, neg, ok = (torch.as_tensor(x, device=device) if x is not None else None for x in targets[kind])
            anchor = audio if ok is None else audio[ok]
            pos, neg = (pos, neg) if ok is None else (pos[ok], neg[ok])
            total = total + weight * cosine_triplet_loss(anchor, protos[pos], protos[neg], config.margin)
        return total

    def validate(model: MweModel, device) -> float:
        flat = torch.as_tensor(valid_crops.reshape(-1, *valid_crops.shape[2:]))
        emb = torch.cat([model.encode_audio(flat[i:i + EVAL_CHUNK].to(device)).float()
                         for i in range(0, len(flat), EVAL_CHUNK)])
        tracks = F.normalize(emb.reshape(len(valid_crops), valid_crops.shape[1], -1).mean(dim=1), dim=1)
        tags = F.normalize(model.prototypes("tag").float(), dim=1)
        return float(roc_auc_tag(data.valid_tags, (tracks @ tags.T).cpu().numpy()))

    return Run(name=name, model_dir=Path(model_dir), model=model, config=config, vocab=vocab,
               batches=batches, loss=loss, validate=validate, metric="valid_seen_roc_auc",
               extra={"word_embedding": data.word_embedding})


TRAINER = Trainer(MweTrainConfig, load_data, build_run=build_run)
