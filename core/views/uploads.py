"""Checks on uploaded clips, done in code as well as by Streamlit's ``server.maxUploadSize``."""

from __future__ import annotations

from pathlib import PurePath

from ..audio import AUDIO_EXTENSIONS
from ..errors import DataError

MAX_UPLOAD_MB = 20


def check_upload(filename: str, size_bytes: int, max_mb: float = MAX_UPLOAD_MB) -> None:
    """Raise :class:`DataError` if an upload has the wrong type or is too large."""
    suffix = PurePath(filename or "").suffix.lower()
    if suffix not in AUDIO_EXTENSIONS:
        raise DataError(f"{filename!r} is not a supported audio file; use one of {', '.join(AUDIO_EXTENSIONS)}")
    if size_bytes > max_mb * 1024 * 1024:
        raise DataError(f"{filename!r} is {size_bytes / 2**20:.1f} MB; the limit is {max_mb} MB. Upload a shorter clip.")
    if size_bytes == 0:
        raise DataError(f"{filename!r} is empty")
