"""``WordVectors``: a loaded embedding with phrase lookup that says what it did."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from gensim.models import KeyedVectors

from ..errors import ParameterError, VocabularyError
from .phrases import candidate_forms, words_of

LOOKUP_METHODS = ("exact", "joined", "case", "mean")
# rows per block when scoring the whole vocabulary (bounds the temporary memory)
_BLOCK = 262144


@dataclass(frozen=True)
class Lookup:
    """Result of :meth:`WordVectors.lookup`.

    Attributes
    ----------
    vector : np.ndarray
        Unit-length float32 vector, so cosines are dot products.
    form : str
        The vocabulary entry used (for ``mean``, the used words joined by ``" + "``).
    method : str
        One of :data:`LOOKUP_METHODS`.
    used_words : tuple of str
        Vocabulary entries that made up the vector.
    missing_words : tuple of str
        Words of the phrase not found (only ever non-empty for ``mean``).
    """

    vector: np.ndarray = field(repr=False)
    form: str
    method: str
    used_words: tuple[str, ...]
    missing_words: tuple[str, ...] = ()

    def describe(self) -> str:
        """One line for the user: which form was used and what was missing."""
        text = f"{self.form!r} ({self.method})"
        if self.missing_words:
            text += f", not in vocabulary: {', '.join(self.missing_words)}"
        return text


class WordVectors:
    """A word embedding: gensim ``KeyedVectors`` plus its metadata.

    Parameters
    ----------
    kv : gensim.models.KeyedVectors
        Vectors, usually memory-mapped by :func:`core.words.load_word_vectors`.
    meta : dict, optional
        The ``words/<name>.json`` metadata (``name``, ``label``, ``domain``, ...).
    """

    def __init__(self, kv: KeyedVectors, meta: dict | None = None):
        self.kv = kv
        self.meta = dict(meta or {})
        if getattr(kv, "norms", None) is None:
            # stored embeddings carry them (core.words.store); computing here costs one matrix copy
            kv.fill_norms()

    # ------------------------------------------------------------------ facts
    name = property(lambda self: self.meta.get("name", ""))
    label = property(lambda self: self.meta.get("label", self.meta.get("name", "")))
    domain = property(lambda self: self.meta.get("domain", "general"))
    dim = property(lambda self: int(self.kv.vector_size))

    def __len__(self) -> int:
        return len(self.kv.index_to_key)

    def __contains__(self, word: str) -> bool:
        return word in self.kv.key_to_index

    def __repr__(self) -> str:
        return f"WordVectors({self.name!r}, {len(self)} words x {self.dim})"

    @property
    def words(self) -> list[str]:
        """Vocabulary in stored order (usually most frequent first)."""
        return self.kv.index_to_key

    def has_counts(self) -> bool:
        """Whether training counts are stored (trained embeddings; not GloVe/GoogleNews)."""
        return "count" in self.kv.expandos

    def counts(self) -> np.ndarray:
        """Training count of every word (raises ParameterError if not stored)."""
        if not self.has_counts():
            raise ParameterError(f"word embedding {self.name!r} stores no word counts")
        return np.asarray(self.kv.expandos["count"])

    def unit(self, word: str) -> np.ndarray:
        """Unit-length vector of an exact vocabulary entry."""
        index = self.kv.key_to_index.get(word)
        if index is None:
            raise VocabularyError(f"{word!r} is not in word embedding {self.name!r}")
        norm = float(self.kv.norms[index])
        if norm == 0.0:
            raise VocabularyError(f"{word!r} has a zero vector in word embedding {self.name!r}")
        return (np.asarray(self.kv.vectors[index], dtype=np.float32) / norm).astype(np.float32)

    # ----------------------------------------------------------------- lookup
    def _first_form(self, phrase: str) -> tuple[str, str] | None:
        for form, method in candidate_forms(phrase):
            if form in self.kv.key_to_index and float(self.kv.norms[self.kv.key_to_index[form]]) > 0:
                return form, method
        return None

    def lookup(self, phrase: str) -> Lookup:
        """Vector for a word or phrase, trying spellings before averaging words.

        Order: the phrase as typed; its words joined by ``_``, nothing, ``-``;
        case variants of those; finally the mean of the unit vectors of its
        words (each tried as typed, then in case variants).

        Raises
        ------
        VocabularyError
            If neither the phrase nor any of its words is in the vocabulary.
        ParameterError
            If ``phrase`` is empty.
        """
        found = self._first_form(phrase)
        if found is not None:
            form, method = found
            return Lookup(self.unit(form), form, method, (form,))
        words = words_of(phrase)
        used, missing = [], []
        for word in words:
            hit = self._first_form(word) if len(words) > 1 else None
            (used if hit else missing).append(hit[0] if hit else word)
        if not used:
            listed = ", ".join(repr(w) for w in words)
            raise VocabularyError(
                f"{phrase!r} is not in word embedding {self.name or 'vectors'!r}: none of {listed} "
                f"(tried {len(candidate_forms(phrase))} spellings and case variants)"
            )
        mean = np.mean([self.unit(w) for w in used], axis=0)
        norm = float(np.linalg.norm(mean))
        if norm == 0.0:
            raise VocabularyError(f"the words of {phrase!r} cancel out (zero mean vector)")
        return Lookup((mean / norm).astype(np.float32), " + ".join(used), "mean", tuple(used), tuple(missing))

    def vectors_for(self, terms: list[str]) -> tuple[np.ndarray, dict[str, Lookup], dict[str, str]]:
        """Look up many terms, reporting each.

        Returns
        -------
        matrix : np.ndarray
            ``(n_found, dim)`` unit vectors, rows in the order of ``found``.
        found : dict
            term -> :class:`Lookup`, in input order, for the terms found.
        missing : dict
            term -> reason, for the terms not found at all.
        """
        found: dict[str, Lookup] = {}
        missing: dict[str, str] = {}
        for term in terms:
            try:
                found[term] = self.lookup(term)
            except (VocabularyError, ParameterError) as err:
                missing[term] = str(err)
        matrix = np.stack([lk.vector for lk in found.values()]) if found else np.zeros((0, self.dim), np.float32)
        return matrix, found, missing

    # ------------------------------------------------------------- similarity
    def cosines(self, vector: np.ndarray, indices: np.ndarray | None = None) -> np.ndarray:
        """Cosine between a unit ``vector`` and every word (or the words at ``indices``).

        Scores block by block from the stored (possibly memory-mapped) matrix and
        the saved norms, so no normalised copy of the matrix is ever made.
        """
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dim,):
            raise ParameterError(f"expected a vector of length {self.dim}, got shape {vector.shape}")
        norms = np.asarray(self.kv.norms, dtype=np.float32)
        if indices is not None:
            indices = np.asarray(indices, dtype=np.int64)
            out = np.asarray(self.kv.vectors[indices]) @ vector
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(norms[indices] > 0, out / norms[indices], 0.0).astype(np.float32)
        out = np.empty(len(self), dtype=np.float32)
        for start in range(0, len(out), _BLOCK):
            block = np.asarray(self.kv.vectors[start:start + _BLOCK])
            out[start:start + _BLOCK] = block @ vector
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norms > 0, out / norms, 0.0).astype(np.float32)

    def cosine(self, a: str, b: str) -> float:
        """Cosine between two words or phrases (each via :meth:`lookup`)."""
        return float(self.lookup(a).vector @ self.lookup(b).vector)
