"""Listening tests: triplet A/B sessions in a database, agreement, model-vs-human accuracy.

Modules: :mod:`~core.listening.db` (tables, connection, migrations, shared reads),
:mod:`~core.listening.design` (trial sources, catch trials, repeats),
:mod:`~core.listening.session` (the rater's flow), :mod:`~core.listening.rater_input`
(checks of what the rater's browser sends), :mod:`~core.listening.stats`
(Wilson intervals, Fleiss' kappa, Krippendorff's alpha), :mod:`~core.listening.scoring`
(model-vs-human accuracy), :mod:`~core.listening.analysis` (agreement, reliability, the
report), :mod:`~core.listening.dimsim` (Lee et al.'s dim-sim files),
:mod:`~core.listening.export` (CSV/Parquet), :mod:`~core.listening.access` (rater links),
:mod:`~core.listening.researcher` (password hash, backoff, one-time sign-in links),
:mod:`~core.listening.roles` (who reaches which page) and :mod:`~core.listening.cli`
(``python -m core listening ...``).
"""

from .db import ListeningDB, open_db

__all__ = ["ListeningDB", "open_db"]
