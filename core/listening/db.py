"""The listening-test database: SQLAlchemy Core tables, connection set-up, migrations.

SQLite in WAL mode at ``<workspace>/listening/listening.db`` by default; a lab
server's PostgreSQL URL comes from the environment variable
``TAGSPACE_LISTENING_DB`` or the workspace manifest key ``listening_db_url``.

Tables (schema version 1)
-------------------------
``schema_version``
    one row per applied migration.
``tests``
    one listening test: question, clip settings, design parameters (JSON).
``trials``
    the trials of a test: anchor / song1 / song2 track ids and clip offsets, the
    side song1 is shown on, kind (``main``, ``catch``, ``repeat``).
``raters``
    opaque rater ids bound to one test; only a SHA-256 of the rater's link
    token is stored.
``sessions``
    one per rater and test (resuming reuses it): consent, headphone check,
    the rater's trial order.
``answers``
    one per session and trial (``UNIQUE(session_id, trial_id)``).
``plays``
    one per play of a clip (``UNIQUE(session_id, trial_id, clip, play_index)``).

Every write is its own short transaction, committed before the function
returns. On SQLite each write transaction starts with ``BEGIN IMMEDIATE`` (the
write lock is taken up front, so a read-then-write never fails on a lock
upgrade) and waits up to ``busy_timeout`` for other writers; ``synchronous=FULL``
makes every commit durable before it is acknowledged.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from sqlalchemy import (Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, event, func, insert, inspect, select)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import DataError

#: Environment variable holding a database URL (overrides the workspace manifest).
DB_URL_ENV = "TAGSPACE_LISTENING_DB"
#: Workspace manifest key holding a database URL.
MANIFEST_KEY = "listening_db_url"
#: Milliseconds a SQLite writer waits for the lock before giving up.
BUSY_TIMEOUT_MS = 30_000

metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("applied_at", String(40), nullable=False),
)

tests = Table(
    "tests", metadata,
    Column("test_id", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", String(40), nullable=False),
    Column("question", String(20), nullable=False),
    Column("source", String(20), nullable=False),
    Column("clip_seconds", Float, nullable=False),
    Column("trials_per_rater", Integer, nullable=False),
    Column("must_play_both", Boolean, nullable=False),
    Column("headphone_check", Boolean, nullable=False),
    Column("seed", Integer, nullable=False),
    Column("design", Text, nullable=False),
    Column("app_version", String(40), nullable=False),
)

trials = Table(
    "trials", metadata,
    Column("trial_id", Integer, primary_key=True, autoincrement=True),
    Column("test_id", String(40), ForeignKey("tests.test_id"), nullable=False, index=True),
    Column("position", Integer, nullable=False),
    Column("kind", String(10), nullable=False),
    Column("repeat_of", Integer, ForeignKey("trials.trial_id"), nullable=True),
    Column("dimension", String(20), nullable=False),
    Column("anchor_id", String(200), nullable=False),
    Column("anchor_start", Float, nullable=False),
    Column("song1_id", String(200), nullable=False),
    Column("song1_start", Float, nullable=False),
    Column("song2_id", String(200), nullable=False),
    Column("song2_start", Float, nullable=False),
    Column("clip_seconds", Float, nullable=False),
    Column("song1_side", String(1), nullable=False),
    Column("expected", String(5), nullable=True),
    Column("origin", Text, nullable=False),
    UniqueConstraint("test_id", "position", name="uq_trial_position"),
)

raters = Table(
    "raters", metadata,
    Column("rater_id", String(40), primary_key=True),
    Column("test_id", String(40), ForeignKey("tests.test_id"), nullable=False, index=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", String(40), nullable=False),
)

sessions = Table(
    "sessions", metadata,
    Column("session_id", String(40), primary_key=True),
    Column("rater_id", String(40), ForeignKey("raters.rater_id"), nullable=False),
    Column("test_id", String(40), ForeignKey("tests.test_id"), nullable=False, index=True),
    Column("started_at", String(40), nullable=False),
    Column("consent_at", String(40), nullable=True),
    Column("headphone_score", Integer, nullable=True),
    Column("headphone_passed", Boolean, nullable=True),
    Column("trial_order", Text, nullable=False),
    Column("app_version", String(40), nullable=False),
    Column("model_versions", Text, nullable=False),
    UniqueConstraint("rater_id", "test_id", name="uq_session_rater_test"),
)

answers = Table(
    "answers", metadata,
    Column("answer_id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(40), ForeignKey("sessions.session_id"), nullable=False, index=True),
    Column("trial_id", Integer, ForeignKey("trials.trial_id"), nullable=False, index=True),
    Column("choice", String(5), nullable=False),
    Column("side_chosen", String(1), nullable=False),
    Column("song1_side", String(1), nullable=False),
    Column("response_ms", Integer, nullable=True),
    Column("plays_anchor", Integer, nullable=False),
    Column("plays_a", Integer, nullable=False),
    Column("plays_b", Integer, nullable=False),
    Column("full_anchor", Boolean, nullable=False),
    Column("full_a", Boolean, nullable=False),
    Column("full_b", Boolean, nullable=False),
    Column("app_version", String(40), nullable=False),
    Column("model_versions", Text, nullable=False),
    Column("answered_at", String(40), nullable=False),
    UniqueConstraint("session_id", "trial_id", name="uq_answer_session_trial"),
)

plays = Table(
    "plays", metadata,
    Column("play_id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(40), ForeignKey("sessions.session_id"), nullable=False, index=True),
    Column("trial_id", Integer, ForeignKey("trials.trial_id"), nullable=False),
    Column("clip", String(10), nullable=False),
    Column("play_index", Integer, nullable=False),
    Column("heard_full", Boolean, nullable=False),
    Column("listened_s", Float, nullable=False),
    Column("recorded_at", String(40), nullable=False),
    UniqueConstraint("session_id", "trial_id", "clip", "play_index", name="uq_play"),
)

_V1_TABLES = (tests, trials, raters, sessions, answers, plays)


def _migration_1(conn: Connection) -> None:
    """Create the version-1 tables."""
    metadata.create_all(conn, tables=list(_V1_TABLES))


#: Ordered migrations ``(version, name, function(connection))``; append, never edit.
MIGRATIONS: tuple[tuple[int, str, Callable[[Connection], None]], ...] = (
    (1, "tests, trials, raters, sessions, answers, plays", _migration_1),
)
LATEST_VERSION = MIGRATIONS[-1][0]


def now_iso() -> str:
    """Current UTC time, ISO 8601 with milliseconds."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def dumps(value) -> str:
    """JSON text for a JSON column (sorted keys, so equal values compare equal)."""
    return json.dumps(value, sort_keys=True)


def database_url(ws=None, url: str | None = None) -> str:
    """The database URL to use.

    Parameters
    ----------
    ws : Workspace, optional
        Workspace whose manifest may name a URL and whose ``listening/``
        directory holds the default SQLite file.
    url : str, optional
        Explicit URL; wins over everything else.

    Returns
    -------
    str
        ``url``, else ``$TAGSPACE_LISTENING_DB``, else the manifest's
        ``listening_db_url``, else ``sqlite:///<ws>/listening/listening.db``.
    """
    if url:
        return url
    env = os.environ.get(DB_URL_ENV)
    if env:
        return env
    if ws is None:
        raise DataError(f"no listening database: pass a workspace, a URL, or set ${DB_URL_ENV}")
    manifest_url = ws.manifest.get(MANIFEST_KEY)
    if manifest_url:
        return str(manifest_url)
    return f"sqlite:///{Path(ws.listening_dir) / 'listening.db'}"


def _configure_sqlite(engine: Engine) -> None:
    """WAL, busy timeout, foreign keys, durable commits and BEGIN IMMEDIATE for writes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # transactions are begun by _on_begin
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        read_only = conn.get_execution_options().get("read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class ListeningDB:
    """A connection pool to the listening-test database.

    Use :meth:`write` for a transaction that changes data and :meth:`read` for
    one that only reads. Both commit (or roll back) when the ``with`` block ends.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    def write(self):
        """Context manager: a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        return self.engine.begin()

    def read(self):
        """Context manager: a read-only transaction."""
        return self.engine.execution_options(read_only=True).begin()

    def version(self) -> int:
        """Highest applied migration (0 for an empty database)."""
        if not inspect(self.engine).has_table("schema_version"):
            return 0
        with self.read() as conn:
            return int(conn.execute(select(func.max(schema_version.c.version))).scalar() or 0)

    def migrate(self) -> list[int]:
        """Apply pending migrations in order, each in its own transaction.

        Returns
        -------
        list of int
            Versions applied now (empty if the schema was current).
        """
        applied = []
        with self.write() as conn:
            metadata.create_all(conn, tables=[schema_version])
        for version, name, step in MIGRATIONS:
            with self.write() as conn:
                done = conn.execute(select(schema_version.c.version).where(
                    schema_version.c.version == version)).first()
                if done is not None:
                    continue
                step(conn)
                conn.execute(insert(schema_version).values(version=version, name=name, applied_at=now_iso()))
                applied.append(version)
        return applied

    def dispose(self) -> None:
        self.engine.dispose()


def open_db(ws=None, url: str | None = None, migrate: bool = True) -> ListeningDB:
    """Open (and by default migrate) the listening-test database.

    Parameters
    ----------
    ws : Workspace, optional
        See :func:`database_url`.
    url : str, optional
        Explicit SQLAlchemy URL.
    migrate : bool
        Apply pending migrations; if False, raise when the schema is behind.

    Returns
    -------
    ListeningDB

    Raises
    ------
    DataError
        If the database cannot be opened, or is behind and ``migrate`` is False.
    """
    target = database_url(ws, url)
    try:
        if target.startswith("sqlite:///"):
            Path(target[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(target, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000,
                                                         "check_same_thread": False})
            _configure_sqlite(engine)
        else:
            engine = create_engine(target, pool_pre_ping=True)
        db = ListeningDB(engine)
        if migrate:
            db.migrate()
        elif db.version() < LATEST_VERSION:
            raise DataError(f"the listening database {db.url} is at schema version {db.version()}, "
                            f"this app needs {LATEST_VERSION}: run `python -m core listening migrate`")
        return db
    except SQLAlchemyError as err:
        raise DataError(f"cannot open the listening database {target}: {err}") from err
