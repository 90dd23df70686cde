"""Deploys, a broken release, a rollback and a dead app server, under steady load through the load balancer.

Runs after the converged state's checks (conftest.py), in this order: each test starts
from the state the one before left. The load comes from the load balancer itself, over
HTTPS with the certificate checked, and counts every failed request.
"""

from __future__ import annotations

import time

from conftest import (
    access_lines,
    address_of,
    commit_app_change,
    load_through,
    psql,
    record,
    run_playbook,
    seconds_until_served,
)

MIGRATION = '''"""A table for the load balancer's drill (molecule/cluster): a deploy with a migration."""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.create_table("cluster_drill", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("cluster_drill")
'''

history: dict[str, str] = {}


def assert_no_failed_request(load: dict) -> None:
    assert load.get("requests", 0) > 50, load
    assert load["failed"] == 0, load


def released_here(server) -> bool:
    """Whether this server ran the live release's release commands (their marker in the release)."""
    return server.host.file(f"{server.live()['release']['path']}/.released").exists


def test_a_rolling_deploy_with_a_migration_drops_no_request(db, lb, root, webs):
    history["initial"] = webs[0].live()["release"]["id"]
    base = webs[0].live()["release"]["commit"]
    commit = commit_app_change(
        "cluster-migration", "Add the drill's table", {"app/migrations/versions/0002_cluster_drill.py": MIGRATION}, base
    )
    with load_through(lb) as load:
        result = run_playbook("deploy.yml", "-e", f"app_repo_version={commit}")
    assert_no_failed_request(load)
    history["migration"] = commit[:12]
    # One app server at a time: a batch each.
    assert result.stdout.count("PLAY [Deploy the apps]") == len(webs), result.stdout[-3000:]
    for server in webs:
        assert server.health()["release"] == history["migration"]
    assert load["releases"] == [history["initial"], history["migration"]]
    # The migration ran once, on the first app server, before either switched.
    assert psql(db, "SELECT version_num FROM alembic_version", "webapp") == "0002"
    assert psql(db, "SELECT to_regclass('public.cluster_drill') IS NOT NULL", "webapp") == "t"
    assert [released_here(server) for server in webs] == [True, False]


def test_a_release_broken_on_the_second_server_stops_the_deploy_there(lb, root, webs):
    commit = commit_app_change(
        "cluster-broken-on-web2",
        "Break the app on the second app server only",
        {
            "app/webapp/main.py": (
                "\nimport socket as _socket\n\n"
                "if _socket.gethostname() == 'kit-cluster-web2':\n"
                "    raise RuntimeError('broken on this server')\n"
            )
        },
        base="test/cluster-migration",
    )
    with load_through(lb) as load:
        result = run_playbook("deploy.yml", "-e", f"app_repo_version={commit}", check=False)
    assert_no_failed_request(load)
    assert result.returncode != 0
    assert "The deploy stopped at kit-cluster-web2" in result.stdout
    assert "Deployed before it, serving the new release: kit-cluster-web." in result.stdout
    assert "broken on this server" in result.stdout
    history["broken"] = commit[:12]
    # The first app server serves the new release, the second the one it had.
    assert webs[0].health()["release"] == history["broken"]
    assert webs[1].health()["release"] == history["migration"]


def test_a_rollback_to_a_named_release_brings_every_server_back(lb, root, webs):
    with load_through(lb) as load:
        run_playbook("rollback.yml", "-e", f"gunicorn_rollback_to={history['migration']}")
    assert_no_failed_request(load)
    for server in webs:
        assert server.health()["release"] == history["migration"]


def failed_tries(lb, address: str) -> int:
    """The load balancer's failed attempts on address (refused, reset) in its error log."""
    log = lb.check_output("cat /var/log/nginx/error.log")
    return len([line for line in log.splitlines() if f'upstream: "http://{address}:8080' in line])


def test_an_app_server_killed_under_load_costs_no_request(lb, root, web, web2):
    """web2's nginx and Supervisor (with its Gunicorn) killed at once: its connections are refused."""
    address = address_of(web2.host)
    lb.run("truncate -s 0 /var/log/nginx/error.log")
    marker_before = access_lines(web)
    with load_through(lb) as load:
        time.sleep(3)
        web2.host.check_output("systemctl kill --signal=KILL nginx.service supervisor.service")
        killed = time.monotonic()
        time.sleep(25)
        dead_for = time.monotonic() - killed
        tries = failed_tries(lb, address)
        web2.host.check_output("systemctl start supervisor.service nginx.service")
        # Back in the rotation: the load balancer tries it again after fail_timeout (10 s).
        back_after = seconds_until_served(web2)
        time.sleep(2)
    served_by_web = access_lines(web) - marker_before
    report = (
        f"web2 dead for {dead_for:.0f} s under {load.get('requests')} requests through the load balancer:"
        f" {load.get('failed')} failed; the load balancer tried it {tries} time(s) meanwhile (fail_timeout 10 s);"
        f" web served {served_by_web}; web2 back in the rotation {back_after:.1f} s after it started again"
    )
    record("dead-app-server", report)
    assert_no_failed_request(load)
    # Left out after a failure: one try per fail_timeout, not one per request.
    assert 1 <= tries <= dead_for / 10 + 2, report


def test_an_app_server_cut_off_under_load_costs_only_the_requests_in_flight_on_it(lb, root, web, web2):
    """web2 gone without a word, as a power cut or a network partition looks from the load balancer: every
    packet from it dropped, so nothing refuses or resets. A request already sent to it, on a connection the
    load balancer keeps open, waits for an answer until proxy_read_timeout (60 s; the client gives up after
    20 s): nginx has no active health check to abandon it sooner. Every other request is served: a new
    connection to web2 fails over after proxy_connect_timeout (5 s), and web2 is left out meanwhile."""
    lb_address = address_of(lb)
    rule = f"INPUT -s {lb_address} -p tcp --dport 8080 -j DROP"
    with load_through(lb) as load:
        time.sleep(3)
        web2.host.check_output(f"iptables -I {rule}")
        cut = time.monotonic()
        try:
            time.sleep(25)
        finally:
            web2.host.check_output(f"iptables -D {rule}")
        cut_for = time.monotonic() - cut
        back_after = seconds_until_served(web2)
        time.sleep(2)
    report = (
        f"web2 cut off for {cut_for:.0f} s under {load.get('requests')} requests through the load balancer:"
        f" {load.get('failed')} failed {load.get('errors')}; p99 {load.get('p99_ms')} ms, slowest"
        f" {load.get('max_ms')} ms; web2 back in the rotation {back_after:.1f} s after the cut ended"
    )
    record("cut-off-app-server", report)
    assert load.get("requests", 0) > 100, report
    # At most one request per load thread (2) can be in flight on web2 when it goes silent; each of those
    # fails on the client's 20 s timeout, and nothing else fails.
    assert load["failed"] <= 2, report
    assert set(load["errors"]) <= {"TimeoutError"} and not any(s != "200" for s in load["statuses"]), report
