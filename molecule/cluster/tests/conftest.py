"""Helpers for the multi-server scenario: the database server, the app server and an outsider."""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
from pathlib import Path

import pytest
import testinfra

# molecule/default/tests/conftest.py: run the kit's playbooks, read the app's health, put load on.
_path = Path(__file__).resolve().parents[2] / "default" / "tests" / "conftest.py"
_spec = importlib.util.spec_from_file_location("kit_default_conftest", _path)
kit = importlib.util.module_from_spec(_spec)
sys.modules["kit_default_conftest"] = kit
_spec.loader.exec_module(kit)

run_playbook = kit.run_playbook
steady_load = kit.steady_load
Server = kit.Server
SOCKET = kit.SOCKET
DATABASE = "webapp"
TRUST_FILE = "/etc/ssl/fastapi-kit/postgresql-servers.pem"
PASSWORD = "molecule-cluster-db-password-0123"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check the converged state first; the tests that change the servers run last."""
    items.sort(key=lambda item: item.path.name.startswith("test_changes"))


def host(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={kit.INVENTORY}")


@pytest.fixture(scope="session")
def db() -> testinfra.host.Host:
    return host("kit-cluster-db")


@pytest.fixture(scope="session")
def web() -> Server:
    return Server("kit-cluster-web", host("kit-cluster-web"))


@pytest.fixture(scope="session")
def outsider() -> testinfra.host.Host:
    """A host of the network in no group PostgreSQL serves: the ACME server's."""
    return host("kit-cluster-pebble")


def address_of(target: testinfra.host.Host) -> str:
    return target.check_output("hostname -I").split()[0]


def psql(db: testinfra.host.Host, sql: str, database: str = "postgres") -> str:
    """A query as the postgres superuser over the local socket; its rows, | between columns."""
    return db.check_output(f"runuser -u postgres -- psql -X -At -d {database} -c {json.dumps(sql)}")


def connect_from(target: testinfra.host.Host, dsn: str) -> testinfra.backend.base.CommandResult:
    """Connect to PostgreSQL with the app's own driver, from its virtualenv on the app server.

    Prints the server's address as PostgreSQL sees it, and whether TLS is on.
    """
    code = (
        "import sys, psycopg\n"
        "with psycopg.connect(sys.argv[1], connect_timeout=5) as conn:\n"
        "    print(conn.execute('SELECT inet_client_addr(), ssl FROM pg_stat_ssl"
        " WHERE pid = pg_backend_pid()').fetchone())\n"
    )
    return target.run(f"/srv/webapp/current/.venv/bin/python -c {shlex.quote(code)} {shlex.quote(dsn)}")


def record(name: str, text: str) -> None:
    """Keep a measured figure with the run's logs (scripts/test's KIT_LOG_DIR), for the README."""
    directory = os.environ.get("KIT_LOG_DIR")
    if directory:
        Path(directory, f"cluster-{name}.txt").write_text(text + "\n")
