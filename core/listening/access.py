"""Rater links: opaque tokens bound to one test.

A rater link carries a random token (``secrets.token_urlsafe``); the database
keeps only its SHA-256, next to an opaque rater id and the one test the link
grants. The researcher's password is :mod:`core.listening.researcher`; which
pages a link reaches is :mod:`core.listening.roles`.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import urlencode, urlsplit

from sqlalchemy import insert, select

from ..errors import ParameterError, TagspaceError
from .db import ListeningDB, now_iso, raters, tests

#: Longest test id and rater token looked up (longer URL values are refused unread).
MAX_TEST_ID_LENGTH, MAX_TOKEN_LENGTH = 40, 200


class AccessDenied(TagspaceError):
    """A password or rater link was wrong, or grants something else."""


def token_hash(token: str) -> str:
    """SHA-256 hex digest of a rater token (what the database stores)."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_raters(db: ListeningDB, test_id: str, n: int) -> list[tuple[str, str]]:
    """Create ``n`` raters for a test.

    Returns
    -------
    list of (rater_id, token)
        The token appears only here; put it in the rater's link
        (:func:`rater_link`). It cannot be recovered from the database.
    """
    if n < 1:
        raise ParameterError(f"number of raters must be >= 1, got {n}")
    out = []
    with db.write() as conn:
        if conn.execute(select(tests.c.test_id).where(tests.c.test_id == test_id)).first() is None:
            raise ParameterError(f"unknown listening test {test_id!r}")
        for _ in range(n):
            rater_id, token = "r-" + secrets.token_hex(8), secrets.token_urlsafe(24)
            conn.execute(insert(raters).values(rater_id=rater_id, test_id=test_id,
                                               token_hash=token_hash(token), created_at=now_iso()))
            out.append((rater_id, token))
    return out


def authenticate_rater(db: ListeningDB, test_id: str, token: str) -> str:
    """The rater id a link token grants for ``test_id``.

    Raises
    ------
    AccessDenied
        If the token is unknown or belongs to another test.
    """
    if not test_id or not token or not isinstance(test_id, str) or not isinstance(token, str):
        raise AccessDenied("this page needs a rater link (with ?test=...&rater=...)")
    if len(test_id) > MAX_TEST_ID_LENGTH or len(token) > MAX_TOKEN_LENGTH:
        raise AccessDenied("this rater link is not valid for this test")
    with db.read() as conn:
        row = conn.execute(select(raters.c.rater_id, raters.c.test_id).where(
            raters.c.token_hash == token_hash(token))).first()
    if row is None or not hmac.compare_digest(row.test_id, test_id):
        raise AccessDenied("this rater link is not valid for this test")
    return row.rater_id


def rater_link(base_url: str, test_id: str, token: str) -> str:
    """URL of the rater page for one rater, e.g. ``http://host:8501/?test=..&rater=..``.

    The app routes any URL carrying ``rater`` to the rater page alone (see ``app.py``).
    """
    return f"{base_url.rstrip('/')}/?{urlencode({'test': test_id, 'rater': token})}"


def app_base_url(page_url: str | None, default: str = "http://localhost:8501") -> str:
    """``scheme://host:port`` of the page the researcher is on (for rater links)."""
    parts = urlsplit(page_url or "")
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else default
