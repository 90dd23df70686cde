"""make bench-cluster's changes to the servers, as text, and its verdicts, on what the roles render."""

from __future__ import annotations

import json
import shlex

import pytest
from kitbench import cluster, verdict

# The load balancer's upstream as roles/nginx/templates/site.conf.j2 renders it for two app servers.
SITE = """upstream webapp {
    # Passive health checks: a server that fails 1 time(s) gets no request
    # for 10 s, then one to try it again. The workers share what they learn.
    zone webapp_upstream 64k;
    server 172.18.0.3:8080 max_fails=1 fail_timeout=10s;
    server 172.18.0.4:8080 max_fails=1 fail_timeout=10s;
    keepalive 16;
}
server {
    listen 172.18.0.4:8080;
}
"""

# A program file of roles/gunicorn/templates/program.conf.j2 (Gunicorn 25: a control socket).
LAUNCHER = "/srv/webapp/bin/with-env"
PROGRAM = f"""; Color blue serves release 1a2b3c4d5e6f
[program:webapp-blue]
command={LAUNCHER} /srv/webapp/settings/1a2b3c4d5e6f-9f8e.env --path=/srv/webapp/releases/1a2b3c4d5e6f/app -- \
/srv/webapp/venvs/abc/bin/gunicorn --config /etc/webapp/blue.conf.py --bind unix:/run/webapp/blue.sock \
--control-socket /run/webapp/blue.ctl --name webapp-blue webapp.main:app
directory=/srv/webapp/releases/1a2b3c4d5e6f/app
user=webapp
umask=007
environment=HOME="/srv/webapp",PATH="/srv/webapp/venvs/abc/bin:/usr/local/bin:/usr/bin:/bin",LANG="C.UTF-8",\
APP_RELEASE="1a2b3c4d5e6f",PROMETHEUS_MULTIPROC_DIR="/run/webapp/metrics-blue",GREETING="100%% \\"quoted\\""

autostart=true
""".replace("\\\n", "")

SETTINGS = """# Ansible managed
APP_API_TOKEN="molecule-test-token-0123456789"
APP_DATABASE_URL="postgresql://webapp:secret@kit-cluster-db:5432/webapp?sslmode=verify-full"
APP_NAME="FastAPI kit on PostgreSQL"
"""


def test_mark_down_marks_only_that_server():
    changed = cluster.mark_down(SITE, "172.18.0.4")
    assert "    server 172.18.0.4:8080 max_fails=1 fail_timeout=10s down;\n" in changed
    assert "    server 172.18.0.3:8080 max_fails=1 fail_timeout=10s;\n" in changed
    assert "listen 172.18.0.4:8080;" in changed
    # Marking it again changes nothing.
    assert cluster.mark_down(changed, "172.18.0.4") == changed


@pytest.mark.parametrize("address", ["172.18.0.9", "172.18.0.", "172.18.0.40"])
def test_mark_down_refuses_a_server_the_upstream_lacks(address):
    with pytest.raises(ValueError, match="0 upstream lines"):
        cluster.mark_down(SITE, address)


def test_program_settings_and_environment():
    program = cluster.program_settings(PROGRAM)
    assert program["user"] == "webapp"
    assert program["directory"] == "/srv/webapp/releases/1a2b3c4d5e6f/app"
    env = cluster.supervisor_environment(program["environment"])
    assert env["PATH"] == "/srv/webapp/venvs/abc/bin:/usr/local/bin:/usr/bin:/bin"
    assert env["APP_RELEASE"] == "1a2b3c4d5e6f"
    assert env["GREETING"] == '100% "quoted"'
    assert len(env) == 6


def test_program_settings_name_what_is_missing():
    with pytest.raises(ValueError, match="no user="):
        cluster.program_settings(PROGRAM.replace("user=webapp\n", ""))


def test_the_twin_binds_tcp_only_with_its_own_name():
    command = cluster.twin_command(cluster.program_settings(PROGRAM)["command"], port=8101, name="webapp-bench-pg")
    assert command[:4] == [
        LAUNCHER,
        "/srv/webapp/settings/1a2b3c4d5e6f-9f8e.env",
        "--path=/srv/webapp/releases/1a2b3c4d5e6f/app",
        "--",
    ]
    assert command[4:] == [
        "/srv/webapp/venvs/abc/bin/gunicorn",
        "--config",
        "/etc/webapp/blue.conf.py",
        "--bind",
        "127.0.0.1:8101",
        "--name",
        "webapp-bench-pg",
        "webapp.main:app",
    ]


def test_the_sqlite_twin_reads_its_own_settings_file():
    command = cluster.twin_command(
        cluster.program_settings(PROGRAM)["command"], port=8102, name="n", settings_file="/var/tmp/kit-bench/s.env"
    )
    assert command[1] == "/var/tmp/kit-bench/s.env"
    assert cluster.launcher_prefix(shlex.join(command)) == command[:4]


@pytest.mark.parametrize(
    "command",
    [
        "/srv/webapp/venvs/abc/bin/gunicorn --config c.py webapp.main:app",  # no launcher
        f"{LAUNCHER} s.env -- /srv/webapp/venvs/abc/bin/python -m taskboard.worker",  # not Gunicorn
        f"{LAUNCHER} s.env -- /srv/webapp/venvs/abc/bin/gunicorn webapp.main:app",  # no config
    ],
)
def test_twin_command_refuses_other_programs(command):
    with pytest.raises(ValueError):
        cluster.twin_command(command, port=1, name="n")


def test_sqlite_settings_replace_the_database_url():
    settings = cluster.sqlite_settings(SETTINGS, "/var/tmp/kit-bench/app.db")
    assert "APP_DATABASE_URL" not in settings
    assert 'APP_DATABASE_PATH="/var/tmp/kit-bench/app.db"\n' in settings
    assert cluster.setting(settings, "APP_API_TOKEN") == "molecule-test-token-0123456789"
    assert cluster.setting(settings, "APP_NAME") == "FastAPI kit on PostgreSQL"


def test_sqlite_settings_refuse_an_app_without_a_database_url():
    with pytest.raises(ValueError, match="APP_DATABASE_URL"):
        cluster.sqlite_settings('APP_NAME="x"\n', "/tmp/app.db")


def result(rps: float, p99: float, failed: int = 0) -> dict:
    return {"rps": rps, "p99_ms": p99, "failed": failed, "detail": {}}


def scaling(two: list[dict], one: list[dict]) -> dict:
    return cluster.compare(
        {"two servers": two, "one server": one},
        "two servers",
        "one server",
        throughput_target=cluster.SCALE_TARGET,
        p99_target=cluster.SCALE_P99_TARGET,
    )


def test_two_servers_that_double_the_throughput_pass():
    judged = scaling(
        [result(400, 50), result(390, 52), result(410, 49)], [result(200, 90), result(210, 88), result(190, 95)]
    )
    assert judged["verdict"] == verdict.PASS
    assert judged["rps_apart"] is True
    assert judged["figures"]["two servers"]["rps"] == [390, 400, 410]
    # Round by round: 400/200, 390/210, 410/190.
    assert judged["rps_ratio"] == [pytest.approx(1.857, abs=0.001), 2.0, pytest.approx(2.158, abs=0.001)]


def test_a_second_server_that_adds_little_is_a_miss():
    judged = scaling([result(250, 80), result(260, 80)], [result(200, 90), result(210, 88)])
    assert judged["verdict"] == verdict.MISS
    assert "below 1.5" in judged["problems"][0]


def test_a_failed_request_is_a_miss_whatever_the_ratio():
    judged = scaling([result(400, 50, failed=1), result(400, 50)], [result(200, 90), result(200, 90)])
    assert judged["verdict"] == verdict.MISS
    assert judged["failed"] == {"two servers": 1, "one server": 0}


def test_the_databases_are_reported_not_judged():
    judged = cluster.compare(
        {"postgresql": [result(300, 60), result(320, 58)], "sqlite": [result(330, 55), result(310, 61)]},
        "postgresql",
        "sqlite",
        throughput_target=None,
        p99_target=float("inf"),
    )
    assert judged["verdict"] == verdict.PASS
    assert judged["rps_apart"] is False
    markdown = cluster.markdown(
        {
            "date": "2026-12-03 06:00 UTC",
            "machine": {
                "cpus": 2,
                "cpu_model": "x",
                "memory_gib": 24,
                "os": "Debian 12",
                "kernel": "6",
                "docker": "20.10",
                "sandbox": ["Debian 12"],
            },
            "load_average_start": [1.0],
            "load_average_end": [1.5],
            "settings": {"seconds": 10, "rounds": 2, "connections": 16},
            "servers": scaling([result(400, 50), result(390, 52)], [result(200, 90), result(210, 88)])
            | {"app_cpus": 0.5},
            "databases": judged,
        }
    )
    assert "| two servers | 395 (390-400) | 51.0 (50.0-52.0) | 0 |" in markdown
    assert "the ranges meet: within the spread" in markdown
    assert json.dumps(judged)  # what bench-cluster.json holds
