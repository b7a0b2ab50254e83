"""A throwaway PostgreSQL server for the listening-test suite.

``make test`` installs Debian's ``postgresql`` when it is missing and we are
root (see the Makefile's ``postgres-deps``). The test session then runs
``initdb`` into a fresh directory under ``/tmp`` and starts ``postgres`` on a
unix socket in that directory only (no TCP: ``listen_addresses=''``), as the
unprivileged ``postgres`` user when we are root (``runuser -u postgres --``; the
server refuses to run as root) or as ourselves otherwise. Each test gets its own
database; the server is stopped and its directory removed when the session ends.
When the binaries or the ``postgres`` user are missing, :class:`PostgresUnavailable`
says why and the PostgreSQL tests skip with that reason.
"""

from __future__ import annotations

import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "tagspace"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server can be started here; the message says why."""


def find_bindir() -> Path | None:
    """Directory holding ``initdb``, ``pg_ctl`` and ``postgres`` (PATH first, then Debian's versioned dirs)."""
    on_path = shutil.which("pg_ctl")
    if on_path and shutil.which("initdb"):
        return Path(os.path.realpath(on_path)).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
                      key=lambda p: [int(x) if x.isdigit() else 0 for x in Path(p).parts[-3].split(".")])
    return Path(versions[-1]).parent if versions else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ThrowawayPostgres:
    """A running throwaway server; :meth:`url` names one of its databases."""

    bindir: Path
    root: Path
    port: int
    run_as: list[str]

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def url(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` over the unix socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}&port={self.port}"

    def _admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), port=self.port, user=SUPERUSER, dbname="postgres",
                             autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; returns its name."""
        name = "t_" + secrets.token_hex(6)
        self._admin(f"CREATE DATABASE {name}")
        return name

    def drop_database(self, name: str) -> None:
        self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        subprocess.run([*self.run_as, str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                        "-w", "stop"], capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_throwaway_postgres() -> ThrowawayPostgres:
    """initdb + start a server as described in the module docstring.

    Raises
    ------
    PostgresUnavailable
        Binaries, the ``postgres`` user or ``runuser`` missing, or the server did not start.
    """
    bindir = find_bindir()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in "
                                  "/usr/lib/postgresql/*/bin); `make test` installs Debian's postgresql when run "
                                  "as root")
    run_as: list[str] = []
    owner = None
    if os.geteuid() == 0:  # postgres refuses to run as root: run it as the unprivileged postgres user
        try:
            owner = pwd.getpwnam("postgres")
        except KeyError:
            raise PostgresUnavailable("running as root and there is no unprivileged 'postgres' user to run the "
                                      "server as (Debian's postgresql package creates it)") from None
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root and `runuser` (util-linux) is missing")
        run_as = ["runuser", "-u", "postgres", "--"]
    root = Path(tempfile.mkdtemp(prefix="tagspace-pg-"))
    (root / "sock").mkdir()
    if owner is not None:
        for path in (root, root / "sock"):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    os.chmod(root, 0o700)
    server = ThrowawayPostgres(bindir=bindir, root=root, port=_free_port(), run_as=run_as)
    try:
        _run([*run_as, str(bindir / "initdb"), "-D", str(root / "data"), "-U", SUPERUSER, "--auth=trust",
              "--encoding=UTF8", "--no-locale", "--no-sync"], "initdb")
        options = (f"-k {root / 'sock'} -p {server.port} -c listen_addresses='' -c max_connections=200 "
                   "-c shared_buffers=32MB -c dynamic_shared_memory_type=mmap")
        _run([*run_as, str(bindir / "pg_ctl"), "-D", str(root / "data"), "-l", str(root / "server.log"),
              "-o", options, "-w", "-t", "60", "start"], "pg_ctl start", log=root / "server.log")
    except PostgresUnavailable:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return server


def _run(cmd: list[str], what: str, log: Path | None = None) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        if log is not None and log.exists():
            detail += log.read_text(errors="replace").strip().splitlines()[-3:]
        raise PostgresUnavailable(f"{what} failed (exit {proc.returncode}): {' | '.join(detail)}")
