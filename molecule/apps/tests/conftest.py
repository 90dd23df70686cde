"""Helpers for the apps the kit did not write, two on one server: molecule/default's, per app."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import sys
import time
from pathlib import Path

import pytest
import testinfra

# molecule/default/tests/conftest.py: run the kit's playbooks, commit to an app's repository, put load on.
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "resources"))
from kit_default_conftest import kit  # noqa: E402

PEBBLE_API_CA = kit.PEBBLE_API_CA
run_playbook = kit.run_playbook
steady_load = kit.steady_load
psql = kit.psql
assert_events_arrive_spread = kit.assert_events_arrive_spread
REPOS = kit.PROJECT / ".cache" / "repos"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check the converged state first; the deploys, which change the servers, run last."""
    items.sort(key=lambda item: item.path.name == "test_deploys.py")


def app_servers(group: str = "web") -> list[kit.Server]:
    hosts = kit.AnsibleRunner(kit.os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts(group)
    return [
        kit.Server(name, testinfra.get_host(f"ansible://{name}?ansible_inventory={kit.INVENTORY}"))
        for name in sorted(hosts)
    ]


@pytest.fixture(scope="session")
def servers() -> list[kit.Server]:
    """The app servers (one, Debian 12): each runs taskboard and classic."""
    return app_servers()


def socket_of(app: str) -> str:
    """The app's stable Gunicorn socket (roles/gunicorn)."""
    return f"/run/{app}/app.sock"


# Each app's own health URL (its entry in apps: gunicorn_health_path).
HEALTH = {"taskboard": "/healthz", "classic": "/status"}


def commit_change(app: str, branch: str, message: str, edits: dict[str, str | None], base: str = "main") -> str:
    return kit.commit_app_change(branch, message, edits, base=base, repo=REPOS / f"{app}.git")


def entry(host, app: str) -> dict:
    """The app's entry in the server's apps, as the inventory writes it."""
    (found,) = [item for item in host.ansible.get_variables()["apps"] if item["app_name"] == app]
    return found


def site(host, app: str) -> dict:
    """An app's first domain, the server's published HTTPS port, and an SSL context trusting Pebble's current root."""
    variables = host.ansible.get_variables()
    # The inventory names each app's domain after the server's release.
    domain = entry(host, app)["nginx_domains"][0].replace("{{ kit_test_release }}", variables["kit_test_release"])
    root = host.check_output(f"curl -sS --fail --cacert {PEBBLE_API_CA} https://pebble:15000/roots/0")
    return {
        "name": domain,
        "port": int(variables["kit_test_https_port"]),
        "context": ssl.create_default_context(cadata=root),
        "app": app,
    }


def tls_socket(target: dict) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", target["port"]), timeout=10)
    return target["context"].wrap_socket(sock, server_hostname=target["name"])


def https(target: dict, method: str, path: str, body: dict | None = None) -> tuple[int, bytes]:
    """One request through the server's nginx, from the controller via the published port."""
    response, data = https_response(target, method, path, body)
    return response.status, data


def https_response(
    target: dict, method: str, path: str, body: dict | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    """https(), with the whole response (its headers)."""
    connection = http.client.HTTPSConnection(target["name"], timeout=10, context=target["context"])
    connection.sock = tls_socket(target)
    headers = {"Host": target["name"]}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    connection.request(method, path, body=payload, headers=headers)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response, data


def task_done_by_the_worker(target: dict, title: str) -> dict:
    """A task posted to taskboard, once its worker has done it (10 s at most)."""
    task = json.loads(https(target, "POST", "/tasks", {"title": title})[1])
    for _ in range(40):
        current = json.loads(https(target, "GET", f"/tasks/{task['id']}")[1])
        if current["status"] == "done":
            break
        time.sleep(0.25)
    assert current["status"] == "done", current
    return current


def live(host, app: str) -> dict:
    """The gunicorn role's record of the app's live color and release."""
    return json.loads(host.file(f"/var/lib/{app}/live.json").content_string)


def process_environment(host, program: str) -> dict[str, str]:
    """The environment of a Supervisor program's process (its APP_RELEASE tells the release it runs from)."""
    pid = host.check_output(f"supervisorctl pid {program}")
    assert pid.isdigit() and pid != "0", f"{program} is not running: {pid}"
    pairs = host.check_output(f"tr '\\000' '\\n' < /proc/{pid}/environ").splitlines()
    return dict(pair.split("=", 1) for pair in pairs if "=" in pair)


def runs_from(host, program: str) -> str:
    """The release a program's process runs from."""
    return process_environment(host, program)["APP_RELEASE"]
