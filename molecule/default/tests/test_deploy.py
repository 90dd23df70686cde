"""Deploys, a failed deploy and a rollback, each under steady load: no request may fail.

The tests run in file order and build on each other, as deploys on a server do.
Every server takes part in every step at once (one playbook run for all).
"""

from __future__ import annotations

from conftest import commit_app_change, run_playbook, steady_load

NOTE = {"title": "written before the deploys", "body": "must survive deploys and rollbacks"}
history: dict[str, str] = {}


def assert_no_failed_request(summaries: dict[str, dict]) -> None:
    for name, summary in summaries.items():
        assert summary["requests"] > 100, f"{name}: too little load to prove anything: {summary}"
        assert summary["failed"] == 0, f"{name}: {summary}"


def deploy_under_load(servers, commit: str) -> dict[str, str]:
    """Deploy a commit while every server is under load; check nothing failed and the commit serves.

    Returns each server's virtualenv from before the deploy.
    """
    venvs = {s.name: s.live()["release"]["venv"] for s in servers}
    with steady_load(servers) as load:
        run_playbook("app.yml", "-e", f"app_repo_version={commit}")
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
    live = servers[0].live()["release"]["commit"]
    commit = commit_app_change("code", "Restyle the page", {"app/webapp/static/style.css": "\n/* restyled */\n"}, live)
    venvs = deploy_under_load(servers, commit)
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
        backups = server.host.check_output("ls /srv/webapp/shared/backups")
        assert f"before-{commit[:12]}.sqlite3" in backups
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
    assert_no_failed_request(load)
    for server in servers:
        assert server.health()["release"] == history["requirements"]
        assert load[server.name]["releases"] == [history["requirements"]]


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


def test_data_survived_every_step(servers):
    for server in servers:
        note = server.api("GET", f"/api/notes/{history[f'note-{server.name}']}")
        assert (note["title"], note["body"]) == (NOTE["title"], NOTE["body"])
