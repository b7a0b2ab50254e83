"""The catalog's seen/unseen tag split for zero-shot tagging and retrieval (Choi et al. 2019; Doh et al. 2023).

The split is made once per workspace and stored in ``catalog/tag_splits.json``
so that training, word-embedding builds, evaluation and the app agree on which
tags a model never saw. Within every category a seeded ``unseen_fraction`` of the
tags (at least one, and never all of them) is held out.

Training code reaches tags only through
:class:`core.training.samplers.SeenTagSampler`, which refuses any unseen tag.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError, ParameterError
from .fileio import read_versioned_json, write_json

SPLIT_FILE = "tag_splits.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TagSplit:
    """Seen and unseen tags per category, with the seed and fraction that made them."""

    categories: dict[str, dict[str, list[str]]]
    seed: int
    unseen_fraction: float
    catalog_fingerprint: str

    @property
    def seen(self) -> list[str]:
        return sorted(t for c in self.categories.values() for t in c["seen"])

    @property
    def unseen(self) -> list[str]:
        return sorted(t for c in self.categories.values() for t in c["unseen"])

    def to_json(self) -> dict:
        return {"format_version": FORMAT_VERSION, "seed": self.seed, "unseen_fraction": self.unseen_fraction,
                "catalog_fingerprint": self.catalog_fingerprint, "categories": self.categories}


def split_tags(tags_by_category: dict[str, list[str]], seed: int = 0, unseen_fraction: float = 0.2
               ) -> dict[str, dict[str, list[str]]]:
    """Hold out ``round(unseen_fraction * n)`` tags of each category (at least 1, at most ``n - 1``).

    Categories with a single tag keep it seen. The draw for a category depends
    only on ``seed`` and the category name, so adding a category does not
    reshuffle the others.
    """
    if not 0.0 < unseen_fraction < 1.0:
        raise ParameterError(f"unseen_fraction must be in (0, 1), got {unseen_fraction}")
    out = {}
    for category, tags in sorted(tags_by_category.items()):
        tags = sorted(set(tags))
        n_unseen = min(max(1, round(unseen_fraction * len(tags))), len(tags) - 1)
        rng = np.random.default_rng([seed, *category.encode()])
        unseen = set(rng.choice(len(tags), size=n_unseen, replace=False).tolist())
        out[category] = {"seen": [t for i, t in enumerate(tags) if i not in unseen],
                         "unseen": [t for i, t in enumerate(tags) if i in unseen]}
    return out


def create_tag_split(ws, seed: int = 0, unseen_fraction: float = 0.2) -> TagSplit:
    """Make the split from the workspace catalog and store it (replacing any previous split)."""
    catalog = ws.catalog
    if catalog.track_tags.empty:
        raise DataError("the catalog has no tags to split; import tags first")
    split = TagSplit(split_tags({c: catalog.tags(c) for c in catalog.categories()}, seed, unseen_fraction),
                     int(seed), float(unseen_fraction), catalog.fingerprint())
    write_json(ws.catalog_dir / SPLIT_FILE, split.to_json())
    return split


def load_tag_split(ws) -> TagSplit:
    """The stored split. Raises :class:`DataError` if there is none or the catalog's tags changed."""
    path = ws.catalog_dir / SPLIT_FILE
    if not path.exists():
        raise DataError(f"no seen/unseen tag split in {ws.root}; create one with "
                        "core.tag_split.create_tag_split(ws) (training the mwe model does it)")
    data = read_versioned_json(path, FORMAT_VERSION)
    split = TagSplit(data["categories"], int(data["seed"]), float(data["unseen_fraction"]),
                     str(data["catalog_fingerprint"]))
    differing = (set(split.seen) | set(split.unseen)) ^ set(ws.catalog.tags())
    if differing:
        raise DataError(f"{path} does not match the catalog's tags (differing: {sorted(differing)[:5]}); "
                        "recreate it with create_tag_split(ws)")
    return split


def ensure_tag_split(ws, seed: int = 0, unseen_fraction: float = 0.2) -> TagSplit:
    """The stored split, created first if the workspace has none (idempotent)."""
    if not (ws.catalog_dir / SPLIT_FILE).exists():
        return create_tag_split(ws, seed, unseen_fraction)
    return load_tag_split(ws)


__all__ = ["SPLIT_FILE", "TagSplit", "create_tag_split", "ensure_tag_split", "load_tag_split", "split_tags"]
