"""The scheduled online backup of the app's SQLite database, as an operator observes it on each server.

A run of the backup service, started as its timer starts it, must leave one more copy
of the live database: the app user's, private, sound, with the notes written before it.
tests/test_sqlite_backup.py tests the script itself (consistency under writes, retention).
"""

from __future__ import annotations

import json
import shlex
import uuid

import pytest
from conftest import SOCKET, TOKEN

UNIT = "webapp-sqlite-backup"
# The scenario's app_sqlite_path (molecule.yml); the copies are kept beside the pre-migration ones.
DATABASE = "/srv/webapp/shared/data/app.db"
COPIES = "/srv/webapp/shared/backups/scheduled"
# Reads a database read-only, as the app user: a root process must never open the app's files.
QUERY = (
    "import sqlite3, sys; "
    "print(sqlite3.connect(f'file:{sys.argv[1]}?mode=ro', uri=True).execute(sys.argv[2]).fetchall())"
)


def query(host, database: str, sql: str) -> str:
    """The rows of sql in database, as Python prints them."""
    return host.check_output(
        f"runuser -u webapp -- /usr/bin/python3 -c {shlex.quote(QUERY)} {database} {shlex.quote(sql)}"
    )


def copies(host) -> set[str]:
    listing = host.check_output(f"find {COPIES} -maxdepth 1 -type f -name '*.sqlite3' -printf '%f\\n'")
    return set(listing.split())


@pytest.fixture(scope="module")
def backup_run(host) -> dict[str, str]:
    """Write a note through the app, then run the backup service once, as its timer does; the new copy."""
    title = f"before the backup {uuid.uuid4().hex[:8]}"
    body = json.dumps({"title": title, "body": "must be in the copy"})
    host.check_output(
        f"curl -sS --fail-with-body --max-time 5 --unix-socket {SOCKET} -X POST -H 'Authorization: Bearer {TOKEN}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(body)} http://localhost/api/notes"
    )
    before = copies(host)
    run = host.run(f"systemctl start --wait {UNIT}.service")
    journal = host.run(f"journalctl -u {UNIT}.service -n 20 --no-pager -o cat").stdout
    assert run.rc == 0, f"{run.stderr}\n{journal}"
    new = copies(host) - before
    assert len(new) == 1, f"one new copy expected, found {sorted(new)}:\n{journal}"
    return {"path": f"{COPIES}/{new.pop()}", "title": title, "journal": journal}


def test_the_backup_timer_is_enabled_and_active(host):
    assert host.run(f"systemctl is-enabled {UNIT}.timer").stdout.strip() == "enabled"
    assert host.run(f"systemctl is-active {UNIT}.timer").stdout.strip() == "active"


def test_the_backup_timer_runs_hourly_and_makes_up_missed_runs(host):
    shown = host.check_output(f"systemctl show {UNIT}.timer -p TimersCalendar -p Persistent -p NextElapseUSecRealtime")
    properties = dict(line.split("=", 1) for line in shown.splitlines())
    # hourly, the default, as systemd normalizes it.
    assert "OnCalendar=*-*-* *:00:00" in properties["TimersCalendar"], properties
    assert properties["Persistent"] == "yes"
    assert properties["NextElapseUSecRealtime"], "no next run scheduled"


def test_the_backup_runs_as_the_app_user(host):
    assert host.check_output(f"systemctl show {UNIT}.service -p User --value") == "webapp"


@pytest.mark.parametrize("suffix", ["service", "timer"])
def test_the_units_belong_to_root(host, suffix):
    unit = host.file(f"/etc/systemd/system/{UNIT}.{suffix}")
    assert (unit.user, unit.group, unit.mode) == ("root", "root", 0o644)


def test_the_copies_directory_is_the_app_users_only(host):
    directory = host.file(COPIES)
    assert directory.is_directory
    assert (directory.user, directory.group, directory.mode) == ("webapp", "webapp", 0o750)


def test_a_run_succeeds_and_says_what_it_copied(host, backup_run):
    assert host.check_output(f"systemctl show {UNIT}.service -p Result --value") == "success"
    assert f"copied {DATABASE} to {backup_run['path']} (integrity check: ok)" in backup_run["journal"]


def test_the_copy_belongs_to_the_app_user_and_is_private(host, backup_run):
    copy = host.file(backup_run["path"])
    assert (copy.user, copy.group) == ("webapp", "webapp")
    # 0640 or stricter: no one but the app user writes it, no one outside its group reads it.
    assert (copy.mode & ~0o640) == 0, oct(copy.mode)


def test_the_copy_passes_the_integrity_check(host, backup_run):
    assert query(host, backup_run["path"], "PRAGMA integrity_check") == "[('ok',)]"


def test_the_copy_holds_the_notes_written_before_it(host, backup_run):
    titles = query(host, backup_run["path"], "SELECT title FROM notes")
    assert repr((backup_run["title"],)) in titles


def test_the_copy_is_one_file_to_restore(host, backup_run):
    """Rollback-journal mode: no -wal file of its own, none beside it."""
    assert query(host, backup_run["path"], "PRAGMA journal_mode") == "[('delete',)]"
    assert not host.file(f"{backup_run['path']}-wal").exists
    assert not host.run(f"find {COPIES} -name '.*.tmp*'").stdout.strip(), "a temporary file was left"
