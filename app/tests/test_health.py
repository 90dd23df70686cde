"""GET /health against real SQLite files in good and bad states.

PostgreSQL's bad states (down, hung, login refused, not migrated) are in
test_postgresql.py.
"""

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import BOTH_BACKENDS, RELEASE, make_settings, serve
from webapp.main import create_app

pytestmark = pytest.mark.anyio


async def get_health(database_path: Path) -> httpx.Response:
    async with serve(create_app(make_settings(database_path))) as client:
        return await client.get("/health")


@BOTH_BACKENDS
async def test_healthy(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "release": RELEASE, "database": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_missing_file_is_unhealthy_and_not_created(tmp_path: Path) -> None:
    path = tmp_path / "absent" / "app.db"
    response = await get_health(path)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "release": RELEASE,
        "database": "OperationalError: unable to open database file",
    }
    assert response.headers["cache-control"] == "no-store"
    assert not path.exists()


async def test_requests_answer_503_while_the_file_is_missing(tmp_path: Path) -> None:
    async with serve(create_app(make_settings(tmp_path / "absent.db"))) as client:
        response = await client.get("/api/notes")
    assert response.status_code == 503
    assert response.json() == {"detail": "The database is unavailable; try again later."}
    assert response.headers["retry-after"] == "5"


async def test_unmigrated_file_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    response = await get_health(path)
    assert response.status_code == 503
    assert response.json()["database"] == "OperationalError: no such table: notes"


async def test_corrupt_file_is_unhealthy(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.db"
    path.write_bytes(b"this is not an SQLite database, just text" * 100)
    response = await get_health(path)
    assert response.status_code == 503
    assert response.json()["database"] == "DatabaseError: file is not a database"


@pytest.fixture
def lock_holder(database_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding an exclusive lock on the database, as a stuck writer would."""
    holder = sqlite3.connect(database_path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("INSERT INTO notes (title, body, created_at, updated_at) VALUES ('x', '', 0, 0)")
    yield holder
    holder.close()


async def test_stuck_database_answers_within_the_timeout(
    database_path: Path, lock_holder: sqlite3.Connection
) -> None:
    app = create_app(make_settings(database_path, health_timeout=0.3))
    async with serve(app) as client:
        started = time.monotonic()
        response = await client.get("/health")
        elapsed = time.monotonic() - started
        lock_holder.close()  # releases the lock: the abandoned check finishes before shutdown

    assert response.status_code == 503
    assert response.json()["database"] == "TimeoutError: the database did not answer in time"
    # Well under the 5 s busy timeout the abandoned check was still waiting out.
    assert elapsed < 2
