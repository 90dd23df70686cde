"""Deploys of taskboard on both servers at once, under steady load: they run last (file order)."""

from __future__ import annotations

import json

from conftest import commit_change, live, run_playbook, runs_from, steady_load

SOCKET = "/run/taskboard/app.sock"
LIMIT = ("--limit", "taskboard")
history: dict[str, str] = {}


def test_a_new_commit_switches_without_a_failed_request_and_the_worker_follows(taskboards):
    before = {server.name: live(server.host, "taskboard")["release"]["id"] for server in taskboards}
    history["before"] = next(iter(before.values()))
    commit = commit_change("taskboard", "redeploy", "A new release", {"README.md": "\nredeployed\n"})
    with steady_load(taskboards, unix_socket=SOCKET, path="/healthz") as load:
        run_playbook("app.yml", *LIMIT, "-e", f"app_repo_version={commit}")
    for server in taskboards:
        summary = load[server.name]
        assert summary["requests"] > 100 and summary["failed"] == 0, summary
        release = live(server.host, "taskboard")["release"]
        assert release["id"] == commit[:12] != before[server.name]
        # The worker moved to the new release after the web switch, and works.
        assert runs_from(server.host, "taskboard-worker") == release["id"]
    history["redeploy"] = commit[:12]


def test_a_failing_release_command_leaves_the_live_release_and_its_worker(taskboards):
    commit = commit_change(
        "taskboard", "failing", "A release whose migration fails", {"README.md": "\nfails\n"}, base="test/redeploy"
    )
    failing = {
        "app_release_commands": ["python -m taskboard.migrate", "python -c 'raise SystemExit(\"schema v9 failed\")'"]
    }
    with steady_load(taskboards, unix_socket=SOCKET, path="/healthz") as load:
        result = run_playbook(
            "app.yml", *LIMIT, "-e", f"app_repo_version={commit}", "-e", json.dumps(failing), check=False
        )
    assert result.returncode != 0
    assert f"A release command of release {commit[:12]} failed with status 1" in result.stdout
    assert "schema v9 failed" in result.stdout
    for server in taskboards:
        assert load[server.name]["failed"] == 0, load[server.name]
        release = live(server.host, "taskboard")["release"]
        assert release["id"] == history["redeploy"]
        assert runs_from(server.host, "taskboard-worker") == release["id"]


def test_rollback_moves_the_web_and_the_worker_back(taskboards):
    with steady_load(taskboards, unix_socket=SOCKET, path="/healthz") as load:
        run_playbook("rollback.yml", *LIMIT)
    for server in taskboards:
        assert load[server.name]["failed"] == 0, load[server.name]
        release = live(server.host, "taskboard")["release"]
        assert release["id"] == history["before"]
        assert runs_from(server.host, "taskboard-worker") == release["id"]
