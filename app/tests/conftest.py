"""Shared fixtures: a clean environment, a migrated database, the app and a client.

The database is a SQLite file, or a database on a PostgreSQL server the tests start
(see tests/postgresql_server.py). Tests parametrized with BOTH_BACKENDS run on each;
the others on the backend ``--database-backend`` names (SQLite unless told).
"""

import asyncio
import io
import itertools
import logging
import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from pydantic import SecretStr

from tests.postgresql_server import BINARIES_GLOB, PostgreSQLServer, find_binaries, running_server
from webapp.main import create_app
from webapp.settings import DatabaseSettings, Settings

APP_DIR = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
RELEASE = "test-release-1"

BACKENDS = ("sqlite", "postgresql")
BOTH_BACKENDS = pytest.mark.parametrize("backend", BACKENDS)
NO_POSTGRESQL = (
    f"no PostgreSQL server binaries ({BINARIES_GLOB}); "
    "install them with: apt-get install postgresql"
)
TEMPLATE_DATABASE = "webapp_migrated"

# A test's database: a SQLite file, or the URL of a database on a PostgreSQL server.
Database = Path | str


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-backend",
        choices=BACKENDS,
        default="sqlite",
        help="database of the tests not run on both backends (default: sqlite)",
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No APP_* variable from the developer's shell, and a cwd without a .env file."""
    for name in list(os.environ):
        if name.startswith("APP_") or name == "PROMETHEUS_MULTIPROC_DIR":
            monkeypatch.delenv(name)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    return workdir


def alembic_config() -> Config:
    """Alembic config without alembic.ini's logging setup, for in-process runs."""
    config = Config()
    config.set_main_option("script_location", str(APP_DIR / "migrations"))
    return config


def database_environment(database: Database) -> dict[str, str]:
    """The variable that makes the application use ``database``."""
    if isinstance(database, Path):
        return {"APP_DATABASE_PATH": str(database)}
    return {"APP_DATABASE_URL": database}


def migrate(database: Database, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on ``database``, in this process."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in database_environment(database).items():
            patch.setenv(name, value)
        command.upgrade(alembic_config(), revision)


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "app.db"
    migrate(path)
    return path


def copy_database(template: Path, path: Path) -> Path:
    """Copy a migrated database to ``path``, making its directory; return ``path``."""
    path.parent.mkdir(parents=True)
    shutil.copyfile(template, path)
    return path


@pytest.fixture
def database_path(tmp_path: Path, migrated_template: Path) -> Path:
    """A freshly migrated database file of this test's own."""
    return copy_database(migrated_template, tmp_path / "data" / "app.db")


@contextmanager
def migrated_server() -> Iterator[PostgreSQLServer]:
    """A new PostgreSQL server with a migrated template database; skips if none installed."""
    bindir = find_binaries()
    if bindir is None:
        pytest.skip(NO_POSTGRESQL)
    with running_server(bindir) as server:
        server.create_database(TEMPLATE_DATABASE)
        migrate(server.url(TEMPLATE_DATABASE))
        yield server


@pytest.fixture(scope="session")
def postgresql_server() -> Iterator[PostgreSQLServer]:
    """The PostgreSQL server the test session shares."""
    with migrated_server() as server:
        yield server


_database_numbers = itertools.count(1)


@contextmanager
def migrated_database(server: PostgreSQLServer) -> Iterator[str]:
    """The URL of a new database copied from the migrated template, dropped afterwards."""
    name = f"test_{next(_database_numbers)}"
    server.create_database(name, template=TEMPLATE_DATABASE)
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture
def database_url(postgresql_server: PostgreSQLServer) -> Iterator[str]:
    """The URL of a freshly migrated PostgreSQL database of this test's own."""
    with migrated_database(postgresql_server) as url:
        yield url


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    """The backend of tests that do not choose: BOTH_BACKENDS overrides it."""
    chosen: str = request.config.getoption("--database-backend")
    return chosen


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest) -> Database:
    """A freshly migrated database of this test's own, on ``backend``."""
    found: Database = request.getfixturevalue(
        "database_path" if backend == "sqlite" else "database_url"
    )
    return found


def database_values(database: Database) -> dict[str, object]:
    """The setting that makes the application use ``database``."""
    if isinstance(database, Path):
        return {"database_path": database}
    return {"database_url": SecretStr(database)}


def make_database_settings(database: Database) -> DatabaseSettings:
    return DatabaseSettings(_env_file=None, **database_values(database))  # type: ignore[call-arg]


def make_settings(database: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "api_token": SecretStr(TOKEN),
        "release": RELEASE,
        **database_values(database),
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database: Database) -> Settings:
    return make_settings(database)


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


async def wait_for_sqlite_threads() -> None:
    """Let aiosqlite's worker threads end while the event loop still runs.

    When opening a connection fails, aiosqlite stops its thread without awaiting it; if
    the test's loop closes first, the thread raises "Event loop is closed"
    (omnilib/aiosqlite#241). A long-running server loop never sees this.
    """
    for thread in threading.enumerate():
        if thread.name.endswith("(_connection_worker_thread)"):
            await asyncio.to_thread(thread.join, 5)


@asynccontextmanager
async def serve(app: FastAPI, root_path: str = "") -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in process, with the app's lifespan running."""
    transport = httpx.ASGITransport(app=app, root_path=root_path)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        yield client
    await wait_for_sqlite_threads()


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as client:
        yield client


@pytest.fixture
def app_log() -> Iterator[io.StringIO]:
    """What the application logs from now on (its ``webapp`` loggers)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger = logging.getLogger("webapp")
    logger.addHandler(handler)
    yield stream
    logger.removeHandler(handler)


@pytest.fixture
def auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}"}


def child_environment(runtime_dir: Path) -> dict[str, str]:
    """Environment for child processes: webapp importable, no APP_* from outside.

    XDG_RUNTIME_DIR keeps Gunicorn's control socket in the test's own directory.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("APP_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = str(APP_DIR)
    env["XDG_RUNTIME_DIR"] = str(runtime_dir)
    return env
