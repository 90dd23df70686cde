from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from taskboard.main import app
from taskboard.migrate import migrate


@pytest.fixture
def db_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A migrated database, named by TASKBOARD_DB_PATH."""
    path = tmp_path / "taskboard.db"
    migrate(path)
    monkeypatch.setenv("TASKBOARD_DB_PATH", str(path))
    return path


@pytest.fixture
def client(db_path: Path) -> Iterator[TestClient]:
    with TestClient(app) as client:
        yield client
