"""Embedding extraction: batching, term table, cache and its invalidation."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.embed import embeddings_current, encode_tracks, extract_embeddings, load_embeddings
from core.errors import DataError

from tests.fixtures.engine_fakes import SEEN, FakeModel


def _extract(s, **kw):
    return extract_embeddings(s["ws"], "fake", model=s["model"], words=s["words"], mel=s["mel"], **kw)


def test_batched_tracks_equal_encode_track_one_by_one(synthetic):
    emb = _extract(synthetic, batch_size=7)  # 60 tracks: batches of 7 and a remainder
    expected = np.stack([synthetic["model"].encode_track(synthetic["mel"].mels[t]) for t in emb.track_ids])
    np.testing.assert_allclose(emb.tracks, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(emb.tracks, axis=1), 1.0, atol=1e-5)
    assert emb.track_ids == synthetic["ws"].catalog.track_ids


def test_terms_seen_then_zero_shot_and_unencodable_reported(synthetic):
    emb = _extract(synthetic)
    terms = {t["term"]: t for t in emb.terms}
    assert [t["term"] for t in emb.terms[:len(SEEN)]] == SEEN
    assert all(terms[t]["seen"] for t in SEEN)
    assert terms["guitar"]["seen"] is False and terms["guitar"]["category"] == "instrument"
    assert terms["hip hop"]["kind"] == "tag"  # phrase through the word embedding's mean of words
    assert [f["term"] for f in emb.meta["unencodable"]] == ["chill", "zzyzx"]  # in no vocabulary
    assert "zzyzx" not in terms
    assert emb.term_vectors.shape == (len(emb.terms), 16)
    np.testing.assert_allclose(np.linalg.norm(emb.term_vectors, axis=1), 1.0, atol=1e-5)
    assert emb.meta["subspaces"]["tempo"] == [12, 16] and emb.meta["metric"] == "cosine"


def test_cache_reused_then_invalidated_by_checkpoint_and_catalog(synthetic):
    ws, mel = synthetic["ws"], synthetic["mel"]
    _extract(synthetic)
    calls = mel.calls
    again = _extract(synthetic)
    assert mel.calls == calls, "a current cache must not be recomputed"
    assert again.meta["source"]["checkpoint_sha256"]
    # a new checkpoint (retrained model) makes the cache stale
    with open(ws.models_dir / "fake" / "model.pt", "ab") as f:
        f.write(b"\0")
    assert not embeddings_current(ws, "fake")
    with pytest.raises(DataError, match="out of date.*python -m core embed"):
        load_embeddings(ws, "fake")
    _extract(synthetic)
    assert mel.calls == 2 * calls and embeddings_current(ws, "fake")
    # so does a catalog change
    catalog = ws.catalog
    catalog.tracks.loc[0, "title"] = "Renamed"
    ws.save_catalog(catalog)
    assert not embeddings_current(ws, "fake")


def test_missing_embeddings_are_a_clear_error(synthetic):
    with pytest.raises(DataError, match="not computed.*--model fake"):
        load_embeddings(synthetic["ws"], "fake")


def test_model_without_text_side_has_no_terms(synthetic):
    emb = extract_embeddings(synthetic["ws"], "plain", model=synthetic["plain"], mel=synthetic["mel"])
    assert emb.terms == [] and emb.term_vectors.shape == (0, 16)
    assert emb.meta["has_text"] is False and emb.meta["subspaces"] == {"all": [0, 16]}


class OwnEncodeTrack(FakeModel):
    def encode_track(self, mel):
        return np.full(self.dim, float(mel.shape[1]), dtype=np.float32)


def test_models_with_their_own_encode_track_are_called_track_by_track():
    model = OwnEncodeTrack({"dim": 16}, {"tags": [], "artists": []})
    mels = [np.zeros((12, n), dtype=np.float32) for n in (5, 9, 7)]
    np.testing.assert_array_equal(encode_tracks(model, iter(mels), 3, batch_size=2)[:, 0], [5, 9, 7])
