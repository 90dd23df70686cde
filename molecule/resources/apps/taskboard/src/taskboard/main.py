"""The web application: ``taskboard.main:app``."""

import asyncio
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field

from taskboard import __version__
from taskboard.db import DatabaseUnavailable, connect, utcnow
from taskboard.settings import Settings, load_settings

logger = logging.getLogger("taskboard")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Fails the server start, with a message naming the variable, when a setting is missing.
    app.state.settings = load_settings()
    logger.info("taskboard %s using database %s", __version__, app.state.settings.db_path)
    yield


app = FastAPI(title="taskboard", version=__version__, lifespan=lifespan)


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_db(settings: Annotated[Settings, Depends(get_settings)]) -> Iterator[sqlite3.Connection]:
    conn = connect(settings.db_path)
    try:
        yield conn
    finally:
        conn.close()


Db = Annotated[sqlite3.Connection, Depends(get_db)]


@app.exception_handler(DatabaseUnavailable)
async def database_unavailable(request: Request, exc: DatabaseUnavailable) -> JSONResponse:
    logger.error("%s", exc)
    return JSONResponse({"detail": str(exc)}, status_code=503)


@app.exception_handler(sqlite3.OperationalError)
async def database_error(request: Request, exc: sqlite3.OperationalError) -> JSONResponse:
    message = str(exc)
    if message.startswith("no such table") or message.startswith("no such column"):
        detail = f"database schema is missing or outdated ({message}): run `python -m taskboard.migrate`"
    else:
        detail = f"database error: {message}"
    logger.error("%s", detail)
    return JSONResponse({"detail": detail}, status_code=503)


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=200)


class Task(BaseModel):
    id: int
    title: str
    status: str
    created_at: str
    done_at: str | None
    done_by_pid: int | None


TASK_COLUMNS = "id, title, status, created_at, done_at, done_by_pid"


@app.get("/")
def index(settings: Annotated[Settings, Depends(get_settings)]) -> dict[str, str]:
    return {"message": settings.greeting}


@app.get("/healthz")
def healthz(settings: Annotated[Settings, Depends(get_settings)]) -> JSONResponse:
    """200 when the database file can be opened and read, 503 otherwise."""
    try:
        conn = connect(settings.db_path)
        try:
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except (DatabaseUnavailable, sqlite3.Error) as exc:
        logger.warning("health check failed: %s", exc)
        return JSONResponse({"ok": False, "error": str(exc)}, status_code=503)
    return JSONResponse({"ok": True})


@app.post("/tasks", status_code=201)
def create_task(task: TaskIn, db: Db, response: Response) -> Task:
    with db:
        cursor = db.execute("INSERT INTO tasks (title, created_at) VALUES (?, ?)", (task.title, utcnow()))
    row = db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (cursor.lastrowid,)).fetchone()
    response.headers["Location"] = f"/tasks/{row['id']}"
    return Task(**row)


@app.get("/tasks")
def list_tasks(db: Db, status: Annotated[str | None, Query(pattern="^(pending|done)$")] = None) -> list[Task]:
    if status is None:
        rows = db.execute(f"SELECT {TASK_COLUMNS} FROM tasks ORDER BY id").fetchall()
    else:
        rows = db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE status = ? ORDER BY id", (status,)).fetchall()
    return [Task(**row) for row in rows]


@app.get("/tasks/{task_id}")
def get_task(task_id: int, db: Db) -> Task:
    row = db.execute(f"SELECT {TASK_COLUMNS} FROM tasks WHERE id = ?", (task_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="task not found")
    return Task(**row)


@app.delete("/tasks/{task_id}", status_code=204)
def delete_task(task_id: int, db: Db) -> None:
    with db:
        cursor = db.execute("DELETE FROM tasks WHERE id = ?", (task_id,))
    if cursor.rowcount == 0:
        raise HTTPException(status_code=404, detail="task not found")


@app.websocket("/ws/echo")
async def echo(websocket: WebSocket) -> None:
    await websocket.accept()
    try:
        while True:
            message = await websocket.receive_text()
            await websocket.send_text(f"echo: {message}")
    except WebSocketDisconnect:
        pass


@app.get("/events")
async def events(
    count: Annotated[int, Query(ge=1, le=100)] = 5,
    interval: Annotated[float, Query(ge=0, le=10)] = 0.5,
) -> StreamingResponse:
    """Server-sent events: ``count`` events, ``interval`` seconds apart."""

    async def stream() -> AsyncIterator[str]:
        for n in range(count):
            if n:
                await asyncio.sleep(interval)
            yield f"data: {json.dumps({'n': n, 't': time.time()})}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
