"""Synthetic workspace and a small fake model for the engine tests (no audio, no training).

The fake model projects the means of four time segments of a mel linearly into
16 dims (four 4-d subspaces); its text side is a learned table for its training
tags plus a linear map of word vectors (zero-shot), like Won et al. and MWE.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from gensim.models import KeyedVectors
from torch import nn

from core.catalog import Catalog
from core.errors import VocabularyError
from core.models.base import EmbeddingModel
from core.words import WordVectors, save_word_vectors
from core.workspace import Workspace

# UMAP's numba kernels: compile once per machine, not once per test session
os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "tagspace" / "numba-tests"))

N_MELS = 12
DIM = 16
WORD_DIM = 6
SUBSPACES = {"genre": slice(0, 4), "mood": slice(4, 8), "instrument": slice(8, 12), "tempo": slice(12, 16)}
TAGS = {"genre": ["rock", "jazz", "hip hop", "techno"], "mood": ["sad", "happy", "chill"],
        "instrument": ["piano", "guitar"], "tempo": ["fast", "slow"]}
SEEN = ["rock", "jazz", "sad", "happy", "piano", "fast"]  # the fake model's training tags
WORDS = ["rock", "jazz", "hip", "hop", "techno", "sad", "happy", "piano", "guitar", "fast", "slow", "dreamy"]


class FakeModel(EmbeddingModel):
    family = "fake"
    normalized = True
    has_text = True

    def __init__(self, config: dict, vocab: dict):
        super().__init__(config)
        torch.manual_seed(int(config.get("seed", 0)))
        self.audio = nn.Linear(N_MELS, DIM)
        self.words = nn.Linear(WORD_DIM, DIM)
        self.table = nn.Parameter(torch.randn(len(vocab["tags"]), DIM))
        self.vocab = vocab

    def subspaces(self) -> dict[str, slice]:
        return dict(SUBSPACES)

    def track_inputs(self, mel: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.stack([s.mean(axis=1) for s in np.array_split(mel, 4, axis=1)]),
                               dtype=torch.float32)

    def encode_audio(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.audio(inputs)

    def text_vocabulary(self) -> list[str]:
        return list(self.vocab["tags"])

    def encode_terms(self, terms: list[str], words=None) -> torch.Tensor:
        index = {t: i for i, t in enumerate(self.vocab["tags"])}
        rows = []
        for term in terms:
            if term in index:
                rows.append(self.table[index[term]])
            elif words is None:
                raise VocabularyError(f"{term!r} is not a training tag")
            else:
                rows.append(self.encode_word_vectors(torch.as_tensor(words.lookup(term).vector)[None])[0])
        return torch.stack(rows) if rows else torch.zeros(0, DIM)

    def encode_word_vectors(self, vectors: torch.Tensor) -> torch.Tensor:
        return self.words(torch.as_tensor(vectors, dtype=torch.float32))


class TextlessModel(FakeModel):
    family = "fake_audio"
    has_text = False

    def subspaces(self) -> dict[str, slice]:
        return {"all": slice(0, DIM)}


def make_catalog(n_tracks: int = 60, seed: int = 0) -> Catalog:
    rng = np.random.default_rng(seed)
    tracks = pd.DataFrame({
        "track_id": [f"t{i:03d}" for i in range(n_tracks)],
        "artist_id": [f"a{i % 10}" for i in range(n_tracks)],
        "title": [f"Song {i} {'Blue' if i % 7 == 0 else 'Red'}" for i in range(n_tracks)],
        "audio_path": [f"t{i:03d}.wav" for i in range(n_tracks)],
        "duration": 8.0, "split": ["train", "valid", "test"] * (n_tracks // 3) + ["train"] * (n_tracks % 3),
        "bpm": np.nan, "source": "test"})
    artists = pd.DataFrame({"artist_id": [f"a{i}" for i in range(10)], "name": [f"Artist {i}" for i in range(10)]})
    rows = []
    for tid in tracks["track_id"]:
        for category, tags in TAGS.items():
            rows.append({"track_id": tid, "tag": tags[rng.integers(len(tags))], "original_tag": "",
                         "category": category, "score": 100.0})
    rows.append({"track_id": "t000", "tag": "zzyzx", "original_tag": "", "category": "other", "score": 100.0})
    return Catalog(tracks, artists, pd.DataFrame(rows))


def make_words(ws: Workspace) -> WordVectors:
    kv = KeyedVectors(vector_size=WORD_DIM)
    kv.add_vectors(WORDS, np.random.default_rng(1).normal(size=(len(WORDS), WORD_DIM)).astype(np.float32))
    save_word_vectors(ws, kv, "fakewords", label="fake words", domain="musical", source="test", format="native")
    from core.words import load_word_vectors

    return load_word_vectors(ws, "fakewords")


def save_model(ws: Workspace, name: str, model: FakeModel, word_embedding: str | None = "fakewords") -> None:
    directory = ws.models_dir / name
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), directory / "model.pt")
    (directory / "config.json").write_text(json.dumps({
        "family": model.family, "variant": "default", "model": model.config, "train": {},
        "word_embedding": word_embedding, "created": "now", "best": {}}))
    (directory / "vocab.json").write_text(json.dumps(model.vocab))


class MelSource:
    """``mel(track_id)`` with a call counter (to see the cache at work)."""

    def __init__(self, track_ids, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.mels = {t: rng.gamma(2.0, 1.0, size=(N_MELS, int(rng.integers(20, 60)))).astype(np.float32)
                     for t in track_ids}
        self.calls = 0

    def __call__(self, track_id: str) -> np.ndarray:
        self.calls += 1
        return self.mels[track_id]


@pytest.fixture()
def synthetic(tmp_path):
    """Workspace with a catalog, the fake word embedding, a text model ``fake`` and an audio-only ``plain``."""
    return make_synthetic(tmp_path)


def make_synthetic(root: Path) -> dict:
    """What :func:`synthetic` returns: ``ws``, ``words``, ``model``, ``plain`` and ``mel``."""
    ws = Workspace.create(root / "ws", name="synthetic")
    ws.save_catalog(make_catalog())
    words = make_words(ws)
    model = FakeModel({"dim": DIM, "seed": 0}, {"tags": SEEN, "artists": []})
    plain = TextlessModel({"dim": DIM, "seed": 1}, {"tags": [], "artists": []})
    save_model(ws, "fake", model)
    save_model(ws, "plain", plain, word_embedding=None)
    mel = MelSource(ws.catalog.track_ids)
    return {"ws": ws, "words": words, "model": model, "plain": plain, "mel": mel}
