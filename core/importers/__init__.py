"""Catalog importers: Won et al.'s ``track_tags.tsv``, MTG-Jamendo TSV, generic CSV.

Each ``import_*`` function reads a tag file and an audio folder, validates them
with line-numbered :class:`~core.errors.DataError` messages, and returns a
:class:`~core.catalog.Catalog`. ``python -m core import`` (:mod:`core.importers.cli`)
writes it into a workspace.
"""

from .generic_csv import import_csv
from .jamendo import import_jamendo
from .won_tsv import WON_CATEGORIES, import_won

IMPORTERS = {"won": import_won, "jamendo": import_jamendo, "csv": import_csv}

__all__ = ["IMPORTERS", "WON_CATEGORIES", "import_csv", "import_jamendo", "import_won"]
