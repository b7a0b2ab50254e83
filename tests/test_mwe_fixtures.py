"""A synthetic workspace for the Muslse and MWE tests: seconds to build, no audio decoding.

16 tracks by 4 artists (10 train, 3 valid, 3 test), tags in three categories,
mel spectrograms with a per-genre band pattern written straight into the
feature cache, and a small word embedding holding the tags, artist ids and
train track ids (as the MWE recipe's corpus does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from gensim.models import KeyedVectors

from core.catalog import Catalog
from core.features import FeatureStore
from core.words import save_word_vectors
from core.workspace import Workspace

GENRES = ["jazz", "rock", "folk", "blues"]
INSTRUMENTS = ["piano", "guitar", "flute"]
TEMPOS = ["slow", "fast"]
WORD_DIM = 16


def make_workspace(root, word_dim: int = WORD_DIM, seed: int = 0) -> Workspace:
    rng = np.random.default_rng(seed)
    ws = Workspace.create(root, name="synthetic")
    tracks, tags = [], []
    for i in range(16):
        tid, artist = f"t{i:02d}", f"a{i % 4}"
        split = "train" if i < 10 else "valid" if i < 13 else "test"
        tracks.append({"track_id": tid, "artist_id": artist, "title": tid, "audio_path": f"{tid}.wav",
                       "duration": 5.0, "split": split, "bpm": 100.0, "source": "test"})
        genre = GENRES[i % 4]
        for tag, cat in ((genre, "genre"), (INSTRUMENTS[i % 3], "instrument"), (TEMPOS[i % 2], "tempo")):
            tags.append({"track_id": tid, "tag": tag, "original_tag": tag, "category": cat, "score": 100.0})
        # a band of energy per genre, so audio carries the tag
        mel = rng.random((128, 220)).astype(np.float32) * 0.2
        mel[(i % 4) * 30:(i % 4) * 30 + 20] += 1.5
        path = FeatureStore(ws).path(tid)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, mel.astype(np.float16))
    artists = pd.DataFrame({"artist_id": [f"a{j}" for j in range(4)], "name": [f"Artist {j}" for j in range(4)]})
    ws.save_catalog(Catalog(pd.DataFrame(tracks), artists, pd.DataFrame(tags)))

    words = GENRES + INSTRUMENTS + TEMPOS + [f"a{j}" for j in range(4)] + [f"t{i:02d}" for i in range(10)]
    kv = KeyedVectors(word_dim)
    kv.add_vectors(words, rng.standard_normal((len(words), word_dim)).astype(np.float32))
    save_word_vectors(ws, kv, "music-skipgram", label="test", domain="musical", source="test", format="test")
    return Workspace.open(root)


@pytest.fixture
def synthetic_ws(tmp_path) -> Workspace:
    return make_workspace(tmp_path / "ws")
