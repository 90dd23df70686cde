"""Migrations, on SQLite and PostgreSQL, and the connection settings of SQLite's engine."""

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from tests.conftest import (
    APP_DIR,
    BOTH_BACKENDS,
    Database,
    child_environment,
    copy_database,
    database_environment,
    make_database_settings,
)
from tests.postgresql_server import PASSWORD, PostgreSQLServer
from webapp.db import create_engine as create_app_engine
from webapp.db import create_migration_engine
from webapp.models import Base
from webapp.postgresql import MIGRATION_LOCK


def start_alembic(*args: str, database: Database, cwd: Path) -> subprocess.Popen[str]:
    """The alembic command line, as a deployment runs it; no API token is set."""
    env = child_environment(cwd)
    del env["PYTHONPATH"]  # alembic.ini's prepend_sys_path must make webapp importable
    env |= database_environment(database)
    return subprocess.Popen(
        [sys.executable, "-m", "alembic", "-c", str(APP_DIR / "alembic.ini"), *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def run_alembic(*args: str, database: Database, cwd: Path) -> subprocess.CompletedProcess[str]:
    return finish(start_alembic(*args, database=database, cwd=cwd))


def query(database: Database, sql: str) -> list[tuple[object, ...]]:
    engine = create_migration_engine(make_database_settings(database))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql))]
    finally:
        engine.dispose()


def tables(database: Database) -> set[str]:
    engine = create_migration_engine(make_database_settings(database))
    try:
        with engine.connect() as connection:
            return set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def empty_database_url(postgresql_server: PostgreSQLServer) -> Iterator[str]:
    """An empty PostgreSQL database, as a new server's administrator creates it."""
    postgresql_server.create_database("empty")
    yield postgresql_server.url("empty")
    postgresql_server.drop_database("empty")


@pytest.fixture
def empty_database(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> Database:
    """A database with nothing in it: a SQLite file in a directory not there yet."""
    if backend == "sqlite":
        return tmp_path / "new-dir" / "app.db"
    url: str = request.getfixturevalue("empty_database_url")
    return url


@BOTH_BACKENDS
def test_upgrade_and_downgrade_round_trip(empty_database: Database, tmp_path: Path) -> None:
    upgraded = run_alembic("upgrade", "head", database=empty_database, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr
    assert tables(empty_database) == {"alembic_version", "notes"}
    assert query(empty_database, "SELECT version_num FROM alembic_version") == [("0001",)]

    downgraded = run_alembic("downgrade", "base", database=empty_database, cwd=tmp_path)
    assert downgraded.returncode == 0, downgraded.stderr
    assert tables(empty_database) == {"alembic_version"}
    assert query(empty_database, "SELECT * FROM alembic_version") == []

    again = run_alembic("upgrade", "head", database=empty_database, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "notes" in tables(empty_database)
    for run in (upgraded, downgraded, again):
        assert PASSWORD not in run.stdout + run.stderr


def waiting_for_advisory_locks(server: PostgreSQLServer, count: int) -> None:
    """Return once ``count`` sessions wait for an advisory lock; fail after 30 s."""
    deadline = time.monotonic() + 30
    with server.admin() as admin:
        while True:
            (waiting,) = admin.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone() or (0,)
            if waiting == count:
                return
            assert time.monotonic() < deadline, f"{waiting} waiting for the lock, not {count}"
            time.sleep(0.1)


def test_concurrent_upgrades_on_postgresql_run_one_at_a_time(
    empty_database_url: str, postgresql_server: PostgreSQLServer, tmp_path: Path
) -> None:
    """As on a deploy to several servers: each runs the migrations at the same time."""
    with postgresql_server.admin("empty") as holder:
        holder.execute(f"SELECT pg_advisory_lock({MIGRATION_LOCK})")
        upgrades = [
            start_alembic("upgrade", "head", database=empty_database_url, cwd=tmp_path)
            for _ in range(2)
        ]
        waiting_for_advisory_locks(postgresql_server, 2)
        holder.execute(f"SELECT pg_advisory_unlock({MIGRATION_LOCK})")
        runs = [finish(upgrade) for upgrade in upgrades]

    assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
    # One ran the migration; the other then found the schema up to date.
    assert sorted("Running upgrade  -> 0001" in run.stderr for run in runs) == [False, True]
    assert tables(empty_database_url) == {"alembic_version", "notes"}


def test_migrated_sqlite_file_is_in_wal_mode(database_path: Path) -> None:
    assert query(database_path, "PRAGMA journal_mode") == [("wal",)]


@BOTH_BACKENDS
def test_models_match_the_migrations(database: Database) -> None:
    engine = create_migration_engine(make_database_settings(database))
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


def test_offline_migrations_print_postgresql_sql(tmp_path: Path) -> None:
    """``alembic upgrade head --sql`` needs no server, only the URL."""
    url = f"postgresql://webapp:{PASSWORD.replace('@', '%40')}@db.invalid/webapp"
    printed = run_alembic("upgrade", "head", "--sql", database=url, cwd=tmp_path)
    assert printed.returncode == 0, printed.stderr
    assert "CREATE TABLE notes (\n    id SERIAL NOT NULL," in printed.stdout
    assert "created_at TIMESTAMP WITH TIME ZONE NOT NULL" in printed.stdout
    assert PASSWORD not in printed.stdout + printed.stderr


@pytest.mark.anyio
async def test_engine_sets_the_pragmas(database_path: Path) -> None:
    engine = create_app_engine(make_database_settings(database_path))
    try:
        async with engine.connect() as connection:
            pragmas = {
                name: (await connection.execute(text(f"PRAGMA {name}"))).scalar()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            }
    finally:
        await engine.dispose()
    assert pragmas == {"journal_mode": "wal", "busy_timeout": 5000, "foreign_keys": 1}


@pytest.fixture
def unusual_path(tmp_path: Path, migrated_template: Path) -> Path:
    """A migrated database in a directory whose name means something in a URI."""
    return copy_database(migrated_template, tmp_path / "dir with space?and#hash%20" / "app.db")


@pytest.mark.anyio
async def test_engine_handles_unusual_paths(unusual_path: Path) -> None:
    engine = create_app_engine(make_database_settings(unusual_path))
    try:
        async with engine.connect() as connection:
            count = (await connection.execute(text("SELECT count(*) FROM notes"))).scalar()
    finally:
        await engine.dispose()
    # The file opened (read-write, never created) is the migrated one: the URI was right.
    assert count == 0
