"""Background worker: completes pending tasks.

    python -m taskboard.worker

Every ``TASKBOARD_WORKER_INTERVAL`` seconds (0.5 by default) it marks the pending tasks
as done, recording its process id and the time. SIGTERM or SIGINT stops it after the
current step, with exit status 0. Logs go to stderr.
"""

import logging
import os
import signal
import sqlite3
import sys
import time
from types import FrameType

from taskboard.db import DatabaseUnavailable, connect, utcnow
from taskboard.settings import ConfigError, load_settings

logger = logging.getLogger("taskboard.worker")

BATCH_SIZE = 100


def run_once(conn: sqlite3.Connection, pid: int) -> list[int]:
    """Mark up to BATCH_SIZE pending tasks as done by ``pid``; return their ids."""
    with conn:  # one transaction
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM tasks WHERE status = 'pending' ORDER BY id LIMIT ?", (BATCH_SIZE,)
            ).fetchall()
        ]
        if ids:
            conn.executemany(
                "UPDATE tasks SET status = 'done', done_at = ?, done_by_pid = ? WHERE id = ? AND status = 'pending'",
                [(utcnow(), pid, task_id) for task_id in ids],
            )
    return ids


def main() -> int:
    logging.basicConfig(
        stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s[%(process)d] %(levelname)s %(message)s"
    )
    try:
        settings = load_settings()
    except ConfigError as exc:
        logger.error("%s", exc)
        return 2

    stopping = False

    def request_stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        logger.info("received %s, stopping after the current step", signal.Signals(signum).name)
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    pid = os.getpid()
    logger.info("worker started (pid %d, database %s, every %ss)", pid, settings.db_path, settings.worker_interval)
    conn: sqlite3.Connection | None = None
    while not stopping:
        try:
            if conn is None:
                conn = connect(settings.db_path)
            for task_id in run_once(conn, pid):
                logger.info("task %d done", task_id)
        except (DatabaseUnavailable, sqlite3.Error) as exc:
            # Keep running: the release command may not have run yet, or the file may be locked.
            logger.error("step failed: %s", exc)
            if conn is not None:
                conn.close()
                conn = None
        # Sleep in short slices so that a stop request is honoured quickly.
        deadline = time.monotonic() + settings.worker_interval
        while not stopping and (remaining := deadline - time.monotonic()) > 0:
            time.sleep(min(remaining, 0.1))
    if conn is not None:
        conn.close()
    logger.info("worker stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
