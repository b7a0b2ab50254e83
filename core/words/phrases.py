"""How a phrase such as ``smooth jazz`` may be spelled in a word-vector vocabulary.

Vocabularies differ: GoogleNews is case-sensitive and joins phrases with ``_``
(``Smooth_Jazz``), GloVe is lower-case single words, the MWE and our skip-gram
store multi-word tags as ``smooth_jazz``. :func:`candidate_forms` lists the
spellings to try, in order, each with the method name reported to the user.
"""

from __future__ import annotations

import re

from ..errors import ParameterError

_SPLIT = re.compile(r"[\s_]+")


def words_of(phrase: str) -> list[str]:
    """Split a phrase on blanks and underscores: ``"smooth_jazz"`` -> ``["smooth", "jazz"]``."""
    if not isinstance(phrase, str) or not phrase.strip():
        raise ParameterError(f"expected a non-empty word or phrase, got {phrase!r}")
    return [w for w in _SPLIT.split(phrase.strip()) if w]


def case_variants(form: str) -> list[str]:
    """Lower, capitalised (per ``_``-joined part), first-capital and upper spellings of ``form``."""
    parts = form.split("_")
    variants = [
        form.lower(),
        "_".join(p[:1].upper() + p[1:].lower() for p in parts),
        form[:1].upper() + form[1:].lower(),
        form.upper(),
    ]
    out = []
    for v in variants:
        if v != form and v not in out:
            out.append(v)
    return out


def candidate_forms(phrase: str) -> list[tuple[str, str]]:
    """Spellings to try for ``phrase``, as ``(form, method)`` in order of preference.

    ``exact`` is the phrase as typed; ``joined`` are the words joined with ``_``,
    nothing or ``-``; ``case`` are case variants of all of those. The caller falls
    back to the mean of the words' vectors when none is in the vocabulary.
    """
    words = words_of(phrase)
    typed = phrase.strip()
    exact = [typed]
    joined = []
    if len(words) > 1:
        for sep in ("_", "", "-"):
            form = sep.join(words)
            if form not in exact and form not in joined:
                joined.append(form)
    out = [(f, "exact") for f in exact] + [(f, "joined") for f in joined]
    seen = {f for f, _ in out}
    for form in exact + joined:
        for variant in case_variants(form):
            if variant not in seen:
                seen.add(variant)
                out.append((variant, "case"))
    return out
