"""The kit's own app on the same server's PostgreSQL: the single server that outgrew SQLite.

The server is in the db group as well as web: roles/postgresql runs next to the apps on
Debian 12's PostgreSQL 15, with no network client (postgresql_clients is empty: every app
server is this one), and the app connects over the local socket as the role of its own
name (peer), with no password and no TCP port.
"""

from __future__ import annotations

import json
import shlex

import pytest
from conftest import https, live, psql, site

DATABASE = "webapp"
TOKEN = "molecule-apps-token-0123456789"


@pytest.fixture(scope="module")
def target(host) -> dict:
    return site(host, "webapp")


def test_debian_12s_postgresql_runs_for_this_server_only(host):
    assert host.service("postgresql@15-main").is_running
    assert host.service("postgresql@15-main").is_enabled
    assert psql(host, "SHOW server_version").startswith("15.")
    # No client over the network: loopback only, and no rule for any other address.
    assert psql(host, "SHOW listen_addresses") == "localhost"
    addresses = psql(host, "SELECT DISTINCT address FROM pg_hba_file_rules WHERE type LIKE 'host%'").split()
    assert set(addresses) <= {"127.0.0.1", "::1"}, addresses
    assert "5432" not in host.check_output("ufw show added")


def test_the_app_serves_from_postgresql_through_nginx(host, target):
    status, body = https(target, "GET", "/health")
    assert status == 200
    assert json.loads(body)["release"] == live(host, "webapp")["release"]["id"]
    # A note written through the app's API is a row of its PostgreSQL database.
    created = json.loads(
        host.check_output(
            "curl -sS --fail-with-body --max-time 10 --unix-socket /run/webapp/app.sock -X POST"
            f" -H 'Authorization: Bearer {TOKEN}' -H 'Content-Type: application/json'"
            f" -d {shlex.quote(json.dumps({'title': 'in postgresql', 'body': 'on the same server'}))}"
            " http://localhost/api/notes"
        )
    )
    assert psql(host, f"SELECT title FROM notes WHERE id = {int(created['id'])}", DATABASE) == "in postgresql"
    status, body = https(target, "GET", f"/api/notes/{created['id']}")
    assert (status, json.loads(body)["body"]) == (200, "on the same server")
    assert psql(host, "SELECT version_num FROM alembic_version", DATABASE)


def test_the_app_connects_over_the_local_socket_as_itself(host, target):
    https(target, "GET", "/api/notes")
    # Connections from the local socket have no client address.
    sessions = psql(
        host,
        f"SELECT usename, client_addr IS NULL FROM pg_stat_activity WHERE datname = '{DATABASE}'"
        " AND backend_type = 'client backend'",
    ).splitlines()
    assert sessions and set(sessions) == {f"{DATABASE}|t"}, sessions
    # Its settings carry no password: peer authentication by the app's own user.
    settings = host.file(live(host, "webapp")["release"]["env_file"]).content_string
    assert 'APP_DATABASE_URL="postgresql://webapp@/webapp?host=/run/postgresql"' in settings


def test_the_other_apps_cannot_reach_its_database(host):
    for other in ("taskboard", "classic"):
        refused = host.run(f"runuser -u {other} -- psql -X -At -d {DATABASE} -c 'SELECT 1'")
        assert refused.rc != 0
        assert "authentication failed" in refused.stderr or "does not exist" in refused.stderr, refused.stderr


def test_pgbackrest_backs_it_up_on_debian_12(host):
    info = json.loads(host.check_output("runuser -u postgres -- pgbackrest --stanza=main --output=json info"))
    assert [backup["type"] for backup in info[0]["backup"]][:1] == ["full"]
    assert host.run("runuser -u postgres -- pgbackrest --stanza=main check").rc == 0
    assert psql(host, "SELECT failed_count FROM pg_stat_archiver") == "0"
