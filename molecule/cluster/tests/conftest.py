"""Helpers for the multi-server scenario: the load balancer, the app servers, the database server, an outsider."""

from __future__ import annotations

import os
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import testinfra

# molecule/default/tests/conftest.py: run the kit's playbooks, read the app's health, put load on.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from kit_default_conftest import kit  # noqa: E402

run_playbook = kit.run_playbook
steady_load = kit.steady_load
psql = kit.psql
commit_app_change = kit.commit_app_change
Server = kit.Server
SOCKET = kit.SOCKET
LOADGEN = kit.LOADGEN
PEBBLE_API_CA = kit.PEBBLE_API_CA
DOMAIN = "cluster.example.test"
# Pebble's issuing root, on the load balancer and the outsider (the fixture root).
ROOT = "/tmp/kit-pebble-root.pem"
DATABASE = "webapp"
TRUST_FILE = "/etc/ssl/fastapi-kit/postgresql-servers.pem"
PASSWORD = "molecule-cluster-db-password-0123"


# The order the files run in: the converged state first, then what changes the servers;
# the database's restore last, as it rewinds the app's data too.
ORDER = ["test_database.py", "test_balancer.py", "test_changes_balancer.py", "test_changes_database.py"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: ORDER.index(item.path.name) if item.path.name in ORDER else len(ORDER))


def host(name: str) -> testinfra.host.Host:
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={kit.INVENTORY}")


@pytest.fixture(scope="session")
def db() -> testinfra.host.Host:
    return host("kit-cluster-db")


@pytest.fixture(scope="session")
def web() -> Server:
    return Server("kit-cluster-web", host("kit-cluster-web"))


@pytest.fixture(scope="session")
def web2() -> Server:
    return Server("kit-cluster-web2", host("kit-cluster-web2"))


@pytest.fixture(scope="session")
def webs(web: Server, web2: Server) -> list[Server]:
    """The app servers, in the order a rolling deploy takes them (the inventory's)."""
    return [web, web2]


@pytest.fixture(scope="session")
def lb() -> testinfra.host.Host:
    return host("kit-cluster-lb")


@pytest.fixture(scope="session")
def outsider() -> testinfra.host.Host:
    """A host of the network in no group PostgreSQL serves: the ACME server's."""
    return host("kit-cluster-pebble")


def address_of(target: testinfra.host.Host) -> str:
    return target.check_output("hostname -I").split()[0]


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


def access_lines(server: Server) -> int:
    """Lines in the app server's nginx log of the app: requests it has served."""
    return int(server.host.check_output("wc -l < /var/log/nginx/webapp.access.log"))


def seconds_until_served(server: Server, limit: float = 40) -> float:
    """Seconds until the load balancer sends the server a request again (its nginx log grows), at most limit."""
    started = time.monotonic()
    before = access_lines(server)
    while access_lines(server) <= before:
        assert time.monotonic() - started < limit, f"the load balancer sent {server.name} nothing in {limit:g} s"
        time.sleep(0.5)
    return time.monotonic() - started


def record(name: str, text: str) -> None:
    """Keep a measured figure with the run's logs (scripts/test's KIT_LOG_DIR), for the README."""
    directory = os.environ.get("KIT_LOG_DIR")
    if directory:
        Path(directory, f"cluster-{name}.txt").write_text(text + "\n")


@pytest.fixture(scope="session")
def root(lb, outsider, tmp_path_factory) -> Path:
    """Pebble's current issuing root: on the controller (the returned path), the load balancer and the outsider."""
    pem = lb.check_output(f"curl -sS --fail --cacert {PEBBLE_API_CA} https://pebble:15000/roots/0")
    for client in (lb, outsider):
        client.run(f"cat > {ROOT} <<'EOF'\n{pem}\nEOF")
    path = tmp_path_factory.mktemp("pebble") / "root.pem"
    path.write_text(pem + "\n")
    return path


@contextmanager
def load_through(
    lb: testinfra.host.Host, seconds: int = 600, path: str = "/health", tag: str = "lb-load"
) -> Iterator[dict]:
    """Steady load on the app through the load balancer's HTTPS (from the load balancer itself, to 127.0.0.1:443),
    certificate checked; yields the load generator's summary once the block ends. Every non-2xx answer and every
    connection error counts as a failure."""
    target = f"--connect 127.0.0.1:443 --tls --host {DOMAIN} --cafile {ROOT} --path {path}"
    summary: dict = {}
    with kit.load_from({"lb": lb}, target, seconds, tag) as summaries:
        yield summary
    summary.update(summaries["lb"])
