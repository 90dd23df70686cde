"""Items API.

Run with:  gunicorn -k uvicorn.workers.UvicornWorker main:app
"""

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from starlette.middleware.sessions import SessionMiddleware

import config
from database import get_db, init_db


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    init_db()  # create the table if it does not exist yet
    yield


app = FastAPI(title="Classic items API", lifespan=lifespan)
app.add_middleware(SessionMiddleware, secret_key=config.SECRET_KEY, session_cookie="classic_session")

Db = Annotated[sqlite3.Connection, Depends(get_db)]


class ItemIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=1000)
    price: float = Field(default=0, ge=0)


class Item(ItemIn):
    id: int


@app.get("/status", response_class=PlainTextResponse)
def status() -> str:
    return "ok"


@app.get("/")
def home(request: Request) -> dict[str, str | int]:
    request.session["visits"] = request.session.get("visits", 0) + 1
    return {"app": "classic", "visits": request.session["visits"]}


@app.get("/items")
def list_items(db: Db) -> list[Item]:
    rows = db.execute("SELECT id, name, description, price FROM items ORDER BY id").fetchall()
    return [Item(**row) for row in rows]


@app.post("/items", status_code=201)
def create_item(item: ItemIn, db: Db) -> Item:
    with db:
        row = db.execute(
            "INSERT INTO items (name, description, price) VALUES (?, ?, ?) RETURNING id, name, description, price",
            (item.name, item.description, item.price),
        ).fetchone()
    return Item(**row)


@app.get("/items/{item_id}")
def read_item(item_id: int, db: Db) -> Item:
    row = db.execute("SELECT id, name, description, price FROM items WHERE id = ?", (item_id,)).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return Item(**row)


@app.put("/items/{item_id}")
def update_item(item_id: int, item: ItemIn, db: Db) -> Item:
    with db:
        row = db.execute(
            "UPDATE items SET name = ?, description = ?, price = ? WHERE id = ? RETURNING id, name, description, price",
            (item.name, item.description, item.price, item_id),
        ).fetchone()
    if row is None:
        raise HTTPException(status_code=404, detail="Item not found")
    return Item(**row)


@app.delete("/items/{item_id}", status_code=204)
def delete_item(item_id: int, db: Db) -> None:
    with db:
        cursor = db.execute("DELETE FROM items WHERE id = ?", (item_id,))
    if cursor.rowcount == 0:
        raise HTTPException(status_code=404, detail="Item not found")
