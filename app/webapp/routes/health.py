"""GET /health: is this process able to serve, and which release is it."""

import asyncio

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from webapp.db_errors import describe_error
from webapp.dependencies import EngineDep, SettingsDep
from webapp.models import Note
from webapp.schemas import HealthReport

router = APIRouter(tags=["health"])

NO_STORE = {"Cache-Control": "no-store"}


async def check_database(engine: AsyncEngine) -> None:
    """Read the notes table.

    Fails on a missing, unmigrated, unreadable or corrupt SQLite file, and on a
    PostgreSQL server that is down, unreachable, refuses the login or is unmigrated.
    """
    async with engine.connect() as connection:
        await connection.execute(select(Note.id).limit(1))


def start_database_check(app: FastAPI, engine: AsyncEngine) -> asyncio.Task[None]:
    """Run :func:`check_database` as a task of its own.

    SQLite calls run in a thread that cannot be interrupted, so the route awaits this
    task shielded from its timeout: the response does not wait for a stuck query, and
    the task ends (and returns its connection) on its own; with PostgreSQL, the connect
    timeout ends one stuck connecting. The lifespan waits for such tasks before closing
    the engine.
    """
    pending: set[asyncio.Task[None]] = app.state.background_checks
    task = asyncio.create_task(check_database(engine))
    pending.add(task)

    def forget(done: asyncio.Task[None]) -> None:
        pending.discard(done)
        if not done.cancelled():
            done.exception()  # retrieved, so asyncio does not log it as unhandled

    task.add_done_callback(forget)
    return task


@router.get(
    "/health",
    response_model=HealthReport,
    responses={503: {"model": HealthReport, "description": "The database is unusable."}},
)
async def health(request: Request, settings: SettingsDep, engine: EngineDep) -> JSONResponse:
    try:
        async with asyncio.timeout(settings.health_timeout):
            await asyncio.shield(start_database_check(request.app, engine))
    except Exception as exc:
        report = HealthReport(
            status="unavailable", release=settings.release, database=describe_error(exc)
        )
        return JSONResponse(report.model_dump(), status_code=503, headers=NO_STORE)
    report = HealthReport(status="ok", release=settings.release, database="ok")
    return JSONResponse(report.model_dump(), headers=NO_STORE)
