"""The throwaway PostgreSQL server of the test session: the reasons it gives when it cannot start."""

from __future__ import annotations

from pathlib import Path

import pytest

import tests.postgres_support as pg


def test_missing_binaries_give_the_reason(monkeypatch):
    monkeypatch.setattr(pg, "find_bindir", lambda: None)
    with pytest.raises(pg.PostgresUnavailable, match="PostgreSQL is not installed.*make test"):
        pg.start_throwaway_postgres()


def test_root_without_a_postgres_user_gives_the_reason(monkeypatch, tmp_path):
    def no_such_user(name):
        raise KeyError(name)

    monkeypatch.setattr(pg, "find_bindir", lambda: tmp_path)
    monkeypatch.setattr(pg.os, "geteuid", lambda: 0)
    monkeypatch.setattr(pg.pwd, "getpwnam", no_such_user)
    with pytest.raises(pg.PostgresUnavailable, match="no unprivileged 'postgres' user"):
        pg.start_throwaway_postgres()


def test_the_session_server_serves_fresh_databases(postgres_server):
    import psycopg

    names = [postgres_server.create_database() for _ in range(2)]
    assert names[0] != names[1]
    with psycopg.connect(host=str(postgres_server.socket_dir), port=postgres_server.port, user=pg.SUPERUSER,
                         dbname=names[0]) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone() == (0,)
        assert conn.execute("SHOW listen_addresses").fetchone() == ("",)  # unix socket only
        user = conn.execute("SELECT usename FROM pg_user WHERE usesuper").fetchone()
    assert user == (pg.SUPERUSER,)
    if pg.os.geteuid() == 0:  # the server runs as the unprivileged postgres user, never as root
        pid = int((postgres_server.root / "data" / "postmaster.pid").read_text().split()[0])
        assert Path(f"/proc/{pid}").stat().st_uid == pg.pwd.getpwnam("postgres").pw_uid
    for name in names:
        postgres_server.drop_database(name)
