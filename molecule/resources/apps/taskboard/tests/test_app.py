import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskboard.main import app
from taskboard.settings import ConfigError


def test_index_uses_greeting(db_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOARD_GREETING", "Hi there")
    with TestClient(app) as client:
        assert client.get("/").json() == {"message": "Hi there"}


def test_startup_fails_without_db_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKBOARD_DB_PATH", raising=False)
    with pytest.raises(ConfigError, match="TASKBOARD_DB_PATH must be set"), TestClient(app):
        pass


def test_healthz(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"ok": True}


def test_healthz_without_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOARD_DB_PATH", str(tmp_path / "missing.db"))
    with TestClient(app) as client:
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["ok"] is False
    assert not (tmp_path / "missing.db").exists()


def test_task_crud(client: TestClient) -> None:
    created = client.post("/tasks", json={"title": "write tests"})
    assert created.status_code == 201
    task = created.json()
    assert task["title"] == "write tests"
    assert task["status"] == "pending"
    assert task["done_at"] is None and task["done_by_pid"] is None
    assert created.headers["location"] == f"/tasks/{task['id']}"

    assert client.get(f"/tasks/{task['id']}").json() == task
    assert client.get("/tasks").json() == [task]
    assert client.get("/tasks", params={"status": "done"}).json() == []

    assert client.delete(f"/tasks/{task['id']}").status_code == 204
    assert client.get(f"/tasks/{task['id']}").status_code == 404
    assert client.delete(f"/tasks/{task['id']}").status_code == 404
    assert client.get("/tasks").json() == []


def test_task_validation(client: TestClient) -> None:
    assert client.post("/tasks", json={"title": ""}).status_code == 422
    assert client.post("/tasks", json={}).status_code == 422


def test_tasks_without_migration(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "empty.db"
    path.touch()  # exists, but the release command never ran
    monkeypatch.setenv("TASKBOARD_DB_PATH", str(path))
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
        response = client.get("/tasks")
        assert response.status_code == 503
        assert "python -m taskboard.migrate" in response.json()["detail"]
        assert client.post("/tasks", json={"title": "x"}).status_code == 503


def test_tasks_without_database_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TASKBOARD_DB_PATH", str(tmp_path / "missing.db"))
    with TestClient(app) as client:
        response = client.get("/tasks")
    assert response.status_code == 503
    assert "cannot open database" in response.json()["detail"]


def test_websocket_echo(client: TestClient) -> None:
    with client.websocket_connect("/ws/echo") as ws:
        ws.send_text("hello")
        assert ws.receive_text() == "echo: hello"
        ws.send_text("again")
        assert ws.receive_text() == "echo: again"


def test_events_are_spread_over_time(client: TestClient) -> None:
    with client.stream("GET", "/events", params={"count": 3, "interval": 0.1}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    events = [json.loads(line.removeprefix("data: ")) for line in lines]
    assert [event["n"] for event in events] == [0, 1, 2]
    gaps = [b["t"] - a["t"] for a, b in zip(events, events[1:], strict=False)]
    assert all(gap >= 0.09 for gap in gaps)


def test_events_bounds(client: TestClient) -> None:
    assert client.get("/events", params={"count": 1000}).status_code == 422
    assert client.get("/events", params={"interval": 60}).status_code == 422
