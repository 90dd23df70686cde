"""PostgreSQL as an operator meets it: login, migrations missing, restarts, a hung server.

The tests that stop, restart or freeze the server have one of their own, so the
session's shared server is never disturbed.
"""

import asyncio
import io
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import make_url

from tests.conftest import (
    RELEASE,
    make_settings,
    migrated_database,
    migrated_server,
    serve,
)
from tests.postgresql_server import PASSWORD, PostgreSQLServer
from tests.test_metrics import sample
from webapp import postgresql
from webapp.main import create_app

pytestmark = pytest.mark.anyio

# A stopped server refuses connections at once: answers come well within this.
REFUSED_SECONDS = 1.0
UNAVAILABLE_NOTES = {"method": "GET", "route": "/api/notes", "status": "503"}
# The connect timeout of the test that freezes the server (libpq's minimum).
CONNECT_TIMEOUT = 2


@pytest.fixture(scope="module")
def own_server() -> Iterator[PostgreSQLServer]:
    with migrated_server() as server:
        yield server


@pytest.fixture
def fault_database(own_server: PostgreSQLServer) -> Iterator[str]:
    with migrated_database(own_server) as url:
        yield url


@pytest.fixture
def fault_server(own_server: PostgreSQLServer, fault_database: str) -> Iterator[PostgreSQLServer]:
    """The module's server, running again after the test whatever the test did to it.

    Torn down before ``fault_database``, which needs the server to drop the database.
    """
    yield own_server
    if own_server.running():
        own_server.thaw()
    else:
        own_server.start()


async def unavailable_notes(client: httpx.AsyncClient) -> float:
    """How many GET /api/notes this process has answered with 503 so far."""
    return sample((await client.get("/metrics")).text, "http_requests_total", **UNAVAILABLE_NOTES)


async def test_url_wins_over_the_path(database_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "absent.db", database_url=database_url)
    async with serve(create_app(settings)) as client:
        response = await client.get("/health")
    assert response.json() == {"status": "ok", "release": RELEASE, "database": "ok"}
    assert not (tmp_path / "absent.db").exists()


def database_name(url: str) -> str:
    name = make_url(url).database
    assert name is not None
    return name


async def test_start_is_logged_without_the_password(
    database_url: str, postgresql_server: PostgreSQLServer, app_log: io.StringIO
) -> None:
    async with serve(create_app(make_settings(database_url))):
        pass
    described = f"postgresql+psycopg://webapp@127.0.0.1:{postgresql_server.port}"
    assert f"database {described}/{database_name(database_url)}\n" in app_log.getvalue()
    assert PASSWORD not in app_log.getvalue()


@pytest.fixture
def empty_database(postgresql_server: PostgreSQLServer) -> Iterator[str]:
    postgresql_server.create_database("not_migrated")
    yield postgresql_server.url("not_migrated")
    postgresql_server.drop_database("not_migrated")


async def test_unmigrated_database_is_unhealthy(empty_database: str) -> None:
    async with serve(create_app(make_settings(empty_database))) as client:
        response = await client.get("/health")
    assert response.status_code == 503
    assert response.json()["database"] == (
        'UndefinedTable: relation "notes" does not exist LINE 2: FROM notes ^'
    )


async def test_refused_login_is_unhealthy_without_either_password(
    database_url: str, postgresql_server: PostgreSQLServer, app_log: io.StringIO
) -> None:
    wrong = "wrong-Password"
    url = postgresql_server.url(database_name(database_url), password=wrong)
    async with serve(create_app(make_settings(url))) as client:
        health = await client.get("/health")
        notes = await client.get("/api/notes")
    assert health.status_code == 503
    assert "password authentication failed for user" in health.json()["database"]
    assert notes.status_code == 503
    for text in (health.text, notes.text, app_log.getvalue()):
        assert wrong not in text
        assert PASSWORD not in text


async def test_pool_bounds_the_connections(
    database_url: str, postgresql_server: PostgreSQLServer
) -> None:
    settings = make_settings(database_url, database_pool_size=2)
    async with serve(create_app(settings)) as client:
        answers = await asyncio.gather(*(client.get("/api/notes") for _ in range(20)))
    assert [answer.status_code for answer in answers] == [200] * 20
    # The requests waited for one of the pool's connections rather than opening more.
    assert postgresql_server.connections_made(database_name(database_url)) == 2


async def test_restart_is_recovered_by_the_next_request(
    fault_server: PostgreSQLServer, fault_database: str, auth: dict[str, str]
) -> None:
    async with serve(create_app(make_settings(fault_database))) as client:
        # Fill the pool with connections, all of which the restart will close.
        await asyncio.gather(*(client.get("/api/notes") for _ in range(10)))
        failures_before = await unavailable_notes(client)
        created = await client.post("/api/notes", json={"title": "before"}, headers=auth)
        assert created.status_code == 201

        fault_server.restart()

        listed = await client.get("/api/notes")
        health = await client.get("/health")
        answers = await asyncio.gather(*(client.get("/api/notes") for _ in range(10)))
        failures = await unavailable_notes(client) - failures_before
    assert listed.status_code == 200
    assert [note["title"] for note in listed.json()["items"]] == ["before"]
    assert health.json()["database"] == "ok"
    assert {answer.status_code for answer in answers} == {200}
    assert failures == 0


async def test_stopped_server_fails_requests_fast_until_it_is_back(
    fault_server: PostgreSQLServer, fault_database: str
) -> None:
    async with serve(create_app(make_settings(fault_database))) as client:
        assert (await client.get("/api/notes")).status_code == 200
        failures_before = await unavailable_notes(client)
        fault_server.stop()

        started = time.monotonic()
        health = await client.get("/health")
        failed = [await client.get("/api/notes") for _ in range(5)]
        elapsed = time.monotonic() - started

        fault_server.start()
        recovered = await client.get("/api/notes")
        failures = await unavailable_notes(client) - failures_before

    assert health.status_code == 503
    assert health.json()["database"].startswith("OperationalError: connection failed:")
    assert "Connection refused" in health.json()["database"]
    assert {answer.status_code for answer in failed} == {503}
    assert failed[0].json() == {"detail": "The database is unavailable; try again later."}
    assert failed[0].headers["retry-after"] == "5"
    assert elapsed < 6 * REFUSED_SECONDS
    assert recovered.status_code == 200
    assert failures == 5


async def test_hung_server_is_unhealthy_within_the_timeouts(
    fault_server: PostgreSQLServer, fault_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgresql, "CONNECT_TIMEOUT", CONNECT_TIMEOUT)
    app = create_app(make_settings(fault_database, health_timeout=0.5))
    async with serve(app) as client:
        fault_server.freeze()

        started = time.monotonic()
        health = await client.get("/health")
        health_seconds = time.monotonic() - started

        started = time.monotonic()
        notes = await client.get("/api/notes")
        notes_seconds = time.monotonic() - started

        fault_server.thaw()
        recovered = await client.get("/health")

    assert health.status_code == 503
    assert health.json()["database"] == "TimeoutError: the database did not answer in time"
    assert health_seconds < 1.5
    # A request needing a new connection gives up after connect_timeout.
    assert notes.status_code == 503
    assert CONNECT_TIMEOUT - 0.5 < notes_seconds < CONNECT_TIMEOUT + 1.5
    assert recovered.status_code == 200


async def test_exhausted_pool_answers_503_after_the_pool_timeout(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(postgresql, "POOL_TIMEOUT", 0.5)
    app = create_app(make_settings(database_url, database_pool_size=1))
    async with serve(app) as client:
        async with app.state.engine.connect():  # the pool's only connection, held
            started = time.monotonic()
            waited = await client.get("/api/notes")
            elapsed = time.monotonic() - started
        served = await client.get("/api/notes")
    assert waited.status_code == 503
    assert 0.5 <= elapsed < 1.5
    assert served.status_code == 200
