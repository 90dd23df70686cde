"""taskboard, a uv project the kit did not write, deployed by inventory variables alone.

Everything is observed as its users and operators would: through nginx over HTTPS from
the controller, and on the server (Supervisor, /proc). The redeploy and the failed
release command run last, in file order.
"""

from __future__ import annotations

import json
import socket

import pytest
from conftest import assert_events_arrive_spread, https, live, process_environment, site, task_done_by_the_worker
from websockets.sync.client import connect as connect_websocket

SOCKET = "/run/taskboard/app.sock"


@pytest.fixture(scope="module")
def target(host) -> dict:
    return site(host, "taskboard")


def test_health_and_settings_are_the_apps_own(target):
    assert https(target, "GET", "/healthz") == (200, b'{"ok":true}')
    status, body = https(target, "GET", "/")
    assert (status, json.loads(body)) == (200, {"message": "Deployed by fastapi-kit"})


def test_it_was_installed_from_its_lock_with_the_kits_server(host):
    release = live(host, "taskboard")["release"]
    venv = release["venv"]
    # uv sync --frozen: the versions of uv.lock; the kit added Gunicorn and the worker.
    lock = host.file(f"{release['dir']}/uv.lock").content_string
    fastapi = host.check_output(f"{venv}/bin/python -c 'import fastapi; print(fastapi.__version__)'")
    assert f'name = "fastapi"\nversion = "{fastapi}"' in lock
    assert host.check_output(f"{venv}/bin/python -c 'import gunicorn; print(gunicorn.__version__)'") == "27.0.1"
    # The kit's default CPython; classic, on the same server, runs on another (test_classic.py).
    assert host.check_output(f"{venv}/bin/python -c 'import platform; print(platform.python_version())'") == "3.13.5"
    # The src layout: the release's code is imported from the release, not from a copy.
    color = live(host, "taskboard")["color"]
    assert process_environment(host, f"taskboard-{color}")["PYTHONPATH"] == f"{release['dir']}/src"


def test_the_release_command_made_the_schema_and_crud_works(target):
    status, body = https(target, "POST", "/tasks", {"title": "through the kit"})
    assert status in (200, 201), body
    task = json.loads(body)
    assert https(target, "GET", f"/tasks/{task['id']}")[0] == 200
    listed = json.loads(https(target, "GET", "/tasks")[1])
    assert any(t["id"] == task["id"] for t in (listed if isinstance(listed, list) else listed["tasks"]))


def test_the_worker_runs_and_completes_tasks(host, target):
    current = task_done_by_the_worker(target, "for the worker")
    pid = host.check_output("supervisorctl pid taskboard-worker")
    assert str(current["done_by_pid"]) == pid


def test_a_websocket_echoes_over_wss(target):
    with connect_websocket(
        f"wss://{target['name']}/ws/echo",
        sock=socket.create_connection(("127.0.0.1", target["port"]), timeout=10),
        ssl=target["context"],
        server_hostname=target["name"],
        open_timeout=30,
    ) as ws:
        ws.send("hello through nginx")
        assert ws.recv(timeout=10) == "echo: hello through nginx"


def test_server_sent_events_arrive_spread_over_time(target):
    assert_events_arrive_spread(target["name"], target["port"], target["context"], "/events")


def test_the_worker_runs_from_the_live_release(host):
    release = live(host, "taskboard")["release"]
    environment = process_environment(host, "taskboard-worker")
    assert environment["APP_RELEASE"] == release["id"]
    assert environment["PYTHONPATH"] == f"{release['dir']}/src"
    assert environment["TASKBOARD_GREETING"] == "Deployed by fastapi-kit"
