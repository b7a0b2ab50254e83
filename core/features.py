"""Per-track feature cache: the ``log1p10`` log-mel spectrogram of every track.

Stored as float16 under ``<workspace>/features/mel/`` (half the disk of float32; the
rounding, about 1e-3 relative, is far below what the models resolve), in two layouts
read side by side:

- **shards** (what :meth:`FeatureStore.build` writes): ``shard-<key>.npz`` holding the
  mels of a chunk of tracks, plus ``shard-<key>.json`` naming its tracks, written after the
  ``.npz`` (a shard without its ``.json`` is incomplete and ignored). Each worker of the
  process pool writes its own shards, so parallel workers never share a file, and a
  catalog of a million tracks is thousands of files, not a million.
- **single files** ``<track>.npy`` (what :meth:`FeatureStore.mel` writes on a cache miss,
  and what earlier versions wrote for every track): still read.

Every file is written atomically, so an interrupted build never leaves a truncated file,
and a rebuild only computes what is missing. The parallel build computes exactly what the
serial one does (the same function per track, in a worker process): the float16 arrays are
bit-identical.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np

from .audio import N_MELS, load_audio, log_mel
from .cores import hold_threads, pool_workers
from .errors import TagspaceError
from .fileio import write_json
from .paths import confined_path
from .progress import Progress, tqdm_progress
from .workspace import Workspace

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
SHARD_FORMAT = 1
#: Most tracks per shard: small enough that the pool balances its load, large enough for few files.
MAX_SHARD_TRACKS = 64
#: Tracks whose audio could not be decoded, with the audio file's size and mtime then
#: (``build`` retries a track only when its file changed).
FAILED_FILE = "failed.json"


def safe_filename(track_id: str) -> str:
    """File name stem for a track id: unchanged if already safe, else sanitised plus a hash.

    The hash keeps distinct ids distinct after sanitising (``a/b`` and ``a_b``).
    """
    track_id = str(track_id)
    safe = _UNSAFE.sub("_", track_id)
    if safe == track_id and not track_id.startswith("."):
        return track_id
    digest = hashlib.sha1(track_id.encode("utf-8")).hexdigest()[:10]
    return f"{safe.lstrip('.')[:80]}-{digest}"


def compute_mel(path: str | os.PathLike) -> np.ndarray:
    """The cached form of a track's mel: ``log1p10`` log-mel of its audio, float16."""
    return log_mel(load_audio(path), scale="log1p10").astype(np.float16)


def _audio_signature(path: Path) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return f"{st.st_size}:{st.st_mtime_ns}"


def _write_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, array, allow_pickle=False)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shard_key(track_ids: list[str]) -> str:
    """Name of the shard holding exactly these tracks (the same chunk always gets the same name)."""
    return hashlib.sha1("\n".join(track_ids).encode("utf-8")).hexdigest()[:16]


def write_shard(directory: str | os.PathLike, jobs: list[tuple[str, str]]) -> dict[str, str]:
    """Compute the mels of ``jobs`` (track id, audio path) and store them as one shard.

    Runs in a worker process (or in-process for the serial path). Returns the tracks
    that failed, with the error message; the others are in the shard.
    """
    directory = Path(directory)
    mels, members, failed = {}, {}, {}
    for i, (track_id, path) in enumerate(jobs):
        try:
            mels[f"m{i}"] = compute_mel(path)
            members[track_id] = f"m{i}"
        except TagspaceError as err:
            failed[track_id] = str(err)
    if members:
        key = shard_key([t for t, _ in jobs])
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=".npz")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **mels)
            os.replace(tmp, directory / f"shard-{key}.npz")
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        write_json(directory / f"shard-{key}.json", {"format": SHARD_FORMAT, "tracks": members})  # marks it complete
    return failed


def _chunks(jobs: list[tuple[str, str]], workers: int) -> list[list[tuple[str, str]]]:
    size = max(1, min(MAX_SHARD_TRACKS, -(-len(jobs) // (4 * workers))))
    return [jobs[i:i + size] for i in range(0, len(jobs), size)]


class FeatureStore:
    """Cached log-mel spectrograms of a workspace's tracks.

    Parameters
    ----------
    ws : Workspace
        The workspace; audio is read through :meth:`Workspace.audio_path`
        (confined to its audio root).
    """

    def __init__(self, ws: Workspace):
        self.ws = ws
        self.directory = ws.features_dir / "mel"
        self._shards: dict[str, tuple[Path, str]] | None = None

    # ------------------------------------------------------------ shard index
    def _shard_index(self, refresh: bool = False) -> dict[str, tuple[Path, str]]:
        """track id -> (shard file, member), from the shards' ``.json`` files."""
        if self._shards is None or refresh:
            index = {}
            for meta in sorted(self.directory.glob("shard-*.json")):
                try:
                    members = json.loads(meta.read_text())["tracks"]
                except (OSError, ValueError, KeyError, TypeError):
                    continue  # unreadable: its tracks count as missing and are recomputed
                npz = meta.with_suffix(".npz")
                index.update({str(t): (npz, str(m)) for t, m in members.items()})
            self._shards = index
        return self._shards

    def path(self, track_id: str) -> Path:
        """Cache file of a track (it may not exist yet); a symbolic link leading out of the cache is refused."""
        return confined_path(self.directory, f"{safe_filename(track_id)}.npy")

    def has(self, track_id: str) -> bool:
        return str(track_id) in self._shard_index() or self.path(track_id).is_file()

    def cached_ids(self) -> set[str]:
        """Every track id with a cached mel (in a shard or a single file)."""
        ids = set(self._shard_index(refresh=True))
        if self.ws.has_catalog():
            ids |= {t for t in self.ws.catalog.track_ids if self.path(t).is_file()}
        return ids

    def compute(self, track_id: str) -> np.ndarray:
        """Log-mel of a track from its audio, without touching the cache."""
        return log_mel(load_audio(self.ws.audio_path(track_id)), scale="log1p10")

    def _read_cached(self, track_id: str) -> np.ndarray | None:
        entry = self._shard_index().get(str(track_id))
        candidates = []
        if entry is not None:
            candidates.append(entry)
        path = self.path(track_id)
        if path.is_file():
            candidates.append((path, None))
        for file, member in candidates:
            try:
                if member is None:
                    cached = np.load(file, allow_pickle=False)
                else:
                    with np.load(file, allow_pickle=False) as shard:
                        cached = shard[member]
                if cached.ndim == 2 and cached.shape[0] == N_MELS:
                    return cached.astype(np.float32)
            except (ValueError, OSError, EOFError, KeyError):
                continue  # unreadable cache file (e.g. disk trouble): try the next, else recompute
        return None

    def mel(self, track_id: str) -> np.ndarray:
        """Log-mel spectrogram of a track, computed and cached on first use.

        Returns
        -------
        np.ndarray, shape (128, T), float32
            ``log10(1 + 10 S)`` scale, 512-sample frames at 22,050 Hz.

        Raises
        ------
        VocabularyError
            If the track is not in the catalog.
        AudioError
            If its audio is missing or undecodable.
        """
        cached = self._read_cached(track_id)
        if cached is not None:
            return cached
        mel = self.compute(track_id)
        self._write(self.path(track_id), mel)
        # return what later calls will read, so results never depend on cache state
        return mel.astype(np.float16).astype(np.float32)

    def _write(self, path: Path, mel: np.ndarray) -> None:
        _write_npy(path, mel.astype(np.float16))

    def invalidate(self, track_ids: list[str]) -> int:
        """Forget the cached features of these tracks (e.g. their audio changed); returns how many existed.

        Single files are deleted; a shard's ``.json`` is rewritten without them (the shard
        is deleted once none of its tracks is left).
        """
        drop = {str(t) for t in track_ids}
        removed = 0
        for tid in drop:
            path = self.path(tid)
            if path.is_file():
                path.unlink()
                removed += 1
        for meta in sorted(self.directory.glob("shard-*.json")):
            try:
                members = json.loads(meta.read_text())["tracks"]
            except (OSError, ValueError, KeyError, TypeError):
                continue
            kept = {t: m for t, m in members.items() if t not in drop}
            if len(kept) == len(members):
                continue
            removed += len(members) - len(kept)
            if kept:
                write_json(meta, {"format": SHARD_FORMAT, "tracks": kept})
            else:
                meta.unlink()
                meta.with_suffix(".npz").unlink(missing_ok=True)
        self._shards = None
        return removed

    # ---------------------------------------------------------------- building
    def _failures(self) -> dict:
        try:
            failed = json.loads((self.directory / FAILED_FILE).read_text())
        except (OSError, ValueError):
            return {}
        return failed if isinstance(failed, dict) else {}

    def missing(self, track_ids: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
        """Tracks to compute, and tracks left out because their audio failed before and is unchanged.

        Returns
        -------
        todo : list of str
        known_failures : dict
            track id -> the error recorded when its (unchanged) audio failed to decode.
        """
        ids = self.ws.catalog.track_ids if track_ids is None else [str(t) for t in track_ids]
        cached = self.cached_ids()
        failures = self._failures()
        todo, known = [], {}
        for tid in ids:
            if tid in cached:
                continue
            record = failures.get(tid)
            if record is not None and record.get("audio") is not None and \
                    record.get("audio") == _audio_signature(self._audio_path_or_none(tid)):
                known[tid] = record.get("error", "")
                continue
            todo.append(tid)
        return todo, known

    def _audio_path_or_none(self, track_id: str) -> Path:
        try:
            return self.ws.audio_path(track_id)
        except TagspaceError:
            return self.directory / "\0-no-audio"  # a path that never exists: signature None

    def build(self, track_ids: list[str] | None = None, progress: Progress = tqdm_progress,
              workers: int | None = None) -> dict:
        """Compute and cache the mel of every track that has none yet, on ``workers`` processes.

        Parameters
        ----------
        track_ids : list of str, optional
            Tracks to build; default every track in the catalog.
        progress : callable
            Progress wrapper (see :mod:`core.progress`), over the tracks done.
        workers : int, optional
            Worker processes (default: every idle core, :func:`core.cores.pool_workers`); 1 computes
            in this process. Either way the stored arrays are the same, bit for bit.

        Returns
        -------
        dict
            ``computed`` and ``cached`` (numbers of tracks) and ``failed`` (track id ->
            error message, for tracks whose audio could not be read; they are skipped,
            not fatal, recorded, and retried once their audio file changes).
        """
        ids = self.ws.catalog.track_ids if track_ids is None else [str(t) for t in track_ids]
        todo, known = self.missing(ids)
        failed: dict[str, str] = dict(known)
        jobs = []
        for tid in todo:
            try:
                jobs.append((tid, str(self.ws.audio_path(tid))))
            except TagspaceError as err:
                failed[tid] = str(err)
        workers = pool_workers(workers, len(jobs) or 1)
        chunks = _chunks(jobs, workers)
        bar = iter(progress(range(len(jobs)), total=len(jobs), desc="mel features"))

        def advance(n: int) -> None:
            for _ in range(n):
                next(bar, None)

        if workers == 1:
            for chunk in chunks:
                failed.update(write_shard(self.directory, chunk))
                advance(len(chunk))
        else:
            # one thread per worker: a worker left at every core spun BLAS threads against the others
            with ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=hold_threads,
                                     initargs=(1,)) as pool:
                futures = {pool.submit(write_shard, str(self.directory), chunk): len(chunk) for chunk in chunks}
                for future in as_completed(futures):
                    failed.update(future.result())
                    advance(futures[future])
        next(bar, None)  # let the progress wrapper finish
        self._record_failures(failed)
        self._shards = None
        new_failures = len([t for t in failed if t not in known])
        return {"computed": len(todo) - new_failures, "cached": len(ids) - len(todo) - len(known),
                "failed": failed}

    def _record_failures(self, failed: dict[str, str]) -> None:
        records = {tid: {"error": message, "audio": _audio_signature(self._audio_path_or_none(tid))}
                   for tid, message in failed.items()}
        path = self.directory / FAILED_FILE
        if records or path.exists():
            write_json(path, records, sort_keys=True)


def build_features(ws: Workspace, demo, progress: Progress = tqdm_progress) -> dict:
    """Pipeline step ``features``: cache the mel of every catalog track on every core; report failures on stderr.

    ``demo.workers`` (when set) caps the worker processes.
    """
    summary = FeatureStore(ws).build(progress=progress, workers=getattr(demo, "workers", None) or None)
    for tid, message in summary["failed"].items():
        print(f"[features] skipped {tid}: {message}", file=sys.stderr)
    return summary
