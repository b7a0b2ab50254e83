"""Word embeddings: loaders for every format, a pickle-free workspace store, phrase lookup,
the MWE-recipe corpus and skip-gram, comparisons between a general and a musical embedding.

Heavy parts (corpus, training, evaluation) are imported from their modules.
"""

from .formats import FORMATS, detect_format, read_vectors
from .store import (DOMAINS, import_word_vectors, load_word_vectors, migrate_word_vectors, read_meta,
                    save_word_vectors)
from .vectors import LOOKUP_METHODS, Lookup, WordVectors

__all__ = [
    "DOMAINS", "FORMATS", "LOOKUP_METHODS", "Lookup", "WordVectors", "detect_format", "import_word_vectors",
    "load_word_vectors", "migrate_word_vectors", "read_meta", "read_vectors", "save_word_vectors",
]
