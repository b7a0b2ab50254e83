"""Tag normalisation, following the clean-up rules in the Won et al. (2021) README.

:func:`normalize_tag` applies, in order:

1. Unicode NFKC and lower case;
2. ``'n'``, ``'n``, ``n'``, ``&`` and a lone ``n`` between words become ``and``
   (``rock 'n' roll``, ``rock & roll``, ``rock n roll`` -> ``rock and roll``;
   ``r&b`` -> ``r and b``);
3. apostrophes are removed (``80's`` -> ``80s``), every other punctuation mark
   becomes a space (``hip-hop`` -> ``hip hop``, ``mood/theme`` -> ``mood theme``);
4. whitespace is collapsed;
5. the irrelevant suffixes ``music``, ``song(s)``, ``tag(s)`` are dropped
   (``rock music`` -> ``rock``), never leaving an empty tag (``music`` stays).

Won et al. also group tags by lemma and name each group by its most frequent
member; their ``track_tags.tsv`` already holds that grouped name (``cleaned_tag``),
so the importers normalise it and keep the source's own tag as ``original_tag``.
"""

from __future__ import annotations

import re
import unicodedata

from .errors import ParameterError

#: Suffixes dropped from the end of a tag (Won et al.: "music, song, tag").
SUFFIXES = ("music", "songs", "song", "tags", "tag")
#: Tempo classes added from a known BPM: (name, lower bound inclusive, upper bound exclusive).
TEMPO_CLASSES = (("slow", 0.0, 80.0), ("medium", 80.0, 120.0), ("fast", 120.0, float("inf")))

_AND_FORMS = re.compile(r"(?<=\s)(?:'n'|'n|n'|n)(?=\s)|&")
_APOSTROPHES = re.compile(r"['\u2019`\u00b4]")
_PUNCT = re.compile(r"[^\w\s]|_")
_SPACES = re.compile(r"\s+")


def normalize_tag(tag: str) -> str:
    """Normalised form of a tag (see the module docstring for the rules).

    Parameters
    ----------
    tag : str
        Tag as found in the source.

    Returns
    -------
    str
        Lower-case words separated by single spaces.

    Raises
    ------
    ParameterError
        If nothing is left (the tag was empty or only punctuation).

    Examples
    --------
    >>> normalize_tag("Rock 'n' Roll")
    'rock and roll'
    >>> normalize_tag("Hip-Hop music")
    'hip hop'
    """
    if not isinstance(tag, str):
        raise ParameterError(f"a tag must be a string, got {type(tag).__name__}")
    text = unicodedata.normalize("NFKC", tag).lower().strip()
    text = _AND_FORMS.sub(" and ", text)
    text = _APOSTROPHES.sub("", text)
    text = _PUNCT.sub(" ", text)
    words = _SPACES.sub(" ", text).strip().split(" ") if text.strip() else []
    while len(words) > 1 and words[-1] in SUFFIXES:
        words.pop()
    if not words:
        raise ParameterError(f"tag {tag!r} is empty after normalisation; give it at least one letter or digit")
    return " ".join(words)


def normalize_tags(tags: list[str]) -> list[tuple[str, str]]:
    """``(normalised, original)`` pairs, in input order, duplicates (after normalising) removed."""
    seen: dict[str, str] = {}
    for tag in tags:
        seen.setdefault(normalize_tag(tag), tag)
    return [(norm, orig) for norm, orig in seen.items()]


def tempo_class(bpm: float) -> str:
    """``slow`` (< 80 BPM), ``medium`` (80-120) or ``fast`` (>= 120).

    Raises
    ------
    ParameterError
        If ``bpm`` is not a positive finite number.
    """
    if not (bpm == bpm and 0 < bpm < float("inf")):
        raise ParameterError(f"bpm must be a positive number, got {bpm!r}")
    return next(name for name, lo, hi in TEMPO_CLASSES if lo <= bpm < hi)
