"""core.tags: Won et al.'s normalisation rules."""

import pytest

from core.errors import ParameterError
from core.tags import normalize_tag, normalize_tags, tempo_class


@pytest.mark.parametrize("raw, expected", [
    ("Rock", "rock"),
    ("rock & roll", "rock and roll"),
    ("Rock 'n' Roll", "rock and roll"),
    ("rock n roll", "rock and roll"),
    ("drum 'n bass", "drum and bass"),
    ("R&B", "r and b"),
    ("Hip-Hop", "hip hop"),
    ("80's", "80s"),
    ("  female   vocalists ", "female vocalists"),
    ("rock music", "rock"),
    ("sad songs", "sad"),
    ("piano tag", "piano"),
    ("jazz music song", "jazz"),
    ("music", "music"),  # never emptied by suffix removal
    ("n", "n"),  # a lone n is only "and" between words
    ("Post-Rock!", "post rock"),
])
def test_normalize_tag(raw, expected):
    assert normalize_tag(raw) == expected


def test_empty_tags_are_refused():
    for raw in ("", "  ", "!!!"):
        with pytest.raises(ParameterError, match="empty"):
            normalize_tag(raw)
    with pytest.raises(ParameterError):
        normalize_tag(None)


def test_normalize_tags_keeps_first_original():
    assert normalize_tags(["Rock Music", "rock", "Jazz"]) == [("rock", "Rock Music"), ("jazz", "Jazz")]


def test_tempo_class_boundaries():
    assert [tempo_class(b) for b in (40, 79.9, 80, 119.9, 120, 200)] == \
        ["slow", "slow", "medium", "medium", "fast", "fast"]
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(ParameterError):
            tempo_class(bad)
