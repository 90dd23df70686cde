"""The application factory and the ASGI application ``webapp.main:app``."""

import asyncio
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from webapp.db import create_engine, create_sessionmaker, describe_database
from webapp.db_errors import answer_unavailable_with_503
from webapp.head import HeadAsGetMiddleware
from webapp.metrics import MetricsMiddleware, record_release
from webapp.routes import docs, events, health, metrics, notes, pages, websocket
from webapp.settings import Settings, load_settings
from webapp.sockets import SERVICE_RESTART, SocketRegistry

STATIC_DIR = Path(__file__).resolve().parent / "static"
# How long shutdown waits for health checks still stuck in the database.
SHUTDOWN_GRACE_SECONDS = 10.0
# How long shutdown waits for open WebSockets to take their close frame (1012).
SOCKET_CLOSE_SECONDS = 5.0

logger = logging.getLogger("webapp")
# Like Gunicorn's own lines, with the worker's pid.
LOG_FORMATTER = logging.Formatter(
    "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
    datefmt="%Y-%m-%d %H:%M:%S %z",
)


def configure_logging(level: str) -> None:
    """Log the ``webapp`` loggers to stderr; the server's own loggers stay as they are."""
    if not logger.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(LOG_FORMATTER)
        logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine = create_engine(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.background_checks = set()
    app.state.sockets = SocketRegistry()
    app.state.started_at = datetime.now(UTC)
    logger.info(
        "Starting %s, release %s, database %s",
        settings.name,
        settings.release,
        describe_database(settings),
    )
    try:
        yield
    finally:
        # Uvicorn has closed its WebSockets before this runs; other servers may not.
        closed = await app.state.sockets.close_all(
            SERVICE_RESTART, "server restarting", within=SOCKET_CLOSE_SECONDS
        )
        if closed:
            logger.info("Closed %d WebSocket(s) with code %d", closed, SERVICE_RESTART)
        if app.state.background_checks:
            await asyncio.wait(app.state.background_checks, timeout=SHUTDOWN_GRACE_SECONDS)
        await engine.dispose()
        logger.info("Stopped")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application; settings are loaded from the environment if not given."""
    if settings is None:
        settings = load_settings(Settings)
    configure_logging(settings.log_level)
    record_release(settings.release)

    app = FastAPI(
        title=settings.name,
        version=settings.release,
        lifespan=lifespan,
        # FastAPI's pages need a CDN and inline scripts: routes/docs.py serves its own.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    answer_unavailable_with_503(app)
    # The last added runs first: the metrics see HEAD requests as HEAD.
    app.add_middleware(HeadAsGetMiddleware)
    app.add_middleware(MetricsMiddleware)
    app.include_router(pages.router)
    app.include_router(health.router)
    app.include_router(notes.router)
    app.include_router(events.router)
    app.include_router(websocket.router)
    app.include_router(metrics.router)
    app.include_router(docs.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.mount(docs.DOCS_ASSETS_PREFIX, docs.docs_assets(), name=docs.DOCS_ASSETS_NAME)
    return app


def __getattr__(name: str) -> FastAPI:
    """Create ``app`` on first access (PEP 562), not when the module is imported.

    ``gunicorn webapp.main:app`` and ``uvicorn webapp.main:app`` both fetch it with
    getattr, so a bad configuration stops them at startup with the SettingsError's
    message (Gunicorn prints it after the traceback and exits with status 3), while
    tests and tools can import :func:`create_app` without a configured environment.
    """
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    application = create_app()
    globals()["app"] = application
    return application
