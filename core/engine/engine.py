"""The engine of one workspace and model: what the app caches with ``st.cache_resource``.

An :class:`Engine` holds the model, its word embedding, its cached embeddings
and its index, and offers the primitives the queries in
:mod:`core.engine.queries` are built from. Reads (search, lookups) are
thread-safe; calls into the torch model (an uploaded clip, a zero-shot word)
are serialised by a lock because ``encode_track`` toggles the module's mode.
An uploaded clip is decoded and embedded once: the engine remembers the last
:data:`UPLOAD_CACHE_SIZE` uploads (vector or error) by content hash, so the
page's reruns (a slider move, another query with the same clip) never decode it again.
Loading never computes embeddings or projections: a missing or stale cache is
a :class:`~core.errors.DataError` naming the command that builds it.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Iterable

import numpy as np
import torch

from ..audio import MAX_CHANNELS, SAMPLE_RATE, SAMPLE_RATE_RANGE, decode_audio, log_mel
from ..errors import AudioError
from ..models.embedding_only import EmbeddingOnlyModel, is_embedding_only, unavailable_reason
from ..workspace import Workspace
from .embed import EmbeddingSet, load_embeddings, prepare
from .index import IndexConfig, TrackIndex, load_index
from .results import QueryError

#: Uploaded clips are cut to this many seconds (keeps on-the-fly embedding fast).
MAX_UPLOAD_SECONDS = 120.0
#: How many uploads an engine remembers (the embedding, or why it could not be read); the oldest go first.
UPLOAD_CACHE_SIZE = 32
#: Why a trained model lacks a capability, said after "model '<name>'" (embedding-only models:
#: :data:`core.models.embedding_only.UNAVAILABLE`).
TRAINED_UNAVAILABLE = {
    "audio": "has no audio side loaded",
    "text": "has no text side: it relates tracks to tracks only",
    "zero_shot": "does not map word vectors: it places only the terms it was trained on",
    "subspaces": "has one space, no named subspaces",
}


def exact_scores(query: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Inner products of one query with each row, in float64 (higher is closer)."""
    return np.asarray(vectors, dtype=np.float64) @ np.asarray(query, dtype=np.float64)


def _unreadable(err: AudioError) -> QueryError:
    low, high = SAMPLE_RATE_RANGE
    return QueryError(f"cannot read the uploaded audio: {err}",
                      f"upload a wav, flac, ogg or mp3 file with sound in it (at most {MAX_CHANNELS} channels, "
                      f"{low // 1000}-{high // 1000} kHz)")


class Engine:
    """Model, word vectors, embeddings and index of one model in one workspace.

    Build with :meth:`load`; the constructor takes already loaded parts (tests,
    benchmarks).

    Parameters
    ----------
    ws : Workspace or None
        Workspace (None for synthetic data).
    emb : EmbeddingSet
        The model's cached embeddings.
    model : EmbeddingModel or None
        Needed only for on-the-fly audio and zero-shot words.
    words : WordVectors or None
        The model's word embedding (zero-shot words).
    index : TrackIndex, optional
        Default: exact search over ``emb.tracks``.
    """

    def __init__(self, ws: Workspace | None, emb: EmbeddingSet, model=None, words=None,
                 index: TrackIndex | None = None):
        self.ws = ws
        self.emb = emb
        self.model = model
        self.words = words
        self.index = index if index is not None else TrackIndex(emb.tracks)
        self._model_lock = threading.Lock()
        self._uploads: OrderedDict[tuple[str, str | None], np.ndarray | tuple[str, str]] = OrderedDict()
        self._uploads_lock = threading.Lock()
        emb.tracks.flags.writeable = False  # shared across sessions: nobody may edit them
        emb.term_vectors.flags.writeable = False

    @classmethod
    def load(cls, ws: Workspace, model_name: str, config: IndexConfig = IndexConfig()) -> "Engine":
        """Load model, word embedding, cached embeddings and index; computes nothing.

        An embedding-only model (imported vectors) gets an
        :class:`~core.models.embedding_only.EmbeddingOnlyModel`: no checkpoint is read.

        Raises
        ------
        DataError
            If the embeddings were never extracted or are stale.
        CheckpointError
            If the model is missing.
        """
        emb = load_embeddings(ws, model_name)
        model_config = ws.model_config(model_name)
        if is_embedding_only(model_config):  # imported vectors: no network to load
            model = EmbeddingOnlyModel(model_name, model_config, emb.terms, emb.term_vectors)
            return cls(ws, emb, model, None, load_index(ws, emb, config))
        from ..models.checkpoint import load_model

        model = load_model(ws, model_name)
        model.eval()
        words = None
        word_name = ws.model_config(model_name).get("word_embedding")
        if word_name and emb.meta["maps_word_vectors"]:
            from ..words import load_word_vectors

            words = load_word_vectors(ws, word_name)
        return cls(ws, emb, model, words, load_index(ws, emb, config))

    # --------------------------------------------------------------- facts
    @property
    def name(self) -> str:
        return self.emb.model

    @property
    def metric(self) -> str:
        return self.emb.metric

    @property
    def subspaces(self) -> dict[str, slice]:
        return self.emb.subspaces

    @property
    def has_text(self) -> bool:
        return bool(self.emb.meta["has_text"])

    @property
    def maps_word_vectors(self) -> bool:
        return bool(self.emb.meta["maps_word_vectors"]) and self.words is not None

    @property
    def track_ids(self) -> list[str]:
        return self.emb.track_ids

    @property
    def capabilities(self) -> frozenset[str]:
        """The model's capabilities (empty without a model): pages disable what is missing."""
        return frozenset(self.model.capabilities) if self.model is not None else frozenset()

    def unavailable(self, capability: str) -> str | None:
        """Why this model cannot do ``capability`` (None if it can); the pages show it next to the disabled control."""
        if capability in self.capabilities:
            return None
        if isinstance(self.model, EmbeddingOnlyModel):
            return unavailable_reason(capability, self.name)
        return f"model {self.name!r} " + TRAINED_UNAVAILABLE.get(capability, f"lacks the {capability!r} capability")

    # ------------------------------------------------------------- vectors
    def track_row(self, track_id: str) -> int:
        row = self.emb.track_row.get(str(track_id))
        if row is None and self.ws is not None and str(track_id) in set(self.ws.catalog.track_ids):
            raise QueryError(f"model {self.name!r} has no vector for track {track_id!r} (its imported vectors "
                             "do not include it)", "pick another track")
        if row is None:
            raise QueryError(f"unknown track id {track_id!r}",
                             "pick a track from the catalog (search by title, artist or id)")
        return row

    def track_vector(self, track_id: str) -> np.ndarray:
        """Cached embedding of a catalog track (raises :class:`QueryError` if unknown)."""
        return self.emb.tracks[self.track_row(track_id)]

    def embed_audio(self, audio: bytes | np.ndarray, filename: str | None = None,
                    sr: int | None = None) -> np.ndarray:
        """Embed an uploaded clip on the fly, as extraction embeds catalog tracks.

        File content is decoded at most once per engine: the vector (or the
        error) is remembered by content hash and file name (see :data:`UPLOAD_CACHE_SIZE`).

        Parameters
        ----------
        audio : bytes or np.ndarray
            File content (wav, flac, ogg, mp3), or mono samples at ``sr``.
        filename : str, optional
            Original file name (named in errors).
        sr : int, optional
            Sample rate of an array (default 22,050 Hz).

        Returns
        -------
        np.ndarray, (dim,)
            Read-only for uploads (the cached vector itself).

        Raises
        ------
        QueryError
            If the audio cannot be read, is refused (too many channels, a
            sample rate out of range) or is empty.
        """
        if self.model is None:
            raise QueryError("this engine has no model loaded; it cannot embed audio")
        if "audio" not in self.capabilities:
            raise QueryError(self.unavailable("audio"), "pick a catalog track as the query, or a model that embeds audio")
        if isinstance(audio, (bytes, bytearray)):
            return self._embed_upload(bytes(audio), filename)
        try:
            y = np.asarray(audio, dtype=np.float32)
            if y.ndim != 1 or y.size == 0 or not np.all(np.isfinite(y)):
                raise AudioError("audio must be a non-empty mono array of finite samples")
            if sr is not None and sr != SAMPLE_RATE:
                import librosa

                y = librosa.resample(y, orig_sr=sr, target_sr=SAMPLE_RATE)
            return self._embed_samples(y[: int(MAX_UPLOAD_SECONDS * SAMPLE_RATE)])
        except AudioError as err:
            raise _unreadable(err) from err

    def _embed_upload(self, data: bytes, filename: str | None) -> np.ndarray:
        key = (hashlib.sha256(data).hexdigest(), filename)
        with self._uploads_lock:
            known = self._uploads.get(key)
            if known is not None:
                self._uploads.move_to_end(key)
        if known is None:
            try:
                known = self._embed_samples(decode_audio(data, filename or "the uploaded file",
                                                         duration=MAX_UPLOAD_SECONDS))
                known.flags.writeable = False
            except AudioError as err:
                unreadable = _unreadable(err)
                known = (unreadable.message, unreadable.hint)
            with self._uploads_lock:
                self._uploads[key] = known
                while len(self._uploads) > UPLOAD_CACHE_SIZE:
                    self._uploads.popitem(last=False)
        if isinstance(known, tuple):
            raise QueryError(*known)
        return known

    def _embed_samples(self, y: np.ndarray) -> np.ndarray:
        mel = log_mel(y, SAMPLE_RATE, scale="log1p10")
        with self._model_lock, torch.no_grad():
            vector = self.model.encode_track(mel)
        return prepare(vector, self.metric)

    def term_vector(self, term: str) -> np.ndarray | None:
        """Cached vector of a term (tag, artist) the model encodes, or None."""
        row = self.emb.term_row.get(term)
        return None if row is None else self.emb.term_vectors[row]

    def encode_word_vector(self, vector: np.ndarray) -> np.ndarray:
        """Map a raw word vector into the joint space (zero-shot words)."""
        if not self.maps_word_vectors:
            raise QueryError(f"model {self.name!r} cannot place words outside its vocabulary",
                             "use a tag from its vocabulary")
        with self._model_lock, torch.no_grad():
            out = self.model.encode_word_vectors(torch.as_tensor(np.asarray(vector, dtype=np.float32)[None]))
        return prepare(out.float().cpu().numpy()[0], self.metric)

    # -------------------------------------------------------------- search
    def rank(self, query: np.ndarray, k: int, exclude: Iterable[int] = ()) -> tuple[np.ndarray, np.ndarray]:
        """Rows and scores of the ``k`` tracks closest to ``query``, best first.

        The index proposes candidates (with a margin); they are re-scored
        exactly in float64 and ordered by score, then row, so the ranking
        equals a brute-force reference whenever the candidates contain its top ``k``.
        """
        exclude = set(int(r) for r in exclude)
        n = len(self.emb.track_ids)
        k = max(0, min(int(k), n - len(exclude)))
        if k == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        fetch = min(n, 2 * (k + len(exclude)) + 10)
        _, rows = self.index.search(np.asarray(query, dtype=np.float32), fetch)
        rows = np.array([r for r in rows[0] if r >= 0 and r not in exclude], dtype=np.int64)
        scores = exact_scores(query, self.emb.tracks[rows])
        order = np.lexsort((rows, -scores))[:k]
        return rows[order], scores[order]

    def subspace_scores(self, query: np.ndarray, vectors: np.ndarray) -> dict[str, np.ndarray]:
        """Unweighted per-subspace scores of ``query`` against each row of ``vectors``.

        Adds ``"track"`` (the full-vector score) when the model has several subspaces.
        """
        vectors = np.atleast_2d(vectors)
        out = {name: exact_scores(query[sl], vectors[:, sl]) for name, sl in self.subspaces.items()}
        if len(out) > 1:
            out["track"] = exact_scores(query, vectors)
        return out
