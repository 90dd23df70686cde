import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from config import sqlite_path
from main import app

APP_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client


def test_status(client: TestClient) -> None:
    response = client.get("/status")
    assert response.status_code == 200
    assert response.text == "ok"
    assert response.headers["content-type"].startswith("text/plain")


def test_items_crud(client: TestClient) -> None:
    created = client.post("/items", json={"name": "hammer", "price": 9.5})
    assert created.status_code == 201
    item = created.json()
    assert item == {"id": item["id"], "name": "hammer", "description": "", "price": 9.5}

    assert client.get(f"/items/{item['id']}").json() == item
    assert item in client.get("/items").json()

    updated = client.put(f"/items/{item['id']}", json={"name": "big hammer", "price": 12})
    assert updated.json()["name"] == "big hammer"

    assert client.delete(f"/items/{item['id']}").status_code == 204
    assert client.get(f"/items/{item['id']}").status_code == 404
    assert client.put(f"/items/{item['id']}", json={"name": "x"}).status_code == 404
    assert client.post("/items", json={"name": ""}).status_code == 422


def test_table_created_at_startup() -> None:
    path = sqlite_path(os.environ["DATABASE_URL"])
    for leftover in path.parent.glob(path.name + "*"):
        leftover.unlink()
    with TestClient(app):
        with sqlite3.connect(path) as conn:
            tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        conn.close()
    assert "items" in tables


def test_session_counts_visits(client: TestClient) -> None:
    assert client.get("/").json()["visits"] == 1
    assert client.get("/").json()["visits"] == 2


def test_sqlite_path() -> None:
    assert sqlite_path("sqlite:////srv/data/app.db") == Path("/srv/data/app.db")
    assert sqlite_path("sqlite:///relative.db") == Path("relative.db")
    with pytest.raises(RuntimeError, match="sqlite URL"):
        sqlite_path("postgresql://db/app")


def test_secret_key_is_required() -> None:
    env = {key: value for key, value in os.environ.items() if key != "SECRET_KEY"}
    result = subprocess.run(
        [sys.executable, "-c", "import main"], cwd=APP_DIR, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "SECRET_KEY environment variable is not set" in result.stderr
