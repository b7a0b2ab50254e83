"""Progress reporting for long steps (training, feature extraction, UMAP, ...).

Long functions take a ``progress`` argument: a callable ``progress(iterable,
total=..., desc=...)`` returning an iterable. The CLI passes :func:`tqdm_progress`;
the app passes a wrapper around ``st.progress``; tests pass :func:`silent`.
"""

from __future__ import annotations

import sys
from typing import Callable, Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
Progress = Callable[..., Iterable]


def tqdm_progress(iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    """Progress bar on stderr."""
    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, dynamic_ncols=True, leave=False)


def silent(iterable: Iterable[T], total: int | None = None, desc: str = "") -> Iterable[T]:
    """No progress output."""
    return iterable
