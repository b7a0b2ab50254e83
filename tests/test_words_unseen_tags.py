"""The zero-shot split and the musical skip-gram: unseen tags never enter the catalog paragraphs."""

from __future__ import annotations

import inspect
import json
from collections import Counter

import pytest

from core.errors import DataError
from core.tag_split import create_tag_split, ensure_tag_split, load_tag_split
from core.words import load_word_vectors, read_meta, save_word_vectors
from core.words.corpus import build_music_corpus, token
from core.words.demo_embeddings import MUSIC_NAME, build_music_skipgram
from core.words.unseen_tags import check_no_unseen_tags, split_fingerprint

from .test_words_corpus import synthetic_workspace

SMALL = {"seed": 0, "vector_size": 16, "epochs": 1, "n_walks": 0}


def _paragraphs(ws, sentences):
    """Sentences holding a train track id: the track paragraphs."""
    train = set(ws.catalog.split_ids("train"))
    return [s for s in sentences if train & set(s)]


def test_track_paragraphs_hold_no_unseen_tag(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    split = create_tag_split(ws)
    unseen = {token(t) for t in split.unseen}
    paragraphs = _paragraphs(ws, build_music_corpus(ws, seed=0, n_walks=0).sentences)
    assert paragraphs and unseen
    assert not unseen & {w for s in paragraphs for w in s}
    seen = {token(t) for t in split.seen}
    assert seen <= {w for s in paragraphs for w in s}  # only the unseen ones are gone


def test_skipgram_counts_show_no_paragraph_occurrence_of_unseen_tags(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    split = create_tag_split(ws)
    build_music_skipgram(ws, **SMALL)
    sentences = build_music_corpus(ws, seed=0, n_walks=0, track_repeats=4).sentences  # what the skip-gram read
    train = set(ws.catalog.split_ids("train"))
    elsewhere = Counter(w for s in sentences if not train & set(s) for w in s)
    wv = load_word_vectors(ws, MUSIC_NAME)
    counts = dict(zip(wv.words, wv.counts().tolist()))
    for tag in split.unseen:
        # every occurrence the skip-gram counted comes from general music text, none from a paragraph
        assert counts.get(token(tag), 0) == elsewhere[token(tag)], tag
    assert any(counts[token(t)] > elsewhere[token(t)] for t in split.seen)  # seen tags do get paragraphs


def test_split_exists_before_the_embedding_and_is_recorded(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    path = ws.catalog_dir / "tag_splits.json"
    assert not path.exists()
    meta = build_music_skipgram(ws, **SMALL)
    assert path.exists()
    split = load_tag_split(ws)
    assert (split.seed, split.unseen_fraction) == (0, 0.2)
    record = meta["track_paragraphs"]
    assert read_meta(ws, MUSIC_NAME)["track_paragraphs"] == record
    assert record["excluded_unseen_tags"] == split.unseen
    assert record["tag_split"]["seed"] == 0 and record["tag_split"]["fingerprint"] == split_fingerprint(split)
    assert set(record["tag_tokens"]) == {token(t) for t in split.seen}
    assert meta["build"]["tag_split"] == record["tag_split"]["fingerprint"]


def test_split_defaults_are_the_mwe_trainers():
    from core.training.config import MweTrainConfig

    config = MweTrainConfig()
    params = inspect.signature(ensure_tag_split).parameters
    assert (params["seed"].default, params["unseen_fraction"].default) == (config.split_seed, config.unseen_fraction)


def test_check_refuses_an_embedding_that_saw_unseen_tags(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    build_music_skipgram(ws, **SMALL)
    split = load_tag_split(ws)
    assert check_no_unseen_tags(ws, MUSIC_NAME, split)["excluded_unseen_tags"] == split.unseen
    # a new split holding out tags the paragraphs did contain
    other = create_tag_split(ws, seed=5, unseen_fraction=0.5)
    leaked = sorted(set(other.unseen) - set(split.unseen))
    assert leaked
    with pytest.raises(DataError, match=rf"{MUSIC_NAME}.*{len(leaked)} tag\(s\) that the current tag split holds "
                                        r"out.*python -m core words build"):
        check_no_unseen_tags(ws, MUSIC_NAME, other)
    # an embedding trained on catalog paragraphs before the split was recorded (earlier versions)
    meta_path = ws.words_dir / f"{MUSIC_NAME}.json"
    meta = json.loads(meta_path.read_text())
    del meta["track_paragraphs"]
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(DataError, match="without a record of the seen/unseen tag split"):
        check_no_unseen_tags(ws, MUSIC_NAME, split)
    # an imported embedding was not trained on this catalog's paragraphs
    wv = load_word_vectors(ws, MUSIC_NAME)
    save_word_vectors(ws, wv.kv, "imported", label="imported", domain="musical", source="file", format="mwe")
    assert check_no_unseen_tags(ws, "imported", other) is None
    with pytest.raises(DataError, match="no word embedding 'absent'"):
        check_no_unseen_tags(ws, "absent", split)


def test_rebuild_follows_a_changed_split(tmp_path):
    ws = synthetic_workspace(tmp_path / "ws")
    first = build_music_skipgram(ws, **SMALL)
    other = create_tag_split(ws, seed=5, unseen_fraction=0.5)
    second = build_music_skipgram(ws, **SMALL)
    assert second["build"]["tag_split"] != first["build"]["tag_split"]
    assert second["track_paragraphs"]["excluded_unseen_tags"] == other.unseen
