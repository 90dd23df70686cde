"""Deploys, a failed deploy and a rollback, each under steady load: no request may fail.

The tests run in file order and build on each other, as deploys on a server do.
Every server takes part in every step at once (one playbook run for all).
"""

from __future__ import annotations

import json
import re

import pytest
from conftest import commit_app_change, open_websocket, run_playbook, steady_load
from websockets.exceptions import ConnectionClosed

NOTE = {"title": "written before the deploys", "body": "must survive deploys and rollbacks"}
history: dict[str, str] = {}


def assert_no_failed_request(summaries: dict[str, dict]) -> None:
    for name, summary in summaries.items():
        assert summary["requests"] > 100, f"{name}: too little load to prove anything: {summary}"
        assert summary["failed"] == 0, f"{name}: {summary}"


def deploy_under_load(servers, commit: str, playbook: str = "app.yml") -> dict[str, str]:
    """Deploy a commit while every server is under load; check nothing failed and the commit serves.

    Returns each server's virtualenv from before the deploy.
    """
    venvs = {s.name: s.live()["release"]["venv"] for s in servers}
    with steady_load(servers) as load:
        run_playbook(playbook, "-e", f"app_repo_version={commit}")
    assert_no_failed_request(load)
    for server in servers:
        assert server.health()["release"] == commit[:12]
        assert load[server.name]["releases"][-1] == commit[:12]
    return venvs


def test_baseline_release_serves(servers):
    for server in servers:
        live = server.live()
        history.setdefault("initial", live["release"]["id"])
        assert server.health()["release"] == live["release"]["id"]
        created = server.api("POST", "/api/notes", NOTE)
        history[f"note-{server.name}"] = str(created["id"])


def test_code_only_deploy_switches_without_a_failed_request(servers):
    """Through deploy.yml, the day-to-day entry point (the app tier without provisioning)."""
    live = servers[0].live()["release"]["commit"]
    commit = commit_app_change("code", "Restyle the page", {"app/webapp/static/style.css": "\n/* restyled */\n"}, live)
    venvs = deploy_under_load(servers, commit, "deploy.yml")
    for server in servers:
        # Same requirements: the new release reuses the venv.
        assert server.live()["release"]["venv"] == venvs[server.name]
    history["code"] = commit[:12]


def test_new_requirements_get_a_new_venv_without_a_failed_request(servers):
    change = {"app/requirements.txt": "# a change: a new venv\n"}
    commit = commit_app_change("requirements", "Change the requirements", change, base="test/code")
    venvs = deploy_under_load(servers, commit)
    for server in servers:
        assert server.live()["release"]["venv"] != venvs[server.name]
        # The database was copied before the new release's migrations ran.
        backups = server.host.check_output("ls /srv/webapp/shared/backups").split()
        (name,) = [name for name in backups if name.endswith(f"-before-{commit[:12]}.sqlite3")]
        # Taken by sqlite-backup, as the app user: checked, and private to the app.
        copy = server.host.file(f"/srv/webapp/shared/backups/{name}")
        assert (copy.user, copy.group, copy.mode) == ("webapp", "webapp", 0o640)
    history["requirements"] = commit[:12]


def test_release_that_cannot_start_never_gets_traffic(servers):
    commit = commit_app_change(
        "broken",
        "Break the app at import",
        {"app/webapp/main.py": "\nraise RuntimeError('broken release')\n"},
        base="test/requirements",
    )
    with steady_load(servers) as load:
        result = run_playbook("app.yml", "-e", f"app_repo_version={commit}", check=False)
    assert result.returncode != 0
    assert f"Release {commit[:12]} did not become healthy" in result.stdout
    assert f"Still live and serving: release {history['requirements']}" in result.stdout
    assert "broken release" in result.stdout  # the failed release's own log explains why
    # The gate stopped waiting when Supervisor gave up on the program, before the timeout.
    assert re.search(r"Supervisor gave up on webapp-(blue|green) after [\d.]+ s: it exited at start", result.stdout)
    assert_no_failed_request(load)
    for server in servers:
        assert server.health()["release"] == history["requirements"]
        assert load[server.name]["releases"] == [history["requirements"]]


def test_failing_release_command_stops_the_deploy(servers):
    """The first release command that fails stops the deploy, named with its output; nothing switches."""
    commit = commit_app_change(
        "failing-command",
        "A release whose command fails",
        {"app/README.md": "\nfailing command\n"},
        base="test/requirements",
    )
    commands = {"app_release_commands": ["alembic upgrade head", "sh -c 'echo kit-test-failure >&2; exit 3'", "true"]}
    with steady_load(servers) as load:
        result = run_playbook("app.yml", "-e", f"app_repo_version={commit}", "-e", json.dumps(commands), check=False)
    assert result.returncode != 0
    assert f"A release command of release {commit[:12]} failed with status 3" in result.stdout
    assert "sh -c 'echo kit-test-failure >&2; exit 3'" in result.stdout
    assert "kit-test-failure" in result.stdout
    assert "Nothing was switched: the live release serves on" in result.stdout
    assert_no_failed_request(load)
    for server in servers:
        assert server.health()["release"] == history["requirements"]
        assert load[server.name]["releases"] == [history["requirements"]]
        # The release is not marked done: deploying it again runs its commands again.
        assert not server.host.file(f"/srv/webapp/releases/{commit[:12]}/.released").exists


def test_a_failed_deploy_with_new_settings_leaves_the_live_color_its_own(servers):
    """Settings are per deploy: after a failed one, a crash of the live master brings back the live settings."""
    before = {server.name: server.live() for server in servers}
    changed = {
        "app_env": {"APP_NAME": "settings of a failed deploy", "APP_DATABASE_PATH": "{{ app_sqlite_path }}"},
        "gunicorn_health_path": "/no-such-health",
    }
    version = f"app_repo_version={history['requirements']}"
    result = run_playbook("app.yml", "-e", version, "-e", json.dumps(changed), check=False)
    assert result.returncode != 0
    assert "Nothing was switched" in result.stdout
    for server in servers:
        live = server.live()
        assert live == before[server.name]
        # Supervisor restarts a crashed master from its own program file, with its own settings.
        server.host.run(f"kill -9 $(supervisorctl pid webapp-{live['color']})")
        wait = (
            "for i in $(seq 60); do"
            " curl -sf --max-time 2 --unix-socket /run/webapp/app.sock http://localhost/ && break; sleep 1; done"
        )
        page = server.host.check_output(wait)
        assert "FastAPI kit under test" in page and "settings of a failed deploy" not in page
        assert server.health()["release"] == history["requirements"]


def test_rollback_returns_to_the_previous_release(servers):
    with steady_load(servers) as load:
        run_playbook("rollback.yml")
    assert_no_failed_request(load)
    for server in servers:
        assert server.health()["release"] == history["code"]


def test_rollback_to_a_named_release(servers):
    with steady_load(servers) as load:
        run_playbook("rollback.yml", "-e", f"gunicorn_rollback_to={history['requirements']}")
    assert_no_failed_request(load)
    for server in servers:
        assert server.health()["release"] == history["requirements"]


def test_settings_change_goes_through_the_same_switch(servers):
    """A changed setting (here the worker count) starts a new master in the other color."""
    colors = {s.name: s.live()["color"] for s in servers}
    with steady_load(servers) as load:
        run_playbook("app.yml", "-e", f"app_repo_version={history['requirements']}", "-e", "gunicorn_workers=3")
    assert_no_failed_request(load)
    for server in servers:
        live = server.live()
        assert live["color"] != colors[server.name]
        assert live["release"]["id"] == history["requirements"]
        master = server.host.check_output(f"supervisorctl pid webapp-{live['color']}")
        assert len(server.host.check_output(f"ps -o pid= --ppid {master}").split()) == 3


def test_websockets_of_the_old_color_close_with_1012_then_reconnect_to_the_new(servers):
    """A switch closes the old color's long-lived sockets cleanly with 1012 (service restart): clients reconnect."""
    sockets = {server.name: open_websocket(server) for server in servers}
    try:
        for server in servers:
            assert json.loads(sockets[server.name].recv(timeout=10))["type"] == "hello"
        colors = {server.name: server.live()["color"] for server in servers}
        # Back to the inventory's worker count: a settings change, so the other color starts.
        run_playbook("app.yml", "-e", f"app_repo_version={history['requirements']}")
        for server in servers:
            assert server.live()["color"] != colors[server.name]
            with pytest.raises(ConnectionClosed) as closed:
                sockets[server.name].recv(timeout=60)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012, closed.value
    finally:
        for ws in sockets.values():
            ws.close()
    for server in servers:
        with open_websocket(server) as ws:
            assert json.loads(ws.recv(timeout=10)) == {"type": "hello", "release": history["requirements"]}


def test_data_survived_every_step(servers):
    for server in servers:
        note = server.api("GET", f"/api/notes/{history[f'note-{server.name}']}")
        assert (note["title"], note["body"]) == (NOTE["title"], NOTE["body"])
