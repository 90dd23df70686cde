"""Helpers for the runtime tests: run the kit's playbooks, make app commits, put load on a server."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import shlex
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import testinfra
from testinfra.utils.ansible_runner import AnsibleRunner
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as connect_websocket

PROJECT = Path(os.environ.get("MOLECULE_PROJECT_DIRECTORY", Path(__file__).resolve().parents[3]))
APP_REPO = PROJECT / ".cache" / "repos" / "webapp.git"
INVENTORY = Path(os.environ["MOLECULE_INVENTORY_FILE"]).parent
SOCKET = "/run/webapp/app.sock"
TOKEN = "molecule-test-token-0123456789"
LOADGEN = "/usr/local/lib/kit-tests/loadgen.py"
# The CA of Pebble's own API, which the certbot role makes the servers trust.
PEBBLE_API_CA = "/usr/local/share/ca-certificates/certbot-acme-server.crt"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Check the converged state first; the deploy sequence, which changes the servers, runs last."""
    items.sort(key=lambda item: item.path.name == "test_deploy.py")


def run_playbook(playbook: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run one of the kit's playbooks against the scenario's servers, as a user would."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(PROJECT / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    env["ANSIBLE_ROLES_PATH"] = str(PROJECT / "roles")
    env["ANSIBLE_LIBRARY"] = str(PROJECT / "plugins" / "modules")
    env["ANSIBLE_MODULE_UTILS"] = str(PROJECT / "plugins" / "module_utils")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["ansible-playbook", "-i", str(INVENTORY), str(PROJECT / "playbooks" / playbook), *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if check and result.returncode != 0:
        pytest.fail(f"{playbook} failed ({result.returncode}):\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}")
    return result


def git(*args: str, **kwargs) -> str:
    return subprocess.run(["git", *args], check=True, capture_output=True, text=True, **kwargs).stdout.strip()


def commit_app_change(
    branch: str, message: str, edits: dict[str, str | None], base: str = "main", repo: Path = APP_REPO
) -> str:
    """Commit edits to the app's files (path -> text to append, None to delete) on top of base (a branch or
    commit), on the test branch test/<branch> of repo. Returns the new commit."""
    workdir = PROJECT / ".cache" / "test-worktree"
    subprocess.run(["rm", "-rf", str(workdir)], check=True)
    git("clone", "-q", str(repo), str(workdir))
    branch_ref = f"origin/{base}"
    is_branch = subprocess.run(
        ["git", "-C", str(workdir), "rev-parse", "-q", "--verify", branch_ref], check=False, capture_output=True
    )
    git("-C", str(workdir), "checkout", "-q", "--detach", branch_ref if is_branch.returncode == 0 else base)
    for path, text in edits.items():
        target = workdir / path
        if text is None:
            target.unlink()
        else:
            with target.open("a") as handle:
                handle.write(text)
    env = dict(os.environ, GIT_AUTHOR_NAME="kit tests", GIT_AUTHOR_EMAIL="tests@fastapi-kit.invalid")
    env.update(GIT_COMMITTER_NAME="kit tests", GIT_COMMITTER_EMAIL="tests@fastapi-kit.invalid")
    git("-C", str(workdir), "add", "-A")
    git("-C", str(workdir), "commit", "-qm", message, env=env)
    # Test commits live on test/ branches: main stays what scripts/ensure-app-repo published.
    git("-C", str(workdir), "push", "-qf", "origin", f"HEAD:refs/heads/test/{branch}")
    return git("-C", str(workdir), "rev-parse", "HEAD")


def server_names() -> list[str]:
    return sorted(AnsibleRunner(os.environ["MOLECULE_INVENTORY_FILE"]).get_hosts("web"))


def read_health(host: testinfra.host.Host) -> dict:
    """GET /health on the stable socket, as the proxy would."""
    return json.loads(host.check_output(f"curl -sS --max-time 5 --unix-socket {SOCKET} http://localhost/health"))


def psql(host: testinfra.host.Host, sql: str, database: str = "postgres") -> str:
    """A query as the postgres superuser over the local socket; its rows, | between columns
    (molecule/cluster's database server, molecule/apps' server)."""
    return host.check_output(f"runuser -u postgres -- psql -X -At -d {database} -c {shlex.quote(sql)}")


def read_live(host: testinfra.host.Host) -> dict:
    """The gunicorn role's record of the live color and release."""
    return json.loads(host.file("/var/lib/webapp/live.json").content_string)


@dataclass
class Server:
    name: str
    host: testinfra.host.Host

    def health(self) -> dict:
        return read_health(self.host)

    def api(self, method: str, path: str, body: dict | None = None) -> dict:
        data = f"-H 'Content-Type: application/json' -d '{json.dumps(body)}'" if body else ""
        out = self.host.check_output(
            f"curl -sS --fail-with-body --max-time 5 --unix-socket {SOCKET} -X {method} "
            f"-H 'Authorization: Bearer {TOKEN}' {data} http://localhost{path}"
        )
        return json.loads(out) if out else {}

    def live(self) -> dict:
        return read_live(self.host)


def open_websocket(server: Server, path: str = "/ws/notes") -> ClientConnection:
    """A WebSocket to the server's app through its nginx, over wss:// from the controller via the published port."""
    variables = server.host.ansible.get_variables()
    name = variables["nginx_domains"][0]
    root = server.host.check_output(f"curl -sS --fail --cacert {PEBBLE_API_CA} https://pebble:15000/roots/0")
    context = ssl.create_default_context(cadata=root)
    sock = socket.create_connection(("127.0.0.1", int(variables["kit_test_https_port"])), timeout=10)
    return connect_websocket(f"wss://{name}{path}", sock=sock, ssl=context, server_hostname=name, open_timeout=30)


def assert_events_arrive_spread(name: str, port: int, context: ssl.SSLContext, path: str) -> None:
    """GET a stream of 5 server-sent events, 0.5 s apart, through nginx: each must arrive when it is sent.

    Buffered by the proxy, they would all arrive at once when the stream ends.
    """
    connection = http.client.HTTPSConnection(name, timeout=10, context=context)
    connection.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", port), timeout=10), server_hostname=name
    )
    connection.request("GET", f"{path}?count=5&interval=0.5", headers={"Host": name})
    response = connection.getresponse()
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    arrivals: list[float] = []
    while len(arrivals) < 5:
        line = response.fp.readline()
        assert line, f"the stream ended after {len(arrivals)} events"
        if line.startswith(b"data: "):
            arrivals.append(time.monotonic())
    connection.close()
    # Four intervals of 0.5 s between the first and the last.
    assert arrivals[-1] - arrivals[0] >= 1.5, arrivals
    assert min(b - a for a, b in itertools.pairwise(arrivals)) >= 0.2, arrivals


@pytest.fixture(scope="session")
def servers() -> list[Server]:
    return [
        Server(name, testinfra.get_host(f"ansible://{name}?ansible_inventory={INVENTORY}")) for name in server_names()
    ]


@contextmanager
def steady_load(
    servers: list[Server], seconds: int = 600, unix_socket: str = SOCKET, path: str = "/health", tag: str = "load"
) -> Iterator[dict[str, dict]]:
    """Keep every server under load (on its stable socket) while the block runs; yield the summaries after.

    tag names the load's files on the server, so two loads (one per app) can run at once.
    """
    with load_from({s.name: s.host for s in servers}, f"--unix {unix_socket} --path {path}", seconds, tag) as loads:
        yield loads


@contextmanager
def load_from(
    hosts: dict[str, testinfra.host.Host], target: str, seconds: int = 600, tag: str = "load"
) -> Iterator[dict[str, dict]]:
    """Run the load generator on each host against target (its arguments: where to connect, what to GET)
    while the block runs; yield each host's summary, by name, once the block ends. Every non-2xx
    answer and every connection error counts as failed."""
    summaries: dict[str, dict] = {}
    files = f"/tmp/kit-{tag}"
    for host in hosts.values():
        host.run(f"rm -f {files}.stop {files}.json")
        host.run(
            f"nohup python3 {LOADGEN} {target} --concurrency 2 --interval 0.05 --timeout 20 "
            f"--duration {seconds} --requests 500000 --stop-file {files}.stop "
            f"> {files}.json 2>{files}.err &"
        )
    time.sleep(2)
    try:
        yield summaries
    finally:
        for host in hosts.values():
            host.run(f"touch {files}.stop")
        for name, host in hosts.items():
            for _ in range(60):
                out = host.run(f"cat {files}.json").stdout.strip()
                if out:
                    summaries[name] = json.loads(out)
                    break
                time.sleep(0.5)
            else:
                summaries[name] = {"failed": -1, "error": host.run(f"cat {files}.err").stdout}


# sslyze's Mozilla intermediate profile: 5.7 (built in) and 6.0 (molecule/resources).
MOZILLA_PROFILES = pytest.mark.parametrize(
    "profile",
    [
        "--mozilla_config=intermediate",
        f"--custom_tls_config={Path(__file__).resolve().parents[2] / 'resources' / 'mozilla-intermediate-6.0.json'}",
    ],
    ids=["mozilla-5.7", "mozilla-6.0"],
)


def assert_mozilla_compliant(name: str, port: int, root: Path, profile: str) -> None:
    """sslyze from the controller against name's HTTPS on 127.0.0.1:port, the chain checked against root."""
    sslyze = Path(sys.executable).parent / "sslyze"
    result = subprocess.run(
        [str(sslyze), profile, f"--certinfo_ca_file={root}", f"{name}:{port}{{127.0.0.1}}"],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, NO_COLOR="1"),
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert ": OK - Compliant." in result.stdout
