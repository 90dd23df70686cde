"""Changing the database server's settings: a bad value never lands, a reload where one will do.

Runs last (conftest.py): each test runs playbooks/db.yml, as an operator would.
"""

import json
import re
import time

from conftest import SOCKET, psql, record, run_playbook, steady_load

CONF = "/etc/postgresql/17/main/conf.d/50-fastapi-kit.conf"


def postmaster_pid(db) -> str:
    return db.check_output("head -1 /var/lib/postgresql/17/main/postmaster.pid")


def with_settings(settings: dict) -> tuple[str, str]:
    return ("-e", json.dumps({"postgresql_settings_extra": settings}))


def test_a_bad_value_is_refused_and_nothing_changes(db):
    before = db.file(CONF).md5sum
    pid = postmaster_pid(db)
    result = run_playbook("db.yml", *with_settings({"work_mem": "lots"}), check=False)
    assert result.returncode != 0
    assert 'invalid value for parameter "work_mem": "lots"' in result.stdout
    assert db.file(CONF).md5sum == before
    assert postmaster_pid(db) == pid
    assert psql(db, "SHOW work_mem") == "4MB"


def test_a_setting_that_reloads_is_applied_without_a_restart(db):
    pid = postmaster_pid(db)
    run_playbook("db.yml", *with_settings({"log_min_duration_statement": 250}))
    assert psql(db, "SHOW log_min_duration_statement") == "250ms"
    assert postmaster_pid(db) == pid


def test_a_setting_that_needs_a_restart_gets_one(db):
    pid = postmaster_pid(db)
    result = run_playbook("db.yml", *with_settings({"log_min_duration_statement": 250, "shared_buffers": "128MB"}))
    assert "Restart PostgreSQL for shared_buffers" in result.stdout
    assert psql(db, "SHOW shared_buffers") == "128MB"
    assert postmaster_pid(db) != pid


def test_back_to_the_inventory_and_a_second_run_changes_nothing(db):
    run_playbook("db.yml")
    result = run_playbook("db.yml")
    assert psql(db, "SHOW shared_buffers") == "256MB"
    assert not re.search(r"changed=[1-9]", result.stdout.split("PLAY RECAP")[-1])


def test_a_postgresql_restart_costs_a_bounded_number_of_requests(db, web):
    """The app server's /health reads the database; the app reconnects by itself after a restart."""
    with steady_load([web], seconds=120, path="/health", tag="pg-restart") as summaries:
        time.sleep(3)
        started = time.monotonic()
        db.check_output("systemctl restart postgresql@17-main")
        restarted = time.monotonic() - started
        deadline = time.monotonic() + 10
        while web.host.run(f"curl -sf --max-time 2 --unix-socket {SOCKET} http://localhost/health").rc != 0:
            assert time.monotonic() < deadline, "the app did not come back within 10 s of PostgreSQL's restart"
            time.sleep(0.2)
        recovered = time.monotonic() - started
        time.sleep(3)
    load = summaries[web.name]
    report = (
        f"restart {restarted:.1f} s, healthy again after {recovered:.1f} s; {load['failed']} of {load['requests']}"
        f" requests failed: {load['statuses']} {load['errors']},"
        f" first/last {load['failures'][:1]} {load['failures'][-1:]}"
    )
    record("postgresql-restart", report)
    # Only while PostgreSQL was down: at ~40 requests a second, a few seconds' worth at most.
    assert load["requests"] > 200, report
    assert load["failed"] <= 400, report
    assert set(load["errors"]) == set(), report


def test_rows_deleted_by_mistake_come_back_with_a_point_in_time_restore(db):
    psql(
        db,
        "CREATE TABLE drill_orders (id int PRIMARY KEY); INSERT INTO drill_orders SELECT generate_series(1, 500)",
        "webapp",
    )
    # archive_timeout (60 s) bounds how old the newest archived WAL can be; a switch makes it now.
    psql(db, "SELECT pg_switch_wal()")
    time.sleep(1.5)
    target = psql(db, "SELECT now()::timestamptz(0)")
    time.sleep(1.5)
    psql(db, "DELETE FROM drill_orders", "webapp")
    psql(db, "SELECT pg_switch_wal()")
    assert psql(db, "SELECT count(*) FROM drill_orders", "webapp") == "0"

    run_playbook("db-restore.yml", "-e", json.dumps({"postgresql_restore_target": target}))

    assert psql(db, "SELECT count(*) FROM drill_orders", "webapp") == "500"
    assert psql(db, "SELECT pg_is_in_recovery()") == "f"
    # The restored cluster is backed up again, and the kit's run after it changes nothing.
    result = run_playbook("db.yml")
    assert not re.search(r"changed=[1-9]", result.stdout.split("PLAY RECAP")[-1])


def test_a_restore_without_a_target_is_refused(db):
    pid = postmaster_pid(db)
    result = run_playbook("db-restore.yml", check=False)
    assert result.returncode != 0
    assert "Say what to restore to" in result.stdout
    assert postmaster_pid(db) == pid
