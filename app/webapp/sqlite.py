"""SQLite: the file's URLs, the per-connection pragmas and the application's engine."""

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import URL, Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

# Several Gunicorn workers share one file: WAL lets readers run beside a writer, and
# busy_timeout makes a writer wait for the lock instead of failing at once.
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)


def apply_sqlite_pragmas(dbapi_connection: Any, _connection_record: object) -> None:
    """Set the per-connection pragmas; a ``connect`` event listener."""
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


def install_sqlite_pragmas(engine: Engine) -> None:
    """Run :func:`apply_sqlite_pragmas` on every new connection of ``engine``."""
    event.listen(engine, "connect", apply_sqlite_pragmas)


def app_database_url(path: Path) -> URL:
    """URL for the application: open an existing file read-write, never create one.

    A missing file then shows up as an error (and an unhealthy /health) instead of an
    empty database being created silently; creating the schema is the migrations' job.
    The path is percent-encoded because SQLite parses it as a URI.
    """
    return URL.create(
        "sqlite+aiosqlite",
        database=f"file:{quote(str(path))}",
        query={"mode": "rw", "uri": "true"},
    )


def migration_database_url(path: Path) -> URL:
    """URL for the migrations, which may create the file."""
    return URL.create("sqlite", database=str(path))


def create_engine(path: Path) -> AsyncEngine:
    """Create the application's async engine for the SQLite file at ``path``."""
    engine = create_async_engine(app_database_url(path))
    install_sqlite_pragmas(engine.sync_engine)
    return engine
