"""Deploys of one app while both apps of the server are under steady load: they run last.

Each deploy names its app (-e app=<name>); the other app must not notice: no failed
request, the same release, the same Gunicorn master (nothing restarted).
"""

from __future__ import annotations

import json
import time
from contextlib import ExitStack

from conftest import (
    HEALTH,
    commit_change,
    live,
    run_playbook,
    runs_from,
    site,
    socket_of,
    steady_load,
    task_done_by_the_worker,
)

APPS = ("taskboard", "classic")
history: dict[str, str] = {}


def master(host, app: str) -> str:
    """The live color's Gunicorn master: a restart would change it."""
    return host.check_output(f"supervisorctl pid {app}-{live(host, app)['color']}")


class Loads:
    """Steady load on both apps of the server while the block runs; each app's summaries after."""

    def __init__(self, servers):
        self.servers = servers
        self.summaries: dict[str, dict[str, dict]] = {}
        self.stack = ExitStack()

    def __enter__(self) -> Loads:
        for app in APPS:
            load = steady_load(self.servers, unix_socket=socket_of(app), path=HEALTH[app], tag=f"load-{app}")
            self.summaries[app] = self.stack.enter_context(load)
        return self

    def __exit__(self, *exc) -> None:
        self.stack.close()

    def assert_none_failed(self) -> None:
        for app, per_server in self.summaries.items():
            for server, summary in per_server.items():
                assert summary["requests"] > 100 and summary["failed"] == 0, (app, server, summary)


def assert_taskboard_runs(servers, release_id: str) -> None:
    """taskboard's web and worker both run the release, on every server."""
    for server in servers:
        assert live(server.host, "taskboard")["release"]["id"] == release_id
        assert runs_from(server.host, "taskboard-worker") == release_id


def untouched(servers, app: str) -> dict[str, tuple[str, str]]:
    """What must not change on an app while another is deployed: its release and its master."""
    return {server.name: (live(server.host, app)["release"]["id"], master(server.host, app)) for server in servers}


def test_deploying_one_app_fails_no_request_of_either_and_leaves_the_other_alone(servers):
    before = {server.name: live(server.host, "taskboard")["release"]["id"] for server in servers}
    history["before"] = next(iter(before.values()))
    classic = untouched(servers, "classic")
    commit = commit_change("taskboard", "redeploy", "A new release", {"README.md": "\nredeployed\n"})
    with Loads(servers) as loads:
        run_playbook("deploy.yml", "-e", "app=taskboard", "-e", f"app_repo_version={commit}")
    loads.assert_none_failed()
    assert commit[:12] not in before.values()
    # The worker moved to the new release after the web switch, and works.
    assert_taskboard_runs(servers, commit[:12])
    assert untouched(servers, "classic") == classic
    history["redeploy"] = commit[:12]


def test_a_failing_release_command_leaves_the_live_release_and_its_worker(servers):
    commit = commit_change(
        "taskboard", "failing", "A release whose migration fails", {"README.md": "\nfails\n"}, base="test/redeploy"
    )
    failing = {
        "app_release_commands": ["python -m taskboard.migrate", "python -c 'raise SystemExit(\"schema v9 failed\")'"]
    }
    classic = untouched(servers, "classic")
    with Loads(servers) as loads:
        args = ("-e", "app=taskboard", "-e", f"app_repo_version={commit}", "-e", json.dumps(failing))
        result = run_playbook("deploy.yml", *args, check=False)
    assert result.returncode != 0
    assert f"A release command of release {commit[:12]} failed with status 1" in result.stdout
    assert "schema v9 failed" in result.stdout
    loads.assert_none_failed()
    assert_taskboard_runs(servers, history["redeploy"])
    assert untouched(servers, "classic") == classic


def test_a_release_that_cannot_start_leaves_its_app_and_the_other_serving(servers):
    # classic's new release dies on import: its health gate fails, nothing switches.
    commit = commit_change("classic", "broken", "A release that cannot start", {"main.py": "\nraise SystemExit(3)\n"})
    classic = {server.name: live(server.host, "classic")["release"]["id"] for server in servers}
    taskboard = untouched(servers, "taskboard")
    with Loads(servers) as loads:
        result = run_playbook("deploy.yml", "-e", "app=classic", "-e", f"app_repo_version={commit}", check=False)
    assert result.returncode != 0
    assert commit[:12] in result.stdout
    loads.assert_none_failed()
    for server in servers:
        assert live(server.host, "classic")["release"]["id"] == classic[server.name] != commit[:12]
    assert untouched(servers, "taskboard") == taskboard


def test_rollback_of_one_app_moves_its_web_and_worker_back_and_leaves_the_other(servers):
    classic = untouched(servers, "classic")
    with Loads(servers) as loads:
        run_playbook("rollback.yml", "-e", "app=taskboard")
    loads.assert_none_failed()
    assert_taskboard_runs(servers, history["before"])
    assert untouched(servers, "classic") == classic


def running_pid(host, program: str, other_than: str = "", seconds: float = 30) -> str:
    """The program's PID once Supervisor has it RUNNING (again, with a PID other than other_than)."""
    deadline = time.monotonic() + seconds
    while True:
        status = host.run(f"supervisorctl status {program}").stdout
        pid = host.run(f"supervisorctl pid {program}").stdout.strip()
        if "RUNNING" in status and pid.isdigit() and pid != other_than:
            return pid
        assert time.monotonic() < deadline, status
        time.sleep(0.5)


def test_one_apps_crashing_processes_leave_it_and_the_other_serving(servers):
    """taskboard's worker SIGKILLed four times and its live Gunicorn master once, under load on
    both apps: Supervisor brings each back; no request of either app fails; classic's release and
    master see nothing; the worker that came back completes tasks."""
    classic = untouched(servers, "classic")
    with Loads(servers) as loads:
        for _ in range(4):
            killed = {server.name: running_pid(server.host, "taskboard-worker") for server in servers}
            for server in servers:
                server.host.run(f"kill -KILL {killed[server.name]}")
            for server in servers:
                running_pid(server.host, "taskboard-worker", other_than=killed[server.name])
            # Longer than startsecs: each death is a crash of a running program, not a failed start.
            time.sleep(2)
        for server in servers:
            program = f"taskboard-{live(server.host, 'taskboard')['color']}"
            master_pid = running_pid(server.host, program)
            server.host.run(f"kill -KILL {master_pid}")
            running_pid(server.host, program, other_than=master_pid)
        time.sleep(2)
    loads.assert_none_failed()
    assert untouched(servers, "classic") == classic
    for server in servers:
        current = task_done_by_the_worker(site(server.host, "taskboard"), "after the crashes")
        assert str(current["done_by_pid"]) == running_pid(server.host, "taskboard-worker")


def test_an_app_no_server_has_is_refused_before_any_change(servers):
    before = {app: untouched(servers, app) for app in APPS}
    result = run_playbook("deploy.yml", "-e", "app=taskbord", check=False)
    assert result.returncode != 0
    refused = "app=taskbord: no server of this run has an app of that name (apps here: classic, taskboard, webapp)"
    assert refused in result.stdout
    assert "changed=0" in result.stdout and "changed=1" not in result.stdout
    assert {app: untouched(servers, app) for app in APPS} == before


def test_an_app_that_left_the_inventory_is_removed_and_the_other_serves_on(servers):
    # The inventory without classic: what a user has after deleting its entry from apps.
    (taskboard_entry,) = [
        app for app in servers[0].host.ansible.get_variables()["apps"] if app["app_name"] == "taskboard"
    ]
    without_classic = json.dumps({"apps": [taskboard_entry]})
    taskboard = untouched(servers, "taskboard")
    still_listed = run_playbook("remove-app.yml", "-e", "app=classic", check=False)
    assert still_listed.returncode != 0
    assert "classic is still one of this server's apps" in still_listed.stdout
    with steady_load(servers, unix_socket=socket_of("taskboard"), path=HEALTH["taskboard"], tag="load-rm") as load:
        run_playbook("remove-app.yml", "-e", "app=classic", "-e", without_classic)
    for server in servers:
        assert load[server.name]["requests"] > 20 and load[server.name]["failed"] == 0, load[server.name]
        host = server.host
        assert "classic-" not in host.check_output("supervisorctl status")
        assert not host.file("/etc/nginx/apps/classic.conf").exists
        assert "classic" not in host.check_output("certbot certificates 2>/dev/null | grep 'Certificate Name' || true")
        # Its data stays until asked for: the database, the user.
        assert host.file("/srv/classic/shared/data/classic.db").exists and host.user("classic").exists
    assert untouched(servers, "taskboard") == taskboard
    run_playbook("remove-app.yml", "-e", "app=classic", "-e", "remove_app_data=true", "-e", without_classic)
    for server in servers:
        assert not server.host.file("/srv/classic").exists and not server.host.user("classic").exists
        assert not server.host.file("/var/lib/fastapi-kit/apps/classic.json").exists
