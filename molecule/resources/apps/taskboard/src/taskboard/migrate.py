"""Release command: create or update the database schema.

    python -m taskboard.migrate

Safe to run any number of times: each schema version is applied once, and the applied
versions are recorded in the ``schema_version`` table.
"""

import sqlite3
import sys
from pathlib import Path

from taskboard.db import BUSY_TIMEOUT_MS, utcnow
from taskboard.settings import ConfigError, load_settings

# (version, description, statements). Append new versions; never edit applied ones.
MIGRATIONS: list[tuple[int, str, list[str]]] = [
    (
        1,
        "create table tasks",
        [
            """
            CREATE TABLE IF NOT EXISTS tasks (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                title TEXT NOT NULL,
                status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done')),
                created_at TEXT NOT NULL
            )
            """,
        ],
    ),
    (
        2,
        "record which worker process completed a task, and when",
        [
            "ALTER TABLE tasks ADD COLUMN done_at TEXT",
            "ALTER TABLE tasks ADD COLUMN done_by_pid INTEGER",
            "CREATE INDEX IF NOT EXISTS tasks_status ON tasks (status)",
        ],
    ),
]

LATEST_VERSION = MIGRATIONS[-1][0]


def current_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return row[0] or 0


def migrate(db_path: Path) -> list[str]:
    """Bring the schema at ``db_path`` to the latest version; return what was done."""
    done: list[str] = []
    if not db_path.exists():
        done.append(f"created database file {db_path}")
    conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    try:
        # WAL lets the web processes read while the worker writes; the mode is stored in the file.
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL,"
            " applied_at TEXT NOT NULL)"
        )
        for version, description, statements in MIGRATIONS:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if current_version(conn) >= version:
                    conn.execute("ROLLBACK")
                    continue
                for statement in statements:
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                    (version, description, utcnow()),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            done.append(f"applied version {version}: {description}")
        if not any(line.startswith("applied") for line in done):
            done.append(f"schema already at version {current_version(conn)}, nothing to do")
        return done
    finally:
        conn.close()


def main() -> int:
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"migrate: {exc}", file=sys.stderr)
        return 2
    db_path = settings.db_path.expanduser().resolve()
    if not db_path.parent.is_dir():
        print(f"migrate: directory {db_path.parent} does not exist (from TASKBOARD_DB_PATH)", file=sys.stderr)
        return 1
    try:
        for line in migrate(db_path):
            print(f"migrate: {line}")
    except sqlite3.Error as exc:
        print(f"migrate: failed on {db_path}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    print(f"migrate: {db_path} is at schema version {LATEST_VERSION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
