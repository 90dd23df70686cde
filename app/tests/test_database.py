"""Migrations and the connection settings of the application's engine."""

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from tests.conftest import APP_DIR, child_environment, copy_database, make_database_settings
from webapp.db import create_engine as create_app_engine
from webapp.models import Base


def tables(path: Path) -> set[str]:
    with closing(sqlite3.connect(path)) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def run_alembic(*args: str, database_path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The alembic command line, as a deployment runs it; no API token is set."""
    env = child_environment(cwd)
    del env["PYTHONPATH"]  # alembic.ini's prepend_sys_path must make webapp importable
    env["APP_DATABASE_PATH"] = str(database_path)
    return subprocess.run(
        [sys.executable, "-m", "alembic", "-c", str(APP_DIR / "alembic.ini"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_upgrade_and_downgrade_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "new-dir" / "app.db"  # the directory does not exist yet

    upgraded = run_alembic("upgrade", "head", database_path=path, cwd=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "Running upgrade  -> 0001" in upgraded.stderr
    assert tables(path) == {"alembic_version", "notes"}
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("0001",)
        ]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)

    downgraded = run_alembic("downgrade", "base", database_path=path, cwd=tmp_path)
    assert downgraded.returncode == 0, downgraded.stderr
    assert tables(path) == {"alembic_version"}
    with closing(sqlite3.connect(path)) as connection:
        assert connection.execute("SELECT * FROM alembic_version").fetchall() == []

    again = run_alembic("upgrade", "head", database_path=path, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert "notes" in tables(path)


def test_models_match_the_migrations(database_path: Path) -> None:
    engine = create_engine(f"sqlite:///{database_path}")
    try:
        with engine.connect() as connection:
            differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert differences == []


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
