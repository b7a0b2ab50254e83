"""Access control: the researcher password and opaque rater links bound to one test.

The researcher password comes from Streamlit secrets (``listening_password``)
or the environment variable ``TAGSPACE_RESEARCHER_PASSWORD``; it is compared in
constant time. A rater link carries a random token (``secrets.token_urlsafe``);
the database keeps only its SHA-256, next to an opaque rater id and the one
test the link grants.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit

from sqlalchemy import insert, select

from ..errors import ParameterError, TagspaceError
from .db import ListeningDB, now_iso, raters, tests

PASSWORD_ENV = "TAGSPACE_RESEARCHER_PASSWORD"
PASSWORD_SECRET = "listening_password"


class AccessDenied(TagspaceError):
    """A password or rater link was wrong, or grants something else."""


def researcher_password(secrets_mapping: Mapping | None = None) -> str | None:
    """The configured researcher password, or None when none is set.

    Parameters
    ----------
    secrets_mapping : mapping, optional
        Streamlit's ``st.secrets`` (any mapping); its ``listening_password``
        wins over ``$TAGSPACE_RESEARCHER_PASSWORD``.
    """
    if secrets_mapping is not None:
        try:
            value = secrets_mapping.get(PASSWORD_SECRET)
        except (FileNotFoundError, KeyError):  # st.secrets without a secrets.toml
            value = None
        if value:
            return str(value)
    return os.environ.get(PASSWORD_ENV) or None


def check_password(given: str, expected: str | None) -> None:
    """Raise :class:`AccessDenied` unless ``given`` equals ``expected`` (constant time).

    With no configured password the researcher pages stay closed.
    """
    if not expected:
        raise AccessDenied(f"no researcher password is configured: set `{PASSWORD_SECRET}` in "
                           f".streamlit/secrets.toml or the environment variable {PASSWORD_ENV}")
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise AccessDenied("wrong password")


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
    if not test_id or not token:
        raise AccessDenied("this page needs a rater link (with ?test=...&rater=...)")
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
