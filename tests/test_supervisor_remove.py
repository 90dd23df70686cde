"""plugins/modules/supervisor_remove.py against a real supervisord (Supervisor 4.2.5, as Debian ships).

molecule/default and the drills use it to stop the old color after every switch,
under load, counting failed requests.
"""

import socket as socket_module
import sys
import textwrap
import threading
from pathlib import Path

import pytest

MODULES = Path(__file__).resolve().parents[1] / "plugins" / "modules"
sys.path.insert(0, str(MODULES))

import supervisor_remove  # noqa: E402
import supervisord_helper  # noqa: E402
from module_runner import run_module  # noqa: E402

# Exits 0.3 s after SIGTERM, as a Gunicorn finishing its requests does. It says when its
# handler is in place: Supervisor reports it RUNNING at once (startsecs=0), and a SIGTERM
# before the handler (a busy machine) would kill it, which is not what the test is about.
GRACEFUL = textwrap.dedent("""
    import os, pathlib, signal, sys, time
    signal.signal(signal.SIGTERM, lambda *_: (time.sleep(0.3), sys.exit(0)))
    pathlib.Path(sys.argv[1], os.environ["SUPERVISOR_PROCESS_NAME"] + ".ready").touch()
    while True:
        time.sleep(1)
""")


@pytest.fixture
def supervisord(tmp_path):
    """A supervisord with three groups: quick (sleep), graceful (two processes), other."""
    (tmp_path / "graceful.py").write_text(GRACEFUL)
    programs = f"""
        [program:quick]
        command=sleep 1000
        startsecs=0
        [program:graceful]
        command={sys.executable} {tmp_path}/graceful.py {tmp_path}
        process_name=%(program_name)s-%(process_num)s
        numprocs=2
        startsecs=0
        stopwaitsecs=10
        [program:other]
        command=sleep 1000
        startsecs=0
        """

    def ready(server) -> bool:
        running = all(p["statename"] == "RUNNING" for p in server.supervisor.getAllProcessInfo())
        return running and len(list(tmp_path.glob("graceful-*.ready"))) == 2

    with supervisord_helper.supervisord(tmp_path, programs, supervisor_remove.connect, ready) as running:
        yield running


def run(tmp_path: Path, *, check: bool = False, **arguments) -> dict:
    return run_module("supervisor_remove", tmp_path, arguments, check=check, timeout=120)


def groups(server) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for process in server.supervisor.getAllProcessInfo():
        found.setdefault(process["group"], set()).add(process["statename"])
    return found


def test_stops_and_removes_only_the_groups_named(tmp_path, supervisord):
    socket, server = supervisord
    result = run(tmp_path, names=["graceful", "quick", "not-there"], socket=str(socket))
    assert result["changed"] is True
    assert result["removed"] == ["graceful", "quick"]
    assert set(result["seconds"]) == {"graceful", "quick"}
    assert groups(server) == {"other": {"RUNNING"}}
    # The graceful processes were stopped with SIGTERM and exited by themselves (0), not killed.
    log = (tmp_path / "supervisord.log").read_text()
    assert "stopped: graceful-0 (exit status 0)" in log
    assert "stopped: graceful-1 (exit status 0)" in log
    again = run(tmp_path, names=["graceful", "quick"], socket=str(socket))
    assert again["changed"] is False
    assert again["removed"] == []


def test_check_mode_names_the_groups_and_stops_nothing(tmp_path, supervisord):
    socket, server = supervisord
    program = tmp_path / "quick.conf"
    program.write_text("[program:quick]\n")
    result = run(tmp_path, check=True, names=["quick"], socket=str(socket), program_files=[str(program)])
    assert result["changed"] is True
    assert result["removed"] == ["quick"] and result["removed_files"] == [str(program)]
    assert groups(server)["quick"] == {"RUNNING"}
    assert program.exists()


def test_no_supervisor_is_a_clear_failure(tmp_path):
    result = run(tmp_path, names=["quick"], socket=str(tmp_path / "none.sock"))
    assert result["failed"] is True
    assert "cannot talk to Supervisor" in result["msg"]


@pytest.mark.parametrize(
    ("states", "running"),
    [
        pytest.param(["RUNNING", "STOPPING"], ["g-0", "g-1"], id="stopping-counts-as-running"),
        pytest.param(["STOPPED", "EXITED"], [], id="stopped-and-exited"),
        pytest.param(["FATAL", "STOPPING"], ["g-1"], id="fatal-is-not-running"),
    ],
)
def test_running_in(states, running):
    processes = [{"group": "g", "name": f"g-{i}", "statename": s} for i, s in enumerate(states)]
    processes.append({"group": "h", "name": "h", "statename": "RUNNING"})
    assert supervisor_remove.running_in(processes, "g") == running


def listening(path: Path) -> socket_module.socket:
    server = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
    server.bind(str(path))
    server.listen()
    return server


def test_connections_are_counted_on_their_socket_only(tmp_path):
    with listening(tmp_path / "old.sock") as old, listening(tmp_path / "new.sock") as new:
        assert supervisor_remove.connections_to(str(tmp_path / "old.sock")) == 0
        client = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
        client.connect(str(tmp_path / "old.sock"))
        accepted, _ = old.accept()
        other = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
        other.connect(str(tmp_path / "new.sock"))
        assert supervisor_remove.connections_to(str(tmp_path / "old.sock")) == 1
        client.close()
        accepted.close()
        assert supervisor_remove.connections_to(str(tmp_path / "old.sock")) == 0
        other.close()
        new.close()


def test_the_drain_ends_when_the_last_connection_closes_or_at_its_limit(tmp_path):
    path = tmp_path / "old.sock"
    with listening(path) as server:
        client = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
        client.connect(str(path))
        accepted, _ = server.accept()
        limited = supervisor_remove.drain(str(path), 0.3)
        assert limited["connections_left"] == 1
        assert 0.3 <= limited["seconds"] < 1.0
        closer = threading.Timer(0.3, lambda: (client.close(), accepted.close()))
        closer.start()
        drained = supervisor_remove.drain(str(path), 10)
        closer.join()
        assert drained["connections_left"] == 0
        assert 0.2 <= drained["seconds"] < 2.0


def test_program_files_go_before_the_groups_stop_and_the_drain_waits_first(tmp_path, supervisord):
    socket, server = supervisord
    program = tmp_path / "quick.conf"
    program.write_text("[program:quick]\n")
    drained = tmp_path / "app.sock"
    with listening(drained) as listener:
        client = socket_module.socket(socket_module.AF_UNIX, socket_module.SOCK_STREAM)
        client.connect(str(drained))
        accepted, _ = listener.accept()
        result = run(
            tmp_path,
            names=["quick"],
            socket=str(socket),
            drain_socket=str(drained),
            drain_seconds=0.5,
            program_files=[str(program), str(tmp_path / "missing.conf")],
        )
        client.close()
        accepted.close()
    assert result["changed"] is True
    assert result["removed"] == ["quick"] and result["removed_files"] == [str(program)]
    assert result["drain"]["connections_left"] == 1 and result["drain"]["seconds"] >= 0.5
    assert not program.exists()
    assert "quick" not in groups(server)
    again = run(tmp_path, names=["quick"], socket=str(socket), program_files=[str(program)])
    assert again["changed"] is False and again["drain"] == {}
