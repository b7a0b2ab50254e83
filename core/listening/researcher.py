"""Researcher access: a salted scrypt hash of the password, backoff on failed sign-ins, one-time sign-in links.

Where the password comes from, first match wins:

1. ``<workspace>/listening/researcher.json``, written by
   ``python -m core listening set-password --workspace W``: the scrypt hash with
   its salt and parameters (never the password), file mode 0600;
2. the Streamlit secret ``listening_password`` or the environment variable
   ``TAGSPACE_RESEARCHER_PASSWORD`` (plain text that the operator keeps): it is
   hashed with a fresh salt the first time it is needed and only the hash is
   compared afterwards.

With neither, nobody can sign in with a password; the app prints a one-time
sign-in link (:class:`SignInLinks`) in the terminal that runs it instead.

Failed sign-ins slow down (:class:`SignInThrottle`): after a few free attempts
each failure doubles the wait, per client (browser session and IP address) and
over all clients together, so rotating sessions does not help an attacker.
Every time here is injected (``clock``), so the backoff is tested with a fake
clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Callable

from ..errors import DataError, ParameterError
from ..fileio import read_versioned_json, write_json
from .access import AccessDenied

PASSWORD_ENV = "TAGSPACE_RESEARCHER_PASSWORD"
PASSWORD_SECRET = "listening_password"
#: Shortest password ``set-password`` accepts.
MIN_PASSWORD_LENGTH = 12
#: Longest password accepted (longer input is refused before hashing: scrypt time grows with it).
MAX_PASSWORD_LENGTH = 1024
CREDENTIAL_FILE = "researcher.json"
CREDENTIAL_VERSION = 1
#: scrypt cost: n = 2**14, r = 8 (16 MiB, about 50 ms on one core), as recommended for interactive logins.
SCRYPT_N, SCRYPT_R, SCRYPT_P, SCRYPT_DKLEN = 2**14, 8, 1, 32
#: Stored parameters are refused above these (a forged file must not make every sign-in cost minutes).
_SCRYPT_LIMITS = {"n": 2**16, "r": 16, "p": 4, "dklen": 64}


# ------------------------------------------------------------------ hashing
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen,
                          maxmem=256 * r * (n + p + 2) + (1 << 20))


def hash_password(password: str, salt: bytes | None = None, n: int = SCRYPT_N, r: int = SCRYPT_R,
                  p: int = SCRYPT_P) -> dict:
    """The credential stored for a password: scrypt with a random 16-byte salt.

    Returns
    -------
    dict
        ``algorithm`` (``scrypt``), ``n``, ``r``, ``p``, ``dklen``, ``salt`` and
        ``hash`` (both base64). The password itself is not in it.
    """
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ParameterError(f"a password is at most {MAX_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = _scrypt(password, salt, n, r, p, SCRYPT_DKLEN)
    return {"algorithm": "scrypt", "n": n, "r": r, "p": p, "dklen": SCRYPT_DKLEN, "salt": _b64(salt),
            "hash": _b64(digest)}


def _check_credential(credential, where: str) -> tuple[bytes, bytes]:
    """``(salt, hash)`` of a well-formed credential; :class:`DataError` naming ``where`` otherwise."""
    if not isinstance(credential, Mapping) or credential.get("algorithm") != "scrypt":
        raise DataError(f"{where}: not a scrypt credential")
    for key, limit in _SCRYPT_LIMITS.items():
        value = credential.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= limit:
            raise DataError(f"{where}: scrypt parameter {key} must be a whole number in [1, {limit}]")
    if credential["n"] < 2 or credential["n"] & (credential["n"] - 1):
        raise DataError(f"{where}: scrypt parameter n must be a power of two")
    try:
        salt, digest = base64.b64decode(credential["salt"], validate=True), base64.b64decode(credential["hash"],
                                                                                               validate=True)
    except (KeyError, TypeError, ValueError) as err:
        raise DataError(f"{where}: salt and hash must be base64 ({err})") from err
    if len(salt) < 8 or len(digest) != credential["dklen"]:
        raise DataError(f"{where}: salt shorter than 8 bytes or hash of the wrong length")
    return salt, digest


def verify_password(password: str, credential: dict) -> bool:
    """Whether ``password`` matches a :func:`hash_password` credential (constant-time comparison)."""
    salt, digest = _check_credential(credential, "researcher credential")
    if len(password) > MAX_PASSWORD_LENGTH:
        return False
    given = _scrypt(password, salt, credential["n"], credential["r"], credential["p"], credential["dklen"])
    return hmac.compare_digest(given, digest)


def check_password_strength(password: str) -> None:
    """Raise :class:`ParameterError` unless the password is long enough to set."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ParameterError(f"the researcher password must have at least {MIN_PASSWORD_LENGTH} characters "
                             f"(got {len(password)})")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ParameterError(f"the researcher password must have at most {MAX_PASSWORD_LENGTH} characters")
    if not password.strip():
        raise ParameterError("the researcher password cannot be only spaces")


# ------------------------------------------------------------------ storage
def credential_path(ws) -> Path:
    """``<workspace>/listening/researcher.json``."""
    return Path(ws.listening_dir) / CREDENTIAL_FILE


def save_password(ws, password: str) -> Path:
    """Check and hash ``password`` and store the credential for the app (mode 0600). Returns the file."""
    check_password_strength(password)
    path = credential_path(ws)
    write_json(path, {"format_version": CREDENTIAL_VERSION, **hash_password(password)})
    os.chmod(path, 0o600)
    return path


def load_password_hash(ws) -> dict | None:
    """The stored credential, or None when ``set-password`` was never run.

    Raises
    ------
    DataError
        If the file exists but is not a valid credential (naming the file).
    """
    path = credential_path(ws)
    if not path.exists():
        return None
    data = read_versioned_json(path, CREDENTIAL_VERSION)
    _check_credential(data, str(path))
    return {k: data[k] for k in ("algorithm", "n", "r", "p", "dklen", "salt", "hash")}


@lru_cache(maxsize=4)
def _hashed_plain_password(password: str) -> dict:
    """A plain-text password from the environment or secrets, hashed once per process."""
    return hash_password(password)


def plain_password(secrets_mapping: Mapping | None = None) -> str | None:
    """The plain-text password of the Streamlit secret or the environment, or None.

    The secret ``listening_password`` wins over ``$TAGSPACE_RESEARCHER_PASSWORD``.
    """
    if secrets_mapping is not None:
        try:
            value = secrets_mapping.get(PASSWORD_SECRET)
        except (FileNotFoundError, KeyError):  # st.secrets without a secrets.toml
            value = None
        if value:
            return str(value)
    return os.environ.get(PASSWORD_ENV) or None


def researcher_credential(ws, secrets_mapping: Mapping | None = None) -> dict | None:
    """The credential sign-ins are checked against (see the module docstring), or None if none is set."""
    stored = load_password_hash(ws)
    if stored is not None:
        return stored
    plain = plain_password(secrets_mapping)
    if plain is None:
        return None
    if len(plain) < MIN_PASSWORD_LENGTH:
        raise ParameterError(f"the researcher password of ${PASSWORD_ENV} / secret {PASSWORD_SECRET} must have "
                             f"at least {MIN_PASSWORD_LENGTH} characters; or set one with `python -m core "
                             "listening set-password`")
    return _hashed_plain_password(plain)


# ------------------------------------------------------------------ backoff
class SignInThrottle:
    """Exponential backoff on failed sign-ins, per client and over all clients (thread-safe).

    Parameters
    ----------
    clock : callable
        Seconds (monotonic); injected for tests.
    free_attempts : int
        Failures of one client before it must wait.
    base_delay_s, max_delay_s : float
        The first wait, doubled with every further failure up to the maximum (s).
    global_free : int
        Failures over all clients within ``global_window_s`` before everybody must wait.
    global_window_s : float
        How long a failure counts towards the global limit (s).
    global_max_delay_s : float
        Longest global wait (s); shorter than a client's, since it also stops the rightful user.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, free_attempts: int = 3,
                 base_delay_s: float = 1.0, max_delay_s: float = 300.0, global_free: int = 20,
                 global_window_s: float = 600.0, global_max_delay_s: float = 60.0):
        self.clock = clock
        self.free_attempts, self.base_delay_s, self.max_delay_s = free_attempts, base_delay_s, max_delay_s
        self.global_free, self.global_window_s = global_free, global_window_s
        self.global_max_delay_s = global_max_delay_s
        self._clients: dict[str, tuple[int, float]] = {}  # key -> (consecutive failures, time of the last)
        self._recent: deque[float] = deque()  # times of failures over all clients
        self._lock = threading.Lock()

    def _delay(self, failures: int, free: int, ceiling: float) -> float:
        if failures < free:
            return 0.0
        return min(ceiling, self.base_delay_s * 2.0 ** (failures - free))

    def _forget_old(self, now: float) -> None:
        while self._recent and now - self._recent[0] > self.global_window_s:
            self._recent.popleft()
        if len(self._clients) > 10_000:  # bounded memory: keep clients that still have to wait
            self._clients = {k: v for k, v in self._clients.items()
                             if now - v[1] < self._delay(v[0], self.free_attempts, self.max_delay_s)}

    def wait_s(self, clients) -> float:
        """Seconds until ``clients`` (keys such as ``session:...``, ``ip:...``) may try again (0 = now)."""
        with self._lock:
            now = self.clock()
            self._forget_old(now)
            waits = [0.0]
            for key in clients:
                failures, last = self._clients.get(key, (0, now))
                waits.append(last + self._delay(failures, self.free_attempts, self.max_delay_s) - now)
            if self._recent:
                waits.append(self._recent[-1] + self._delay(len(self._recent), self.global_free,
                                                            self.global_max_delay_s) - now)
            return max(0.0, max(waits))

    def check(self, clients) -> None:
        """Raise :class:`AccessDenied` while ``clients`` must wait."""
        wait = self.wait_s(clients)
        if wait > 0:
            raise AccessDenied(f"too many failed sign-ins: try again in {math.ceil(wait)} s")

    def failed(self, clients) -> None:
        """Count one failed attempt for every key in ``clients`` and once globally."""
        with self._lock:
            now = self.clock()
            for key in clients:
                self._clients[key] = (self._clients.get(key, (0, now))[0] + 1, now)
            self._recent.append(now)

    def succeeded(self, clients) -> None:
        """A successful sign-in clears these clients' failures (not the global count)."""
        with self._lock:
            for key in clients:
                self._clients.pop(key, None)


def sign_in(password: str, credential: dict | None, throttle: SignInThrottle, clients) -> None:
    """Check a researcher's password, with backoff; returns quietly on success.

    Raises
    ------
    AccessDenied
        No password is configured, the client must wait, or the password is wrong.
    """
    throttle.check(clients)
    if credential is None:
        raise AccessDenied("no researcher password is configured: set one with `python -m core listening "
                           "set-password --workspace W`, or open the one-time sign-in link printed in the "
                           "terminal that runs the app")
    if not verify_password(password, credential):
        throttle.failed(clients)
        raise AccessDenied("wrong password")
    throttle.succeeded(clients)


# --------------------------------------------------------- one-time links
SIGN_IN_PARAM = "signin"


class SignInLinks:
    """One-time researcher sign-in tokens, kept in memory as SHA-256 digests (thread-safe).

    A token is random (``secrets.token_urlsafe(32)``), redeemable once, and
    expires after ``ttl_s``. Only the process that issued it accepts it.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, ttl_s: float = 24 * 3600.0):
        self.clock, self.ttl_s = clock, ttl_s
        self._open: dict[str, float] = {}  # sha256(token) -> expiry
        self._lock = threading.Lock()

    @staticmethod
    def _digest(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8")).hexdigest()

    def _expire(self, now: float) -> None:
        self._open = {d: t for d, t in self._open.items() if t > now}

    def issue_unless_open(self) -> str | None:
        """A new token, or None while an issued one is still unused and unexpired."""
        with self._lock:
            self._expire(self.clock())
            if self._open:
                return None
            token = secrets.token_urlsafe(32)
            self._open[self._digest(token)] = self.clock() + self.ttl_s
            return token

    def redeem(self, token: str) -> bool:
        """True once for a valid token; False for an unknown, expired or used one."""
        if not isinstance(token, str) or len(token) > 200:
            return False
        digest = self._digest(token)
        with self._lock:
            self._expire(self.clock())
            return self._open.pop(digest, None) is not None


def sign_in_link(base_url: str, token: str) -> str:
    """``<base_url>/?signin=<token>``."""
    return f"{base_url.rstrip('/')}/?{SIGN_IN_PARAM}={token}"


def announce_sign_in_link(links: SignInLinks, credential: dict | None, base_url: str,
                          write: Callable[[str], None]) -> str | None:
    """Print a one-time sign-in link when no password is configured and no link is open.

    Like Jupyter's token URL: it goes to the terminal of the process serving the
    app (``write``), never to a page. A link is printed again only after the
    previous one was used or expired, so no token appears twice.

    Returns
    -------
    str or None
        The link printed, or None when nothing was printed.
    """
    token = None if credential is not None else links.issue_unless_open()
    if token is None:
        return None
    link = sign_in_link(base_url, token)
    write("\n  No researcher password is set. To design listening tests, open this one-time sign-in link:\n"
          f"  {link}\n  (set a password with `python -m core listening set-password --workspace W`)\n")
    return link
