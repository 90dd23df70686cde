"""What an operator observes of the app runtime on each server after site.yml."""

import time

import pytest
from conftest import SOCKET
from conftest import read_health as health
from conftest import read_live as live

PYTHON = "3.13.5"
WORKERS = 2


def test_pyenv_python_is_the_requested_version(host):
    assert host.check_output(f"/opt/pyenv/versions/{PYTHON}/bin/python3 --version") == f"Python {PYTHON}"


def test_venv_uses_the_pyenv_python(host):
    venv = live(host)["release"]["venv"]
    base = host.check_output(f"{venv}/bin/python -c 'import sys; print(sys.base_prefix)'")
    assert base == f"/opt/pyenv/versions/{PYTHON}"


def test_system_python_untouched(host):
    assert host.file("/usr/bin/python3").is_symlink
    assert host.check_output("/usr/bin/python3 -c 'import sys; print(sys.prefix)'") == "/usr"
    assert host.check_output("dpkg -S /usr/bin/python3").startswith("python3-minimal")


def test_supervisor_runs_and_is_enabled(host):
    supervisor = host.service("supervisor")
    assert supervisor.is_running
    assert supervisor.is_enabled


def test_supervisor_control_socket_is_root_only(host):
    sock = host.file("/run/supervisor.sock")
    assert sock.is_socket
    assert (sock.user, sock.group, sock.mode) == ("root", "root", 0o700)


def test_app_program_running(host):
    color = live(host)["color"]
    status = host.check_output("supervisorctl status")
    assert f"webapp-{color}" in status
    assert status.split()[1] == "RUNNING", status


def test_master_and_workers_run_as_the_app_user(host):
    master = host.check_output("supervisorctl pid webapp-%s", live(host)["color"])
    assert host.check_output("ps -o user= -p %s", master) == "webapp"
    workers = host.check_output("ps -o user= --ppid %s", master).split()
    assert workers == ["webapp"] * WORKERS


def test_app_user_cannot_log_in(host):
    user = host.user("webapp")
    assert user.shell == "/usr/sbin/nologin"
    assert "sudo" not in user.groups


def test_settings_are_private_to_the_app_and_read_only_for_it(host):
    release = live(host)["release"]
    settings = host.file(release["env_file"])
    assert settings.path.startswith(f"{release['path']}/.settings/")
    assert (settings.user, settings.group, settings.mode) == ("root", "webapp", 0o640)
    assert host.file(f"{release['path']}/.settings").mode == 0o750
    assert settings.contains("APP_API_TOKEN=")
    # The app's own tools, run by hand in the release, find them as .env.
    assert host.file(f"{release['dir']}/.env").linked_to == release["env_file"]


def test_the_live_processes_run_with_the_release_settings(host):
    """Supervisor starts Gunicorn through the launcher, with the settings file named in the release."""
    release = live(host)["release"]
    color = live(host)["color"]
    master = host.check_output(f"supervisorctl pid webapp-{color}")
    environ = host.check_output(f"tr '\\0' '\\n' < /proc/{master}/environ")
    assert "APP_API_TOKEN=molecule-test-token-0123456789" in environ.splitlines()
    program = host.file(f"/etc/supervisor/conf.d/webapp-{color}.conf").content_string
    launch = f"command=/usr/local/libexec/fastapi-kit/with-env {release['env_file']} --path={release['dir']} -- "
    assert launch in program


def test_health_over_the_socket_reports_the_deployed_commit(host):
    release = live(host)["release"]
    answer = health(host)
    assert answer["status"] == "ok"
    assert answer["release"] == release["id"]
    assert host.file(f"{release['path']}/REVISION").content_string.strip().startswith(release["id"])


def test_socket_reachable_by_the_proxy_group_only(host):
    run_dir = host.file("/run/webapp")
    assert (run_dir.user, run_dir.group, run_dir.mode) == ("webapp", "www-data", 0o2750)
    assert host.file(SOCKET).is_symlink
    as_proxy = host.run(
        f"runuser -u www-data -- curl -sS -o /dev/null -w '%{{http_code}}' --unix-socket {SOCKET} http://localhost/health"
    )
    assert as_proxy.stdout == "200"
    as_nobody = host.run(f"runuser -u nobody -- curl -sS --unix-socket {SOCKET} http://localhost/health")
    assert as_nobody.rc != 0


def test_no_tcp_listener_for_the_app(host):
    """Gunicorn listens on its unix socket only: nothing of the app's on TCP."""
    listeners = host.check_output("ss -Hltnp")
    assert "gunicorn" not in listeners and "python" not in listeners


def test_killed_master_comes_back(host):
    color = live(host)["color"]
    before = host.check_output("supervisorctl pid webapp-%s", color)
    host.run(f"kill -KILL {before}")
    start = time.monotonic()
    while time.monotonic() - start < 30:
        answer = host.run(
            f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 2 --unix-socket {SOCKET} http://localhost/health"
        )
        if answer.stdout == "200" and host.check_output("supervisorctl pid webapp-%s", color) != before:
            break
        time.sleep(0.2)
    recovered = time.monotonic() - start
    assert host.check_output("supervisorctl pid webapp-%s", color) != before
    assert recovered < 15, f"/health answered again only after {recovered:.1f} s"


@pytest.mark.parametrize("path", ["/srv/webapp/releases", "/srv/webapp/venvs"])
def test_code_belongs_to_root(host, path):
    directory = host.file(path)
    assert (directory.user, directory.group) == ("root", "root")
