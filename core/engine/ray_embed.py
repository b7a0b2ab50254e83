"""Embedding extraction on Ray (``python -m core embed --engine ray``): many workers, GPUs, resumable.

The catalog's tracks are cut into shards of ``shard_tracks`` tracks (catalog order).
Ray Data reads the tracks of the unfinished shards in blocks; CPU tasks produce each
track's log-mel (:meth:`core.features.FeatureStore.mel`: decoded and computed from
the audio, or read from the feature store, exactly the input of the local engine);
an actor pool runs the model (one GPU per actor where the cluster has GPUs, CPU
actors otherwise) with :func:`core.engine.embed.encode_tracks`. The driver groups the
vectors by shard and writes each finished shard at once under
``cache/embedding-shards/<model>/<run key>/``; the run key hashes the embeddings'
source key (:func:`core.engine.embed.source_key`: checkpoint, catalog, config, word
files) with the shard size, and every shard file repeats the source key and its track
ids. A shard that is on disk and matches is never computed again: after a crash or
an interruption the next run does only the others. When every shard is there they
are merged into the standard ``embeddings/<model>/`` files
(:func:`core.engine.embed.complete_embeddings`, which also encodes the terms on the
driver) and the shard directory is removed.

Every Ray node needs this Python environment and the workspace at the same path
(shared storage): tasks and actors open the workspace by its path.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import errors as error_classes
from ..errors import CheckpointError, DataError, ParameterError, TagspaceError
from ..fileio import sha256_file, write_atomic
from ..progress import Progress, silent
from ..workspace import Workspace
from .embed import (EmbeddingSet, complete_embeddings, embeddings_current, encode_tracks, load_embeddings,
                    model_and_words, source_key)

#: Tracks per shard (the unit of resumption).
SHARD_TRACKS = 256
SHARD_FORMAT = 1
#: Logical CPUs of one decode task; CPU actors leave at least this much to decoding.
DECODE_CPUS = 0.5
RAY_REQUIREMENT = "ray[data]==2.60.0"


# ------------------------------------------------------------------ shards
def _source_text(key: dict) -> str:
    return json.dumps(key, sort_keys=True)


class ShardStore:
    """The shard files of one extraction (one source key and shard size).

    Parameters
    ----------
    ws : Workspace
    model_name : str
    key : dict
        :func:`core.engine.embed.source_key` of the model.
    track_ids : list of str
        The catalog's track ids, in catalog order.
    shard_tracks : int
        Tracks per shard.
    """

    def __init__(self, ws: Workspace, model_name: str, key: dict, track_ids: list[str],
                 shard_tracks: int = SHARD_TRACKS):
        if shard_tracks < 1:
            raise ParameterError(f"shard_tracks must be >= 1, got {shard_tracks}")
        self.key, self.track_ids, self.shard_tracks = key, list(track_ids), int(shard_tracks)
        run_key = hashlib.sha256(
            json.dumps({"format": SHARD_FORMAT, "source": key, "shard_tracks": self.shard_tracks},
                       sort_keys=True).encode()).hexdigest()[:16]
        self.model_directory = ws.cache_dir / "embedding-shards" / model_name
        self.directory = self.model_directory / run_key

    @property
    def n_shards(self) -> int:
        return -(-len(self.track_ids) // self.shard_tracks)

    def ids(self, shard: int) -> list[str]:
        """Track ids of one shard."""
        return self.track_ids[shard * self.shard_tracks:(shard + 1) * self.shard_tracks]

    def path(self, shard: int) -> Path:
        return self.directory / f"shard-{shard:06d}.npz"

    def read(self, shard: int) -> np.ndarray | None:
        """The shard's ``(n, dim)`` vectors, or None if it is absent, unreadable or of another source."""
        path = self.path(shard)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["source"]) != _source_text(self.key) or data["track_ids"].tolist() != self.ids(shard):
                    return None
                vectors = np.asarray(data["vectors"])
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None  # e.g. disk trouble: computed again
        if vectors.ndim != 2 or len(vectors) != len(self.ids(shard)) or not np.isfinite(vectors).all():
            return None
        return vectors.astype(np.float32, copy=False)

    def finished(self) -> set[int]:
        """Shards on disk that match (never computed again)."""
        return {i for i in range(self.n_shards) if self.read(i) is not None}

    def write(self, shard: int, vectors: np.ndarray) -> None:
        """Write one shard atomically, with its track ids and the source key."""
        ids = self.ids(shard)
        if vectors.shape[0] != len(ids):
            raise ValueError(f"shard {shard} has {len(ids)} tracks, got {vectors.shape[0]} vectors")

        def save(tmp: Path) -> None:
            with open(tmp, "wb") as f:
                np.savez(f, track_ids=np.array(ids, dtype=str), vectors=vectors.astype(np.float32),
                         source=np.array(_source_text(self.key)))

        write_atomic(self.path(shard), save)

    def merge(self) -> np.ndarray:
        """Every shard's vectors in catalog order (all must be finished)."""
        parts = []
        for i in range(self.n_shards):
            vectors = self.read(i)
            if vectors is None:
                raise CheckpointError(f"shard {self.path(i)} is missing or does not match; run the extraction again")
            parts.append(vectors)
        return np.concatenate(parts)

    def remove_stale(self) -> None:
        """Delete the shards of other source keys or shard sizes (a retrained model, a changed catalog)."""
        if self.model_directory.is_dir():
            for other in self.model_directory.iterdir():
                if other != self.directory:
                    shutil.rmtree(other, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.model_directory, ignore_errors=True)


# ----------------------------------------------------------------- workers
@dataclass(frozen=True)
class WorkerLayout:
    """The actor pool: ``workers`` actors of ``cpus`` logical CPUs and ``gpus`` GPUs each."""

    workers: int
    cpus: float
    gpus: float

    @property
    def device(self) -> str:
        return "cuda" if self.gpus > 0 else "cpu"


def worker_layout(resources: dict, gpus_per_worker: float | None = None, workers: int | None = None,
                  cpus_per_worker: float = 1.0) -> WorkerLayout:
    """Size the actor pool from a Ray cluster's resources.

    Parameters
    ----------
    resources : dict
        ``ray.cluster_resources()`` (``CPU``, ``GPU``).
    gpus_per_worker : float, optional
        GPUs of one model actor; default 1 when the cluster has a GPU, else 0 (CPU actors).
    workers : int, optional
        Model actors; default as many as the GPUs hold, or as the CPUs hold while
        leaving a quarter of them (at least :data:`DECODE_CPUS`) to decoding.
    cpus_per_worker : float
        Logical CPUs of one CPU actor (its torch threads: at least 1).

    Raises
    ------
    ParameterError
        GPUs asked for but absent, or more actors than the cluster can hold.
    """
    cpus, gpus = float(resources.get("CPU", 0)), float(resources.get("GPU", 0))
    if gpus_per_worker is None:
        gpus_per_worker = 1.0 if gpus >= 1 else 0.0
    if gpus_per_worker < 0 or cpus_per_worker <= 0:
        raise ParameterError(f"gpus per worker must be >= 0 and cpus per worker > 0, "
                             f"got {gpus_per_worker} and {cpus_per_worker}")
    if workers is not None and workers < 1:
        raise ParameterError(f"workers must be >= 1, got {workers}")
    if gpus_per_worker > 0:
        if gpus < gpus_per_worker:
            raise ParameterError(f"--gpus-per-worker {gpus_per_worker:g} asks for GPUs but the Ray cluster has "
                                 f"{gpus:g}; use --gpus-per-worker 0 for CPU workers")
        cpus_per_worker, most = 1.0, int(gpus // gpus_per_worker)
    else:
        most = max(1, int((cpus - max(DECODE_CPUS, cpus / 4)) // cpus_per_worker))
    workers = workers or most
    if workers > most or workers * cpus_per_worker + DECODE_CPUS > cpus:
        raise ParameterError(f"{workers} worker(s) of {cpus_per_worker:g} CPU and {gpus_per_worker:g} GPU do not fit "
                             f"the Ray cluster ({cpus:g} CPUs, {gpus:g} GPUs, {DECODE_CPUS} CPU kept for decoding)")
    return WorkerLayout(workers=workers, cpus=cpus_per_worker, gpus=float(gpus_per_worker))


@lru_cache(maxsize=4)
def _workspace(root: str) -> Workspace:
    return Workspace.open(root)


def decode_mels(batch: dict, root: str) -> dict:
    """Ray Data task: each track's log-mel, as float16 bytes and its frame count (the feature store's values).

    A track whose audio fails gets no mel and its error in ``error`` (``"<class>: <message>"``,
    else empty): Ray would pass the exception on wrapped, its class and message lost.
    """
    from ..features import FeatureStore

    store = FeatureStore(_workspace(root))
    mels, errors = [], []
    for track_id in batch["track_id"]:
        try:
            mels.append(store.mel(str(track_id)).astype(np.float16))
            errors.append("")
        except TagspaceError as err:
            mels.append(np.zeros((0, 0), dtype=np.float16))
            errors.append(f"{type(err).__name__}: {err}")
    return {"track_id": batch["track_id"], "shard": batch["shard"], "error": np.array(errors, dtype=object),
            "frames": np.array([m.shape[1] for m in mels], dtype=np.int64),
            "mel": np.array([m.tobytes() for m in mels], dtype=object)}


def raise_track_error(error: str) -> None:
    """Raise, as its own class, the error :func:`decode_mels` recorded for a track."""
    name, _, message = error.partition(": ")
    cls = getattr(error_classes, name, None)
    if not (isinstance(cls, type) and issubclass(cls, TagspaceError)):
        cls, message = DataError, error
    raise cls(message)


class TrackEncoder:
    """Ray Data actor: the model on its device, encoding batches of mels.

    It refuses to start if the checkpoint on disk is not the one of the source key
    (the model was retrained while the extraction ran).
    """

    def __init__(self, root: str, model_name: str, checkpoint_sha256: str, device: str, threads: int,
                 batch_size: int):
        import torch

        from ..models.checkpoint import load_model

        ws = _workspace(root)
        checkpoint = ws.models_dir / model_name / "model.pt"
        if sha256_file(checkpoint) != checkpoint_sha256:
            raise CheckpointError(f"{checkpoint} changed during the extraction; run it again")
        if device == "cuda" and not torch.cuda.is_available():
            raise ParameterError("this Ray worker was given a GPU but torch sees no CUDA device")
        torch.set_num_threads(max(1, threads))
        self.model = load_model(ws, model_name).to(device)
        self.batch_size = batch_size

    def __call__(self, batch: dict) -> dict:
        ok = np.array([not e for e in batch["error"]], dtype=bool)  # tracks without mel stay zero
        mels = [np.frombuffer(raw, dtype=np.float16).reshape(-1, int(frames)).astype(np.float32)
                for raw, frames, good in zip(batch["mel"], batch["frames"], ok) if good]
        vectors = np.zeros((len(ok), self.model.dim), dtype=np.float32)
        vectors[ok] = encode_tracks(self.model, mels, len(mels), self.batch_size)
        return {"track_id": batch["track_id"], "shard": batch["shard"], "error": batch["error"], "vector": vectors}


# ----------------------------------------------------------------- driver
def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401  (the extra of ray[data])
    except ImportError as err:
        raise ParameterError(f"--engine ray needs Ray: pip install \"{RAY_REQUIREMENT}\" ({err})") from None
    return ray


@contextmanager
def ray_session(address: str | None = None):
    """Ray for the block: the one initialised in this process, else ``address`` joined (or a
    local Ray started) and shut down at the end. Yields the ``ray`` module."""
    ray = _import_ray()
    if ray.is_initialized():
        yield ray
        return
    ray.init(address=address, include_dashboard=False, logging_level="warning")
    try:
        yield ray
    finally:
        ray.shutdown()


def _finished_shards(ray, ws: Workspace, model_name: str, store: ShardStore, pending: list[int],
                     layout: WorkerLayout, batch_size: int) -> Iterator[int]:
    """Run the pipeline over the pending shards; write each shard as soon as all its tracks are back."""
    import pandas as pd

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    blocks = [pd.DataFrame({"track_id": store.ids(shard), "shard": shard}) for shard in pending]
    root = str(ws.root.resolve())
    ds = ray.data.from_pandas(blocks)  # one block per shard
    ds = ds.map_batches(decode_mels, fn_kwargs={"root": root}, batch_format="numpy", num_cpus=DECODE_CPUS)
    ds = ds.map_batches(TrackEncoder, batch_size=batch_size, batch_format="numpy",
                        fn_constructor_kwargs={"root": root, "model_name": model_name,
                                               "checkpoint_sha256": store.key["checkpoint_sha256"],
                                               "device": layout.device, "threads": int(layout.cpus),
                                               "batch_size": batch_size},
                        compute=ray.data.ActorPoolStrategy(size=layout.workers), num_cpus=layout.cpus,
                        num_gpus=layout.gpus or None)
    received: dict[int, dict[str, np.ndarray]] = {}
    for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
        for track_id, shard, error, vector in zip(batch["track_id"], batch["shard"], batch["error"],
                                                  batch["vector"]):
            if error:
                raise_track_error(str(error))
            shard = int(shard)
            got = received.setdefault(shard, {})
            got[str(track_id)] = vector
            if len(got) == len(store.ids(shard)):
                store.write(shard, np.stack([got[t] for t in store.ids(shard)]))
                del received[shard]
                yield shard


def extract_embeddings_ray(ws: Workspace, model_name: str, *, address: str | None = None,
                           gpus_per_worker: float | None = None, workers: int | None = None,
                           cpus_per_worker: float = 1.0, batch_size: int = 16,
                           shard_tracks: int = SHARD_TRACKS, force: bool = False,
                           progress: Progress = silent) -> EmbeddingSet:
    """Extract (or load, if current) the embeddings of one model on a Ray cluster.

    Same result as :func:`core.engine.embed.extract_embeddings` (the same files,
    vectors equal up to float rounding); see the module docstring for the shards.

    Parameters
    ----------
    ws : Workspace
    model_name : str
    address : str, optional
        Ray cluster to join (``ray.init(address=...)``); default: the Ray already
        initialised in this process, else a new local one (stopped at the end).
    gpus_per_worker, workers, cpus_per_worker
        The actor pool (:func:`worker_layout`).
    batch_size : int
        Tracks per forward pass (and per actor call).
    shard_tracks : int
        Tracks per shard.
    force : bool
        Recompute everything, even finished shards and current embeddings.
    progress : callable
        Wraps the stream of finished shards (see :mod:`core.progress`); an exception
        raised there stops the run like a crash, leaving the shards written so far.

    Returns
    -------
    EmbeddingSet
        ``meta["engine"]``: ``name`` (``ray``), ``shards``, ``shards_reused`` (found
        finished on disk), ``shards_computed``, ``workers``, ``gpus_per_worker``.
    """
    if batch_size < 1:
        raise ParameterError(f"batch_size must be >= 1, got {batch_size}")
    key = source_key(ws, model_name)
    if not force and embeddings_current(ws, model_name):
        return load_embeddings(ws, model_name)
    started = time.perf_counter()
    store = ShardStore(ws, model_name, key, ws.catalog.track_ids, shard_tracks)
    if force:
        store.remove()
    store.remove_stale()
    done = store.finished()
    pending = [i for i in range(store.n_shards) if i not in done]
    layout = None
    if pending:
        with ray_session(address) as ray:
            layout = worker_layout(ray.cluster_resources(), gpus_per_worker, workers, cpus_per_worker)
            for _ in progress(_finished_shards(ray, ws, model_name, store, pending, layout, batch_size),
                              total=len(pending), desc=f"{model_name} shards"):
                pass
    model, words = model_and_words(ws, model_name)
    engine = {"name": "ray", "shards": store.n_shards, "shard_tracks": store.shard_tracks,
              "shards_reused": len(done), "shards_computed": len(pending),
              "workers": layout.workers if layout else 0, "gpus_per_worker": layout.gpus if layout else 0.0}
    emb = complete_embeddings(ws, model_name, key, model, words, store.track_ids, store.merge(),
                              device=layout.device if layout else "none (every shard was finished)",
                              started=started, extra_meta={"engine": engine})
    store.remove()
    return emb
