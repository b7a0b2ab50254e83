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
makes every commit durable before it is acknowledged. On PostgreSQL, writes
for one rater session lock its ``sessions`` row first (``SELECT ... FOR
UPDATE``), so two tabs of one rater take turns. A database that does not
answer (locked past the busy timeout, a lost connection) raises
:class:`DatabaseUnavailable`, whose message asks to retry; nothing was stored.

The reads the other modules share (a test, the trials, answers and plays of a
test as tables) are here too, so that design, session, analysis and export all
depend on this module and not on each other.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import pandas as pd
from sqlalchemy import (Boolean, Column, Float, ForeignKey, Integer, MetaData, String, Table, Text,
                        UniqueConstraint, create_engine, event, func, insert, inspect, select)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import DataError, ParameterError

#: Environment variable holding a database URL (overrides the workspace manifest).
DB_URL_ENV = "TAGSPACE_LISTENING_DB"
#: Workspace manifest key holding a database URL.
MANIFEST_KEY = "listening_db_url"
#: Milliseconds a SQLite writer waits for the lock before giving up.
BUSY_TIMEOUT_MS = 30_000



class DatabaseUnavailable(DataError):
    """The database did not answer in time or the connection was lost: nothing was stored, retry."""


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


@contextmanager
def _transaction(engine: Engine):
    """``engine.begin()``, with an unreachable or locked database as :class:`DatabaseUnavailable`."""
    try:
        with engine.begin() as conn:
            yield conn
    except (OperationalError, InterfaceError, PoolTimeout) as err:
        reason = str(getattr(err, "orig", None) or err).strip().splitlines()[0][:200]
        raise DatabaseUnavailable(f"the listening database did not answer ({reason}); nothing was stored, "
                                  "please retry") from err


class ListeningDB:
    """A connection pool to the listening-test database.

    Use :meth:`write` for a transaction that changes data and :meth:`read` for
    one that only reads. Both commit (or roll back) when the ``with`` block ends,
    and raise :class:`DatabaseUnavailable` when the database does not answer.
    """

    def __init__(self, engine: Engine):
        self.engine = engine

    @property
    def url(self) -> str:
        return self.engine.url.render_as_string(hide_password=True)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql`` (SQLAlchemy's dialect name)."""
        return self.engine.dialect.name

    def write(self):
        """Context manager: a write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        return _transaction(self.engine)

    def read(self):
        """Context manager: a read-only transaction."""
        return _transaction(self.engine.execution_options(read_only=True))

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


# ------------------------------------------------------------------- reads
def get_test(db: ListeningDB, test_id: str) -> dict:
    """The ``tests`` row of a test as a dict (``design`` decoded).

    Raises
    ------
    ParameterError
        If no such test exists.
    """
    with db.read() as conn:
        row = conn.execute(select(tests).where(tests.c.test_id == test_id)).mappings().first()
    if row is None:
        raise ParameterError(f"unknown listening test {test_id!r}")
    out = dict(row)
    out["design"] = json.loads(out["design"])
    return out


def list_tests(db: ListeningDB) -> list[dict]:
    """All tests, newest first (``test_id``, ``name``, ``created_at``, ``question``, ``source``)."""
    with db.read() as conn:
        rows = conn.execute(select(tests.c.test_id, tests.c.name, tests.c.created_at, tests.c.question,
                                   tests.c.source).order_by(tests.c.created_at.desc())).mappings().all()
    return [dict(r) for r in rows]


def trials_frame(db: ListeningDB, test_id: str) -> pd.DataFrame:
    """The trials of a test as a DataFrame, in position order."""
    with db.read() as conn:
        rows = conn.execute(select(trials).where(trials.c.test_id == test_id)
                            .order_by(trials.c.position)).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in trials.columns])


#: Trial columns joined to every answer by :func:`answers_frame`.
ANSWER_TRIAL_COLUMNS = ("kind", "repeat_of", "position", "expected", "dimension", "anchor_id", "anchor_start",
                        "song1_id", "song1_start", "song2_id", "song2_start", "clip_seconds", "origin")


def answers_frame(db: ListeningDB, test_id: str) -> pd.DataFrame:
    """Every answer of a test with its rater and trial (one row per answer)."""
    query = (select(answers, sessions.c.rater_id, *(trials.c[c] for c in ANSWER_TRIAL_COLUMNS))
             .join(sessions, sessions.c.session_id == answers.c.session_id)
             .join(trials, trials.c.trial_id == answers.c.trial_id)
             .where(trials.c.test_id == test_id).order_by(answers.c.answer_id))
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    columns = [c.name for c in answers.columns] + ["rater_id", *ANSWER_TRIAL_COLUMNS]
    return pd.DataFrame([dict(r) for r in rows], columns=columns)


def plays_frame(db: ListeningDB, test_id: str) -> pd.DataFrame:
    """Every recorded play of a test (one row per play of a clip)."""
    query = (select(plays, sessions.c.rater_id).join(sessions, sessions.c.session_id == plays.c.session_id)
             .where(sessions.c.test_id == test_id).order_by(plays.c.play_id))
    with db.read() as conn:
        rows = conn.execute(query).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in plays.columns] + ["rater_id"])
