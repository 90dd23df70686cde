"""Shared fixtures: a clean environment, a migrated SQLite file, the app and a client."""

import asyncio
import os
import shutil
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from pydantic import SecretStr

from webapp.main import create_app
from webapp.settings import DatabaseSettings, Settings

APP_DIR = Path(__file__).resolve().parent.parent
TOKEN = "test-token-0123456789abcdef"
RELEASE = "test-release-1"


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


def migrate(database_path: Path, revision: str = "head") -> None:
    """``alembic upgrade <revision>`` on ``database_path``, in this process."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("APP_DATABASE_PATH", str(database_path))
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


def make_database_settings(database_path: Path) -> DatabaseSettings:
    return DatabaseSettings(_env_file=None, database_path=database_path)  # type: ignore[call-arg]


def make_settings(database_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_path": database_path,
        "api_token": SecretStr(TOKEN),
        "release": RELEASE,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(database_path: Path) -> Settings:
    return make_settings(database_path)


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
