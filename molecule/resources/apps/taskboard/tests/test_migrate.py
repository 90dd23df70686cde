import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from taskboard.migrate import LATEST_VERSION, main


def test_migrate_creates_then_does_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "taskboard.db"
    monkeypatch.setenv("TASKBOARD_DB_PATH", str(path))

    assert main() == 0
    out = capsys.readouterr().out
    assert "created database file" in out
    assert "applied version 1" in out and "applied version 2" in out

    assert main() == 0
    assert "nothing to do" in capsys.readouterr().out

    with sqlite3.connect(path) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        columns = {row[1] for row in conn.execute("PRAGMA table_info(tasks)")}
    assert versions == list(range(1, LATEST_VERSION + 1))
    assert {"id", "title", "status", "created_at", "done_at", "done_by_pid"} <= columns


def test_migrate_without_setting(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TASKBOARD_DB_PATH", raising=False)
    assert main() == 2
    assert "TASKBOARD_DB_PATH must be set" in capsys.readouterr().err


def test_migrate_into_missing_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TASKBOARD_DB_PATH", str(tmp_path / "nowhere" / "taskboard.db"))
    assert main() == 1
    assert "does not exist" in capsys.readouterr().err


def test_migrate_as_a_command(tmp_path: Path) -> None:
    env = {**os.environ, "TASKBOARD_DB_PATH": str(tmp_path / "taskboard.db")}
    result = subprocess.run(
        [sys.executable, "-m", "taskboard.migrate"], env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert f"schema version {LATEST_VERSION}" in result.stdout
