"""Which tag split a word embedding's catalog paragraphs respected, and the check a zero-shot trainer makes.

A skip-gram trained here on the MWE recipe reads one paragraph per train track
(tags, artist id, track id). If those paragraphs held a tag that the zero-shot
split (:mod:`core.tag_split`) holds out, a model trained on artist or track
prototypes would be pulled toward that tag without ever being shown it. The music
corpus therefore drops the split's unseen tags from the paragraphs
(:func:`core.words.corpus.track_paragraphs`) and the embedding's metadata records
what it did under ``track_paragraphs``::

    {"tag_tokens": [...],                          # tags that did occur in the paragraphs
     "excluded_unseen_tags": [...],                # the split's unseen tags, left out
     "tag_split": {"fingerprint": ..., "seed": 0, "unseen_fraction": 0.2, "catalog_fingerprint": ...}}

:func:`check_no_unseen_tags` refuses an embedding whose paragraphs contained an
unseen tag of the current split. General music text (genre taxonomy, glossary,
general text) may still contain those words: that is what zero-shot transfer uses.
An imported embedding was not trained on this catalog's paragraphs and passes; what
text it was trained on is its author's to say.
"""

from __future__ import annotations

import hashlib
import json

from ..errors import DataError
from ..tag_split import TagSplit
from .corpus import MusicCorpus, token
from .store import read_meta


def split_fingerprint(split: TagSplit) -> str:
    """Hash of a split's content (categories, seed, fraction, catalog fingerprint), 16 hex digits."""
    canonical = json.dumps(split.to_json(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def paragraph_record(corpus: MusicCorpus) -> dict:
    """The ``track_paragraphs`` metadata of an embedding trained on ``corpus``."""
    split = corpus.tag_split
    return {
        "tag_tokens": list(corpus.paragraph_tags),
        "excluded_unseen_tags": split.unseen if split else [],
        "tag_split": None if split is None else {
            "fingerprint": split_fingerprint(split), "seed": split.seed,
            "unseen_fraction": split.unseen_fraction, "catalog_fingerprint": split.catalog_fingerprint},
    }


def check_no_unseen_tags(ws, name: str, split: TagSplit) -> dict | None:
    """Refuse word embedding ``name`` if its catalog paragraphs contained an unseen tag of ``split``.

    Parameters
    ----------
    ws : Workspace
    name : str
        A stored word embedding (``words/<name>.json``).
    split : TagSplit
        The workspace's current split (:func:`core.tag_split.load_tag_split`).

    Returns
    -------
    dict or None
        The embedding's ``track_paragraphs`` record, or None for an embedding not
        trained on this catalog's paragraphs (imported, GloVe).

    Raises
    ------
    DataError
        If the paragraphs contained an unseen tag, or the embedding was trained on
        catalog paragraphs without a record of the split (built before the split
        existed). The message names the tags and the command that rebuilds it.
    """
    meta = read_meta(ws, name)
    if meta is None:
        raise DataError(f"no word embedding {name!r} in {ws.words_dir}")
    record = meta.get("track_paragraphs")
    rebuild = f"rebuild it with python -m core words build --workspace {ws.root}"
    if record is None:
        if (meta.get("corpus_sources") or {}).get("tracks"):
            raise DataError(
                f"word embedding {name!r} was trained on this catalog's track paragraphs without a record of "
                f"the seen/unseen tag split, so it may have seen the unseen tags a zero-shot model must not "
                f"learn; {rebuild} (it drops the split's unseen tags from the paragraphs)")
        return None
    held_out = {token(t): t for t in split.unseen}
    leaked = sorted(held_out[t] for t in set(record.get("tag_tokens", [])) & set(held_out))
    if leaked:
        made = (record.get("tag_split") or {}).get("fingerprint")
        raise DataError(
            f"word embedding {name!r} was trained on track paragraphs containing {len(leaked)} tag(s) that the "
            f"current tag split holds out for zero-shot evaluation ({', '.join(leaked[:10])}); its paragraphs "
            f"followed tag split {made or 'none'}, the workspace's is {split_fingerprint(split)}. {rebuild[0].upper()}"
            f"{rebuild[1:]}, or train with a word embedding that did not see them")
    return record


__all__ = ["check_no_unseen_tags", "paragraph_record", "split_fingerprint"]
