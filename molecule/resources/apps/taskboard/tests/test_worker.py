import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from taskboard.db import connect
from taskboard.worker import run_once


def add_task(path: Path, title: str) -> int:
    conn = connect(path)
    with conn:
        task_id = conn.execute(
            "INSERT INTO tasks (title, created_at) VALUES (?, '2024-01-01T00:00:00+00:00')", (title,)
        ).lastrowid
    conn.close()
    assert task_id is not None
    return task_id


def test_run_once_completes_pending_tasks(db_path: Path) -> None:
    first, second = add_task(db_path, "a"), add_task(db_path, "b")
    conn = connect(db_path)
    try:
        assert run_once(conn, pid=4242) == [first, second]
        assert run_once(conn, pid=4242) == []
        rows = conn.execute("SELECT status, done_by_pid, done_at FROM tasks ORDER BY id").fetchall()
    finally:
        conn.close()
    assert [(row["status"], row["done_by_pid"]) for row in rows] == [("done", 4242), ("done", 4242)]
    assert all(row["done_at"] for row in rows)


def test_worker_process_runs_and_stops_on_sigterm(db_path: Path) -> None:
    task_id = add_task(db_path, "background")
    env = {**os.environ, "TASKBOARD_DB_PATH": str(db_path), "TASKBOARD_WORKER_INTERVAL": "0.1"}
    worker = subprocess.Popen([sys.executable, "-m", "taskboard.worker"], env=env, stderr=subprocess.PIPE, text=True)
    try:
        conn = connect(db_path)
        deadline = time.monotonic() + 10
        row = None
        while time.monotonic() < deadline:
            row = conn.execute("SELECT status, done_by_pid FROM tasks WHERE id = ?", (task_id,)).fetchone()
            if row["status"] == "done":
                break
            time.sleep(0.05)
        conn.close()
        assert row is not None and (row["status"], row["done_by_pid"]) == ("done", worker.pid)

        started = time.monotonic()
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=5) == 0
        assert time.monotonic() - started < 2
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    stderr = worker.stderr.read() if worker.stderr else ""
    assert "received SIGTERM" in stderr and "worker stopped" in stderr
