"""Skip-gram training with the MWE settings (Doh et al. 2023, Sec. IV-B-1)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from gensim.models import KeyedVectors, Word2Vec

from ..errors import ParameterError


@dataclass(frozen=True)
class SkipGramConfig:
    """Word2Vec settings. Defaults follow MWE except the vector size (300 there).

    ``min_count=1`` keeps every artist and track id (they occur a handful of
    times). ``workers=1`` makes training deterministic for a given seed: gensim
    draws initial vectors from ``seed`` and, with one worker thread, consumes
    the sentences and its random stream in a fixed order.
    """

    vector_size: int = 100
    epochs: int = 15
    window: int = 15
    negative: int = 20
    min_count: int = 1
    seed: int = 0
    workers: int = 1

    def __post_init__(self) -> None:
        for name in ("vector_size", "epochs", "window", "negative", "min_count", "workers"):
            if getattr(self, name) < 1:
                raise ParameterError(f"skip-gram {name} must be at least 1, got {getattr(self, name)}")

    def as_dict(self) -> dict:
        return asdict(self)


def train_skipgram(sentences: list[list[str]], config: SkipGramConfig = SkipGramConfig()) -> KeyedVectors:
    """Train a skip-gram (``sg=1``, negative sampling) and return its word vectors.

    Parameters
    ----------
    sentences : list of list of str
        Tokenised corpus, e.g. :func:`core.words.corpus.build_music_corpus` sentences.
    config : SkipGramConfig

    Returns
    -------
    gensim.models.KeyedVectors
        With training counts stored (``get_vecattr(word, "count")``).
    """
    if not sentences or not any(sentences):
        raise ParameterError("cannot train a skip-gram on an empty corpus")
    model = Word2Vec(
        sentences=sentences, sg=1, hs=0, vector_size=config.vector_size, window=config.window,
        negative=config.negative, min_count=config.min_count, epochs=config.epochs,
        seed=config.seed, workers=config.workers,
    )
    return model.wv
