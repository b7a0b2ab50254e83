"""Embedding extraction: every catalog track and every term a model can encode, cached.

Files under ``ws.embeddings_dir / <model>``::

    tracks.npy       (n_tracks, dim) float32, rows follow track_ids.json
    track_ids.json   catalog track ids
    terms.npy        (n_terms, dim) float32, rows follow terms.json
    terms.json       [{"term", "kind" ("tag"|"artist"), "category" (or null), "seen"}]
    meta.json        source key (checkpoint sha256, catalog fingerprint, config hash,
                     word-embedding fingerprint), metric, subspaces, terms not encodable

Vectors are stored ready to rank: L2-normalised for cosine models, raw otherwise.
The cache is valid while :func:`source_key` is unchanged; any change of the
checkpoint, the catalog, the model config or the word embedding invalidates it.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch

from ..errors import CheckpointError, DataError, VocabularyError
from ..fileio import read_json, sha256_file
from ..models.embedding_only import is_embedding_only, reads_audio
from ..paths import confined_path
from ..progress import Progress, silent
from ..workspace import Workspace

FORMAT_VERSION = 1
METRICS = ("cosine", "ip")


# ----------------------------------------------------------------- model facts
def model_metric(model) -> str:
    """How a model's vectors are compared: ``cosine`` (``normalized``) or ``ip`` (raw inner product).

    MFCC-VQ's Euclidean distance needs no third metric: its histograms are
    L2-normalised, so ranking by distance is ranking by cosine (see core.models.mfcc_vq).
    """
    return "cosine" if model.normalized else "ip"


def maps_word_vectors(model) -> bool:
    """True if the model overrides ``encode_word_vectors`` (zero-shot words)."""
    from ..models.base import EmbeddingModel

    return model.has_text and type(model).encode_word_vectors is not EmbeddingModel.encode_word_vectors


def prepare(vectors: np.ndarray, metric: str) -> np.ndarray:
    """float32 C-contiguous copy, rows L2-normalised for ``cosine`` (zero rows stay zero)."""
    out = np.array(vectors, dtype=np.float32, copy=True, order="C")
    if metric == "cosine" and out.size:
        norms = np.linalg.norm(out, axis=-1, keepdims=True)
        np.divide(out, norms, out=out, where=norms > 0)
    return out


# ------------------------------------------------------------------ cache key
def words_fingerprint(ws: Workspace, name: str) -> str:
    """Fingerprint of a stored word embedding (size and mtime of its files: cheap, changes on rebuild)."""
    files = sorted(p for p in ws.words_dir.glob(f"{name}.*") if p.is_file())
    if not files:
        raise DataError(f"word embedding {name!r} not found under {ws.words_dir}")
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.name}:{st.st_size}:{st.st_mtime_ns};".encode())
    return h.hexdigest()[:16]


def source_key(ws: Workspace, model_name: str) -> dict:
    """What the cached embeddings of a model depend on.

    Returns
    -------
    dict
        ``checkpoint_sha256``, ``catalog_fingerprint``, ``config_hash`` and
        ``word_embedding`` (name and file fingerprint, or None); for an
        embedding-only model ``imported_config_sha256`` (its ``config.json``,
        which records the imported files' hashes) and ``catalog_fingerprint``.
    """
    config = ws.model_config(model_name)
    if is_embedding_only(config):  # imported vectors: valid while their import (config.json) and the catalog are
        return {"imported_config_sha256": sha256_file(ws.models_dir / model_name / "config.json"),
                "catalog_fingerprint": ws.catalog.fingerprint()}
    checkpoint = ws.models_dir / model_name / "model.pt"
    if not checkpoint.is_file():
        raise CheckpointError(f"model {model_name!r} has no checkpoint file {checkpoint}")
    words = config.get("word_embedding")
    return {
        "checkpoint_sha256": sha256_file(checkpoint),
        "catalog_fingerprint": ws.catalog.fingerprint(),
        "config_hash": hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16],
        "word_embedding": None if not words else {"name": words, "fingerprint": words_fingerprint(ws, words)},
    }


# ----------------------------------------------------------------- the set
@dataclass
class EmbeddingSet:
    """Cached embeddings of one model (see the module docstring for the files).

    Attributes
    ----------
    model : str
        Model name.
    track_ids : list of str
    tracks : np.ndarray, (n_tracks, dim) float32
    terms : list of dict
        ``term``, ``kind`` (``tag`` | ``artist``), ``category`` (or None), ``seen``
        (True if in the model's own vocabulary, False if encoded zero-shot).
    term_vectors : np.ndarray, (n_terms, dim) float32
    meta : dict
        ``source`` (:func:`source_key`), ``metric``, ``dim``, ``subspaces``
        (name -> [start, stop]), ``family``, ``has_text``, ``maps_word_vectors``,
        ``unencodable`` (terms the model could not encode, with the reason).
    """

    model: str
    track_ids: list[str]
    tracks: np.ndarray
    terms: list[dict]
    term_vectors: np.ndarray
    meta: dict = field(default_factory=dict)

    @cached_property
    def track_row(self) -> dict[str, int]:
        return {t: i for i, t in enumerate(self.track_ids)}

    @cached_property
    def term_row(self) -> dict[str, int]:
        return {t["term"]: i for i, t in enumerate(self.terms)}

    @property
    def metric(self) -> str:
        return self.meta["metric"]

    @property
    def subspaces(self) -> dict[str, slice]:
        return {name: slice(a, b) for name, (a, b) in self.meta["subspaces"].items()}

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        # meta.json goes last and is what load() checks: a half-written set is never current
        (directory / "meta.json").unlink(missing_ok=True)
        np.save(directory / "tracks.npy", self.tracks)
        np.save(directory / "terms.npy", self.term_vectors)
        (directory / "track_ids.json").write_text(json.dumps(self.track_ids))
        (directory / "terms.json").write_text(json.dumps(self.terms, indent=0))
        tmp = directory / "meta.json.tmp"
        tmp.write_text(json.dumps(self.meta, indent=2, sort_keys=True))
        tmp.replace(directory / "meta.json")

    @classmethod
    def read(cls, directory: Path, model: str) -> "EmbeddingSet":
        """Read the files :meth:`save` wrote (never unpickled; a damaged file raises :class:`DataError` naming it)."""
        def file(name: str) -> Path:  # a symbolic link leading out of the folder is refused
            return confined_path(directory, name)

        return cls(model=model, track_ids=_read_list(file("track_ids.json")), tracks=_read_array(file("tracks.npy")),
                   terms=_read_list(file("terms.json")), term_vectors=_read_array(file("terms.npy")),
                   meta=read_json(file("meta.json")))


def _read_list(path: Path) -> list:
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list; run `python -m core embed --force` to rebuild it")
    return data


def _read_array(path: Path) -> np.ndarray:
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:  # object arrays, damaged headers, short files
        raise DataError(f"{path}: not a readable array ({err}); run `python -m core embed --force` "
                        "to rebuild it") from err
    if array.ndim != 2 or not np.issubdtype(array.dtype, np.floating):
        raise DataError(f"{path}: holds {array.dtype} {array.shape}, expected a float matrix")
    return array


def embeddings_path(ws: Workspace, model_name: str) -> Path:
    return confined_path(ws.embeddings_dir, model_name)


def embeddings_current(ws: Workspace, model_name: str) -> bool:
    """True if cached embeddings exist and match the checkpoint, catalog and config."""
    meta_path = embeddings_path(ws, model_name) / "meta.json"
    if not meta_path.is_file():
        return False
    try:
        meta = read_json(meta_path)
    except DataError:  # a damaged cache is a stale one
        return False
    return (isinstance(meta, dict) and meta.get("format") == FORMAT_VERSION
            and meta.get("source") == source_key(ws, model_name))


def load_embeddings(ws: Workspace, model_name: str) -> EmbeddingSet:
    """Cached embeddings of a model; never computes them.

    Raises
    ------
    DataError
        If they were never extracted or are stale (checkpoint, catalog, config
        or word embedding changed since); the message gives the command to run.
    """
    if not embeddings_current(ws, model_name):
        meta_path = embeddings_path(ws, model_name) / "meta.json"
        state = f"are out of date or damaged ({meta_path})" if meta_path.exists() else "are not computed"
        if not reads_audio(ws.model_config(model_name)) and not is_embedding_only(ws.model_config(model_name)):
            raise DataError(f"model {model_name!r} reads no audio (e.g. Won et al.'s cultural or hybrid branch, "
                            "which needs taste-profile vectors this workspace does not have): it has no track "
                            "vectors to search or map")
        if is_embedding_only(ws.model_config(model_name)):
            raise DataError(f"the imported vectors of model {model_name!r} {state} (the catalog changed since the "
                            f"import); run `python -m core embeddings import --workspace {ws.root} --name "
                            f"{model_name} ...` again")
        raise DataError(f"embeddings of model {model_name!r} {state}; run "
                        f"`python -m core embed --workspace {ws.root} --model {model_name}`")
    return EmbeddingSet.read(embeddings_path(ws, model_name), model_name)


# --------------------------------------------------------------- extraction
def _uses_base_encode_track(model) -> bool:
    from ..models.base import EmbeddingModel

    return type(model).encode_track is EmbeddingModel.encode_track


@torch.no_grad()
def encode_tracks(model, mels: Iterable[np.ndarray], n: int, batch_size: int = 16,
                  progress: Progress = silent) -> np.ndarray:
    """Track embeddings ``(n, dim)`` float32, several tracks per forward pass.

    For models using the base ``encode_track`` (mean of ``encode_audio`` over
    ``track_inputs``), the inputs of ``batch_size`` tracks are concatenated into
    one batch, which gives the same vectors as ``encode_track`` one by one
    (eval mode) in fewer, larger passes. Models that override ``encode_track``
    are called track by track.
    """
    device = next(model.parameters(), torch.zeros(0)).device
    out = np.zeros((n, model.dim), dtype=np.float32)
    was_training = model.training
    model.eval()
    try:
        if not _uses_base_encode_track(model):
            for i, mel in enumerate(progress(mels, total=n, desc="tracks")):
                out[i] = model.encode_track(mel)
            return out
        pending: list[torch.Tensor] = []
        start = 0

        def flush() -> None:
            nonlocal start
            counts = [len(p) for p in pending]
            vectors = model.encode_audio(torch.cat(pending).to(device)).float()
            for j, part in enumerate(torch.split(vectors, counts)):
                vector = part.mean(dim=0)
                if model.normalized:
                    vector = torch.nn.functional.normalize(vector, dim=0)
                out[start + j] = vector.cpu().numpy()
            start += len(pending)
            pending.clear()

        for mel in progress(mels, total=n, desc="tracks"):
            pending.append(model.track_inputs(mel))
            if len(pending) == batch_size:
                flush()
        if pending:
            flush()
        return out
    finally:
        model.train(was_training)


@torch.no_grad()
def encode_term_list(model, terms: list[str], words=None, batch_size: int = 256,
                     progress: Progress = silent) -> tuple[np.ndarray, list[str], list[dict]]:
    """Encode terms in batches; terms the model rejects are reported, not fatal.

    Returns
    -------
    vectors : np.ndarray, (n_encoded, dim) float32
    encoded : list of str
        The terms encoded, in input order.
    failed : list of dict
        ``{"term", "reason"}`` for each term the model could not encode.
    """
    chunks, encoded, failed = [], [], []
    was_training = model.training
    model.eval()
    try:
        batches = [terms[i:i + batch_size] for i in range(0, len(terms), batch_size)]
        for batch in progress(batches, total=len(batches), desc="terms"):
            try:
                chunks.append(model.encode_terms(batch, words=words).float().cpu().numpy())
                encoded.extend(batch)
                continue
            except VocabularyError:
                pass
            for term in batch:  # find which terms of the batch the model cannot encode
                try:
                    chunks.append(model.encode_terms([term], words=words).float().cpu().numpy())
                    encoded.append(term)
                except VocabularyError as err:
                    failed.append({"term": term, "reason": str(err)})
    finally:
        model.train(was_training)
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, model.dim), dtype=np.float32)
    return vectors.astype(np.float32), encoded, failed


def term_table(model, catalog) -> list[dict]:
    """Terms to encode: the model's vocabulary (``seen``), then catalog tags it lacks.

    A vocabulary term is a ``tag`` if it is a catalog tag or one of the model's
    ``vocab["tags"]``, else an ``artist`` (e.g. Muslse's ``artist:<id>`` terms).
    """
    if not model.has_text:
        return []
    categories = catalog.tag_categories()
    tags = set(categories) | set(getattr(model, "vocab", {}).get("tags", []))
    seen = list(dict.fromkeys(model.text_vocabulary()))
    rows = [{"term": t, "kind": "tag" if t in tags else "artist", "category": categories.get(t), "seen": True}
            for t in seen]
    seen_set = set(seen)
    rows += [{"term": t, "kind": "tag", "category": categories[t], "seen": False}
             for t in catalog.tags() if t not in seen_set]
    return rows


def model_and_words(ws: Workspace, model_name: str, model=None, words=None):
    """The model (loaded from its checkpoint unless given) and the word embedding its terms need (or None)."""
    if model is None:
        from ..models.checkpoint import load_model

        model = load_model(ws, model_name)
    word_embedding = ws.model_config(model_name).get("word_embedding")
    if words is None and model.has_text and word_embedding:
        from ..words import load_word_vectors

        words = load_word_vectors(ws, word_embedding)
    return model, words


def extract_embeddings(ws: Workspace, model_name: str, *, model=None, words=None,
                       mel: Callable[[str], np.ndarray] | None = None, batch_size: int = 16,
                       device: str | None = None, force: bool = False,
                       progress: Progress = silent) -> EmbeddingSet:
    """Extract (or load, if current) the embeddings of one model.

    Parameters
    ----------
    ws : Workspace
    model_name : str
        A model under ``ws.models_dir``.
    model : EmbeddingModel, optional
        Already loaded model (default: ``core.models.checkpoint.load_model``).
    words : WordVectors, optional
        Word embedding for zero-shot terms (default: the model's
        ``config["word_embedding"]``, if any).
    mel : callable, optional
        ``mel(track_id) -> (128, T)`` log1p10 mel (default: ``FeatureStore(ws).mel``).
    batch_size : int
        Tracks per forward pass.
    device : str, optional
        Torch device; default CUDA when available, else CPU.
    force : bool
        Recompute even if the cache is current.
    progress : callable
        See :mod:`core.progress`.

    Returns
    -------
    EmbeddingSet
        For an embedding-only model (imported vectors), its stored set: nothing is computed.
    """
    config = ws.model_config(model_name)
    if is_embedding_only(config):  # nothing to compute: the vectors were imported (stale ones raise, naming the fix)
        return load_embeddings(ws, model_name)
    key = source_key(ws, model_name)
    if not force and embeddings_current(ws, model_name):
        return load_embeddings(ws, model_name)
    model, words = model_and_words(ws, model_name, model, words)
    if mel is None:
        from ..features import FeatureStore

        mel = FeatureStore(ws).mel
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    track_ids = ws.catalog.track_ids

    start = time.perf_counter()
    original_device = next(model.parameters(), torch.zeros(0)).device
    model.to(device)
    try:
        tracks = encode_tracks(model, (mel(t) for t in track_ids), len(track_ids), batch_size, progress)
        return complete_embeddings(ws, model_name, key, model, words, track_ids, tracks,
                                   device=str(device), started=start, progress=progress)
    finally:
        model.to(original_device)


def complete_embeddings(ws: Workspace, model_name: str, key: dict, model, words, track_ids: list[str],
                        tracks: np.ndarray, *, device: str, started: float, extra_meta: dict | None = None,
                        progress: Progress = silent) -> EmbeddingSet:
    """Encode the terms, then write the set of tracks already encoded (any engine) with its meta.

    Parameters
    ----------
    key : dict
        :func:`source_key` taken before the tracks were encoded.
    model : EmbeddingModel
        Encodes the terms where it is (its device).
    tracks : np.ndarray, (len(track_ids), dim)
        Raw track vectors in catalog order (:func:`prepare` is applied here).
    device : str
        Where the tracks were encoded (``meta["device"]``).
    started : float
        ``time.perf_counter()`` when extraction began (``meta["seconds"]``).
    extra_meta : dict, optional
        More ``meta.json`` fields (e.g. the engine that encoded the tracks).
    """
    metric = model_metric(model)
    rows = term_table(model, ws.catalog)
    vectors, encoded, failed = encode_term_list(model, [r["term"] for r in rows], words, progress=progress)
    by_term = {r["term"]: r for r in rows}
    terms = [by_term[t] for t in encoded]
    meta = {
        "format": FORMAT_VERSION,
        "model": model_name,
        "family": model.family,
        "variant": model.variant,
        "source": key,
        "metric": metric,
        "dim": model.dim,
        "subspaces": {name: [sl.start or 0, sl.stop] for name, sl in model.subspaces().items()},
        "has_text": bool(model.has_text),
        "maps_word_vectors": maps_word_vectors(model),
        "n_tracks": len(track_ids),
        "n_terms": len(terms),
        "unencodable": failed,
        "device": device,
        "seconds": round(time.perf_counter() - started, 3),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **(extra_meta or {}),
    }
    emb = EmbeddingSet(model_name, track_ids, prepare(tracks, metric), terms, prepare(vectors, metric), meta)
    emb.save(embeddings_path(ws, model_name))
    return emb
