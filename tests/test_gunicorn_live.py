"""plugins/modules/gunicorn_live.py: what serves an app now, read in one call, against a real supervisord
(Supervisor 4.2.5, as Debian ships) whose programs run, are stopped, or are not there."""

import json
import os
import sys
from pathlib import Path

import pytest

MODULES = Path(__file__).resolve().parents[1] / "plugins" / "modules"
sys.path.insert(0, str(MODULES))

import gunicorn_live  # noqa: E402
import supervisord_helper  # noqa: E402
from module_runner import run_module  # noqa: E402


@pytest.fixture
def supervisord(tmp_path):
    """A supervisord where webapp-blue runs and webapp-green is stopped; no other app."""
    programs = f"""
        [program:webapp-blue]
        command={sys.executable} -c "import time; time.sleep(600)"
        startsecs=0
        [program:webapp-green]
        command={sys.executable} -c "import time; time.sleep(600)"
        autostart=false
        """

    def ready(server) -> bool:
        states = {p["name"]: p["statename"] for p in server.supervisor.getAllProcessInfo()}
        return states.get("webapp-blue") == "RUNNING"

    with supervisord_helper.supervisord(tmp_path, programs, gunicorn_live.connect, ready) as (socket, _):
        yield socket


def read(tmp_path: Path, live: dict | str | None, supervisor_socket: Path, *, app: str = "webapp") -> dict:
    """The module's result with live as the state file (None: no file; a str: written as it is)."""
    state_file = tmp_path / "live.json"
    if live is not None:
        state_file.write_text(live if isinstance(live, str) else json.dumps(live))
    arguments = {"state_file": str(state_file), "app": app, "supervisor_socket": str(supervisor_socket)}
    return run_module("gunicorn_live", tmp_path, arguments, check=True)


def test_the_live_color_that_runs(tmp_path, supervisord):
    live = {"color": "blue", "release": {"id": "r1"}, "fingerprint": "f"}
    result = read(tmp_path, live, supervisord)
    assert not result.get("failed"), result
    assert result["changed"] is False
    assert result["live"] == live
    assert result["state"] == "RUNNING"
    assert result["supervisor_error"] == ""


def test_a_live_color_that_is_stopped_is_not_running(tmp_path, supervisord):
    result = read(tmp_path, {"color": "green"}, supervisord)
    assert result["state"] == "STOPPED"


def test_a_live_color_supervisor_does_not_have(tmp_path, supervisord):
    result = read(tmp_path, {"color": "blue"}, supervisord, app="otherapp")
    assert result["state"] == "UNKNOWN"


def test_before_the_first_deploy_nothing_is_live(tmp_path):
    # No state file: Supervisor is not even asked (there is none here).
    result = read(tmp_path, None, tmp_path / "no-supervisor.sock")
    assert not result.get("failed"), result
    assert result["live"] == {} and result["state"] == "" and result["supervisor_error"] == ""


def test_supervisor_not_answering_is_said_not_failed(tmp_path):
    result = read(tmp_path, {"color": "blue"}, tmp_path / "no-supervisor.sock")
    assert not result.get("failed"), result
    assert result["state"] == ""
    assert "cannot talk to Supervisor" in result["supervisor_error"]


@pytest.mark.parametrize("content", ["{not json", "[]", '"blue"'])
def test_an_unreadable_state_file_fails(tmp_path, content):
    result = read(tmp_path, content, tmp_path / "no-supervisor.sock")
    assert result.get("failed") is True
    assert "the live state is unreadable" in result["msg"]


def test_cpus_are_the_ones_this_process_may_use(tmp_path):
    result = read(tmp_path, None, tmp_path / "no-supervisor.sock")
    assert result["cpus"] == len(os.sched_getaffinity(0)) >= 1
