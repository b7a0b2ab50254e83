"""Per-track feature cache: the ``log1p10`` log-mel spectrogram of every track.

Stored as float16 ``.npy`` files under ``<workspace>/features/mel/`` (half the
disk of float32; the rounding, about 1e-3 relative, is far below what the models
resolve). Files are written atomically, so an interrupted build never leaves a
truncated file, and a rebuild only computes what is missing.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

from .audio import N_MELS, load_audio, log_mel
from .errors import TagspaceError
from .paths import confined_path
from .progress import Progress, tqdm_progress
from .workspace import Workspace

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


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

    def path(self, track_id: str) -> Path:
        """Cache file of a track (it may not exist yet); a symbolic link leading out of the cache is refused."""
        return confined_path(self.directory, f"{safe_filename(track_id)}.npy")

    def has(self, track_id: str) -> bool:
        return self.path(track_id).is_file()

    def compute(self, track_id: str) -> np.ndarray:
        """Log-mel of a track from its audio, without touching the cache."""
        return log_mel(load_audio(self.ws.audio_path(track_id)), scale="log1p10")

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
        path = self.path(track_id)
        if path.is_file():
            try:
                cached = np.load(path, allow_pickle=False)
                if cached.ndim == 2 and cached.shape[0] == N_MELS:
                    return cached.astype(np.float32)
            except (ValueError, OSError, EOFError):
                pass  # unreadable cache file (e.g. disk trouble): recompute and overwrite it
        mel = self.compute(track_id)
        self._write(path, mel)
        # return what later calls will read, so results never depend on cache state
        return mel.astype(np.float16).astype(np.float32)

    def _write(self, path: Path, mel: np.ndarray) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".npy")
        try:
            with os.fdopen(fd, "wb") as f:
                np.save(f, mel.astype(np.float16), allow_pickle=False)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def invalidate(self, track_ids: list[str]) -> int:
        """Delete the cached features of these tracks (e.g. their audio changed); returns how many existed."""
        removed = 0
        for tid in track_ids:
            path = self.path(tid)
            if path.is_file():
                path.unlink()
                removed += 1
        return removed

    def build(self, track_ids: list[str] | None = None, progress: Progress = tqdm_progress) -> dict:
        """Compute and cache the mel of every track that has none yet.

        Parameters
        ----------
        track_ids : list of str, optional
            Tracks to build; default every track in the catalog.
        progress : callable
            Progress wrapper (see :mod:`core.progress`).

        Returns
        -------
        dict
            ``computed`` and ``cached`` (numbers of tracks) and ``failed``
            (track id -> error message, for tracks whose audio could not be read;
            they are skipped, not fatal, and retried on the next build).
        """
        ids = self.ws.catalog.track_ids if track_ids is None else [str(t) for t in track_ids]
        todo = [t for t in ids if not self.has(t)]
        failed: dict[str, str] = {}
        for tid in progress(todo, total=len(todo), desc="mel features"):
            try:
                self._write(self.path(tid), self.compute(tid))
            except TagspaceError as err:
                failed[tid] = str(err)
        return {"computed": len(todo) - len(failed), "cached": len(ids) - len(todo), "failed": failed}


def build_features(ws: Workspace, demo, progress: Progress = tqdm_progress) -> dict:
    """``build-demo`` step: cache the mel of every catalog track; report failures on stderr."""
    summary = FeatureStore(ws).build(progress=progress)
    for tid, message in summary["failed"].items():
        print(f"[features] skipped {tid}: {message}", file=sys.stderr)
    return summary
