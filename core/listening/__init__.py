"""Listening tests: triplet A/B sessions in a database, agreement, model-vs-human scores.

Modules: :mod:`~core.listening.db` (tables, connection, migrations),
:mod:`~core.listening.design` (trial sources, catch trials, repeats),
:mod:`~core.listening.session` (the rater's flow), :mod:`~core.listening.analysis`
(agreement, reliability, model-vs-human accuracy), :mod:`~core.listening.dimsim`
(Lee et al.'s dim-sim files), :mod:`~core.listening.export` (CSV/Parquet),
:mod:`~core.listening.access` (researcher password, rater links) and
:mod:`~core.listening.cli` (``python -m core listening ...``).
"""

from .db import ListeningDB, open_db

__all__ = ["ListeningDB", "open_db"]
