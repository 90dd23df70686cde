"""plugins/modules/gunicorn_health.py: the deploy's health gate, against a real HTTP server on a
unix socket and a real supervisord (Supervisor 4.2.5, as Debian ships) whose programs start,
crash at start, or are stopped."""

import json
import sys
import textwrap
import time
from pathlib import Path

import pytest

MODULES = Path(__file__).resolve().parents[1] / "plugins" / "modules"
sys.path.insert(0, str(MODULES))

import gunicorn_health  # noqa: E402
import supervisord_helper  # noqa: E402
from module_runner import run_module  # noqa: E402

# An HTTP server on a unix socket answering GET /health with {"release": <argv[2]>} after
# <argv[3]> seconds of start-up; /sick answers 503.
SERVER = textwrap.dedent("""
    import http.server, json, os, socketserver, sys, time
    time.sleep(float(sys.argv[3]))

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, body = (200, {"release": sys.argv[2]}) if self.path == "/health" else (503, {"ok": False})
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

        def address_string(self):
            return "unix"

    class Server(socketserver.UnixStreamServer):
        pass

    if os.path.exists(sys.argv[1]):
        os.unlink(sys.argv[1])
    Server(sys.argv[1], Handler).serve_forever()
""")


@pytest.fixture
def supervisord(tmp_path):
    """A supervisord with: good (healthy after 0.5 s), crashing (exits at once: FATAL after its retries),
    stopped (never started)."""
    (tmp_path / "server.py").write_text(SERVER)
    programs = f"""
        [program:good]
        command={sys.executable} {tmp_path}/server.py {tmp_path}/good.sock r1 0.5
        startsecs=0
        [program:crashing]
        command={sys.executable} -c "raise SystemExit('broken release')"
        startsecs=1
        startretries=1
        [program:stopped]
        command={sys.executable} {tmp_path}/server.py {tmp_path}/stopped.sock r1 0
        autostart=false
        """

    def ready(server) -> bool:
        return bool(server.supervisor.getAllProcessInfo())

    with supervisord_helper.supervisord(tmp_path, programs, gunicorn_health.connect, ready) as (socket, _):
        yield socket


def run(tmp_path: Path, supervisor_socket: Path, *, check: bool = False, **arguments) -> dict:
    arguments = {"supervisor_socket": str(supervisor_socket), "interval": 0.1} | arguments
    return run_module("gunicorn_health", tmp_path, arguments, check=check, timeout=120)


def load_and_wait(tmp_path: Path, supervisor_socket: Path, program: str, release: str, **arguments) -> dict:
    """gunicorn_health with load, on program's socket, asking for release under the key "release"."""
    socket = str(tmp_path / f"{program}.sock")
    return run(
        tmp_path,
        supervisor_socket,
        load=True,
        socket=socket,
        program=program,
        release_key="release",
        release=release,
        **arguments,
    )


def test_waits_until_the_release_answers_healthy(tmp_path, supervisord):
    result = run(
        tmp_path, supervisord, socket=str(tmp_path / "good.sock"), program="good", release_key="release", release="r1"
    )
    assert result["healthy"] is True and not result.get("failed"), result
    assert result["changed"] is False
    assert result["status"] == 200 and json.loads(result["content"]) == {"release": "r1"}
    # However long its start-up took against the module's first try, one module call waited for it.
    assert result["tries"] >= 1 and result["state"] == "RUNNING", result


def test_another_release_answering_is_not_healthy(tmp_path, supervisord):
    result = run(
        tmp_path,
        supervisord,
        socket=str(tmp_path / "good.sock"),
        program="good",
        release_key="release",
        release="r2",
        timeout=2,
    )
    assert result["failed"] is True and result["healthy"] is False
    assert result["status"] == 200 and "r1" in result["content"]
    assert result["msg"].endswith("(2 s)")
    assert 2 <= result["seconds"] < 5


def test_an_unhealthy_status_is_not_healthy(tmp_path, supervisord):
    result = run(tmp_path, supervisord, socket=str(tmp_path / "good.sock"), path="/sick", program="good", timeout=1)
    assert result["failed"] is True and result["status"] == 503


def test_a_program_supervisor_gave_up_on_ends_the_wait_before_the_timeout(tmp_path, supervisord):
    started = time.monotonic()
    result = run(tmp_path, supervisord, socket=str(tmp_path / "crashing.sock"), program="crashing", timeout=60)
    assert result["failed"] is True and result["healthy"] is False
    assert result["state"] == "FATAL", result
    assert result["status"] == 0 and result["content"].startswith("no answer:")
    assert "(the program FATAL)" in result["msg"]
    assert time.monotonic() - started < 30


def test_a_stopped_program_ends_the_wait(tmp_path, supervisord):
    result = run(tmp_path, supervisord, socket=str(tmp_path / "stopped.sock"), program="stopped", timeout=60)
    assert result["failed"] is True and result["state"] == "STOPPED" and result["tries"] == 1


def test_check_mode_does_not_wait(tmp_path, supervisord):
    result = run(tmp_path, supervisord, check=True, socket=str(tmp_path / "none.sock"), program="none")
    assert result["healthy"] is True and result["tries"] == 0 and not result.get("failed")


@pytest.mark.parametrize(
    ("status", "content", "key", "release", "expected"),
    [
        (200, "ok", "", "", True),
        (204, "", "", "", True),
        (503, '{"release": "r1"}', "release", "r1", False),
        (200, '{"release": "r1"}', "release", "r1", True),
        (200, '{"release": "r0"}', "release", "r1", False),
        (200, "not json", "release", "r1", False),
        (200, '["release"]', "release", "r1", False),
        (0, "no answer: [Errno 2]", "", "", False),
    ],
)
def test_healthy(status, content, key, release, expected):
    assert gunicorn_health.healthy(status, content, key, release) is expected


def add_program(tmp_path: Path, section: str) -> None:
    """A program section appended to the running supervisord's configuration, for reloadConfig to find."""
    conf = tmp_path / "supervisord.conf"
    conf.write_text(conf.read_text() + textwrap.dedent(section))


def test_load_adds_a_new_program_starts_it_and_waits(tmp_path, supervisord):
    add_program(
        tmp_path,
        f"""
        [program:late]
        command={sys.executable} {tmp_path}/server.py {tmp_path}/late.sock r3 0
        startsecs=0
        autostart=false
        """,
    )
    result = load_and_wait(tmp_path, supervisord, "late", "r3", timeout=20)
    assert result["healthy"] is True and not result.get("failed"), result
    assert result["changed"] is True
    assert result["loaded"] == ["added", "started"]


def test_load_starts_a_stopped_program_and_leaves_a_running_one(tmp_path, supervisord):
    started = run(tmp_path, supervisord, load=True, socket=str(tmp_path / "stopped.sock"), program="stopped")
    assert started["healthy"] is True and started["loaded"] == ["started"], started
    again = run(tmp_path, supervisord, load=True, socket=str(tmp_path / "stopped.sock"), program="stopped")
    assert again["healthy"] is True and again["loaded"] == [] and again["changed"] is False, again


def test_load_replaces_a_program_whose_settings_changed(tmp_path, supervisord):
    conf = tmp_path / "supervisord.conf"
    conf.write_text(conf.read_text().replace("good.sock r1 0.5", "good.sock r2 0"))
    result = load_and_wait(tmp_path, supervisord, "good", "r2", timeout=20)
    assert result["healthy"] is True, result
    assert result["loaded"][:2] == ["removed", "added"]


def test_load_of_a_program_supervisor_does_not_know_fails_at_once(tmp_path, supervisord):
    result = run(tmp_path, supervisord, load=True, socket=str(tmp_path / "none.sock"), program="none", timeout=60)
    assert result["failed"] is True and result["state"] == "UNKNOWN" and result["loaded"] == []
