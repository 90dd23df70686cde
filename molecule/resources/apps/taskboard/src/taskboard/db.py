"""SQLite access with the standard library."""

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

BUSY_TIMEOUT_MS = 5000


class DatabaseUnavailable(RuntimeError):
    """The database file cannot be opened, or its schema is missing."""


def connect(path: Path) -> sqlite3.Connection:
    """Open an existing database file read-write; never create one.

    The schema is created by ``python -m taskboard.migrate``, which also creates the file.
    """
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.OperationalError as exc:
        raise DatabaseUnavailable(f"cannot open database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
