"""The music corpus for the skip-gram, after the MWE recipe (Doh et al. 2023, Sec. III-A).

Three sources, every one built reproducibly from a seed:

``tracks``
    One paragraph per **train-split** track: its tags (multi-word tags joined with
    ``_``), artist id and track id as exact catalog strings. Repeated with shuffled
    word order (the MWE "shuffling augmentation"). Valid/test tracks never appear,
    so their labels cannot leak into the word embedding.
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

ASSETS = Path(__file__).resolve().parents[2] / "assets" / "music_text"
GENRE_TREE = ASSETS / "beets-genres-tree.yaml"
GENRE_LIST = ASSETS / "beets-genres.txt"
GENRE_GROUPS = ASSETS / "genres-data.txt"
GLOSSARY = ASSETS / "music-glossary.yaml"

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


# ------------------------------------------------------------------------ corpus
@dataclass
class MusicCorpus:
    """Sentences (lists of tokens) and where they came from."""

    sentences: list[list[str]]
    sources: dict[str, int] = field(default_factory=dict)  # source -> number of tokens

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


def track_paragraphs(catalog, rng: np.random.Generator, repeats: int = 4) -> list[list[str]]:
    """Shuffled paragraphs of tags + artist id + track id for train-split tracks only."""
    tags = catalog.track_tags
    train = catalog.tracks[catalog.tracks["split"] == "train"]
    by_track = tags.groupby("track_id")["tag"].apply(lambda s: sorted({token(t) for t in s})).to_dict()
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


def build_music_corpus(ws, seed: int = 0, n_walks: int = 20000, repeats: int = 4) -> MusicCorpus:
    """Build the music corpus for workspace ``ws``; the same inputs and seed give the same tokens.

    Parameters
    ----------
    ws : Workspace
        Its catalog provides the train-split track paragraphs.
    seed : int
    n_walks : int
        Number of random walks over the genre tree.
    repeats : int
        Shuffled copies of each paragraph (shuffling augmentation).
    """
    if n_walks < 0 or repeats < 1:
        raise ParameterError(f"need n_walks >= 0 and repeats >= 1, got {n_walks}, {repeats}")
    rng = np.random.default_rng(seed)
    parts = {
        "tracks": track_paragraphs(ws.catalog, rng, repeats),
        "genre_walks": genre_walks(rng, n_walks),
        "genre_groups": group_paragraphs(rng, repeats),
        "glossary": glossary_paragraphs(rng, repeats),
    }
    sentences = [s for part in parts.values() for s in part]
    order = rng.permutation(len(sentences))  # interleave sources for SGD
    return MusicCorpus([sentences[i] for i in order],
                       {name: sum(len(s) for s in part) for name, part in parts.items()})
