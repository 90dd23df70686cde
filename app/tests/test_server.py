"""The app under real servers: Gunicorn with Uvicorn workers, as deployed, and Uvicorn."""

import itertools
import json
import signal
import socket as sockets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import unix_connect

from tests.conftest import (
    BOTH_BACKENDS,
    TOKEN,
    Database,
    child_environment,
    database_environment,
)
from tests.postgresql_server import PASSWORD
from webapp.sockets import SERVICE_RESTART

STARTUP_SECONDS = 20
GUNICORN = [sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "2"]
E2E_RELEASE = "e2e-release"
GRACEFUL_TIMEOUT = 10


def wait_until_healthy(process: subprocess.Popen[bytes], socket: Path, log: Path) -> httpx.Response:
    """Poll /health over the socket until it answers, for at most STARTUP_SECONDS."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        if socket.exists():
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket))) as client:
                    return client.get("http://app/health", timeout=5)
            except httpx.TransportError:
                pass
        time.sleep(0.1)
    pytest.fail(f"gunicorn did not answer within {STARTUP_SECONDS} s:\n{log.read_text()}")


def wait_for_files(directory: Path, pattern: str, count: int, log: Path) -> None:
    """Wait until ``count`` files match ``pattern``, for at most STARTUP_SECONDS."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while len(list(directory.glob(pattern))) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"no {count} {pattern} files in {directory}:\n{log.read_text()}")
        time.sleep(0.1)


def requests_total(exposition: str, route: str) -> float:
    return sum(
        found.value
        for family in text_string_to_metric_families(exposition)
        for found in family.samples
        if found.name == "http_requests_total" and found.labels.get("route") == route
    )


def exchange(socket: Path, requests: bytes) -> bytes:
    """Send raw HTTP/1.1 ``requests`` on one connection; return all it answers until closed."""
    with sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM) as connection:
        connection.settimeout(5)
        connection.connect(str(socket))
        connection.sendall(requests)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


def content_length(header_block: bytes) -> int:
    lines = header_block.decode("latin-1").lower().split("\r\n")
    return int(next(line for line in lines if line.startswith("content-length:")).split(":")[1])


def check_head_then_get(socket: Path, path: str) -> None:
    """HEAD then GET on one connection: the HEAD answer has GET's headers but no body,
    so the GET answer follows its blank line directly."""
    answers = exchange(
        socket,
        f"HEAD {path} HTTP/1.1\r\nHost: app\r\n\r\n"
        f"GET {path} HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n".encode(),
    )
    head, rest = answers.split(b"\r\n\r\n", 1)
    get, body = rest.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200 "), answers
    assert get.startswith(b"HTTP/1.1 200 "), answers
    assert content_length(head) == content_length(get) == len(body) > 0


@dataclass
class Gunicorn:
    """A Gunicorn master, as deployed: two Uvicorn workers, on a Unix socket."""

    process: subprocess.Popen[bytes]
    socket: Path
    log: Path

    def client(self) -> httpx.Client:
        return httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket)), base_url="http://app"
        )

    def wait_until_healthy(self) -> httpx.Response:
        return wait_until_healthy(self.process, self.socket, self.log)

    def stop(self) -> int:
        """SIGTERM, as a deploy stops it; wait for the exit and return its status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=2 * GRACEFUL_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


@contextmanager
def running_gunicorn(directory: Path, database: Database, **env: str) -> Iterator[Gunicorn]:
    """Gunicorn serving ``database``, stopped at the end if still running.

    Its socket and log are in ``directory``, which is also its working directory;
    ``env`` adds variables to the application's environment.
    """
    directory.mkdir(exist_ok=True)
    socket = directory / "app.sock"
    log = directory / "gunicorn.log"
    environment = (
        child_environment(directory)
        | database_environment(database)
        | {"APP_API_TOKEN": TOKEN, "APP_RELEASE": E2E_RELEASE}
        | env
    )
    command = [*GUNICORN, "--bind", f"unix:{socket}", "--graceful-timeout", str(GRACEFUL_TIMEOUT)]
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "webapp.main:app"],
            cwd=directory,
            env=environment,
            stdout=output,
            stderr=output,
        )
    server = Gunicorn(process, socket, log)
    try:
        yield server
    finally:
        server.stop()


@BOTH_BACKENDS
def test_gunicorn_serves_the_app(tmp_path: Path, database: Database) -> None:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()

    with running_gunicorn(tmp_path, database, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir)) as server:
        socket, log = server.socket, server.log
        health = server.wait_until_healthy()
        assert health.status_code == 200, log.read_text()
        assert health.json() == {"status": "ok", "release": E2E_RELEASE, "database": "ok"}
        # Both workers booted in multiprocess mode: each writes its release gauge file.
        wait_for_files(metrics_dir, "gauge_max_*.db", 2, log)

        # A new connection for each request, so both workers may serve some.
        for _ in range(9):
            with server.client() as client:
                assert client.get("/health", timeout=5).status_code == 200
        with server.client() as client:
            exposition = client.get("/metrics", timeout=5).text
        assert requests_total(exposition, "/health") == 10, exposition

        for path in ("/health", "/docs", "/docs-assets/swagger-ui-bundle.js"):
            check_head_then_get(socket, path)
    assert server.process.returncode == 0, log.read_text()
    assert TOKEN not in log.read_text(), log.read_text()
    assert PASSWORD not in log.read_text(), log.read_text()


def test_two_servers_share_one_postgresql_database(tmp_path: Path, database_url: str) -> None:
    """Two application servers, as a multi-server deployment runs them, one database."""
    with (
        running_gunicorn(tmp_path / "server-1", database_url) as first,
        running_gunicorn(tmp_path / "server-2", database_url) as second,
    ):
        for server in (first, second):
            assert server.wait_until_healthy().status_code == 200, server.log.read_text()
        headers = {"Authorization": f"Bearer {TOKEN}"}
        with first.client() as client:
            created = client.post("/api/notes", json={"title": "shared"}, headers=headers)
        assert created.status_code == 201, first.log.read_text()
        with second.client() as client:
            read = client.get(created.headers["location"])
            client.delete(created.headers["location"], headers=headers)
        assert read.json() == created.json()
        with first.client() as client:
            assert client.get(created.headers["location"]).status_code == 404
    for server in (first, second):
        assert server.process.returncode == 0, server.log.read_text()
        assert PASSWORD not in server.log.read_text()


def test_gunicorn_streams_events_as_they_are_made(tmp_path: Path, database_path: Path) -> None:
    with running_gunicorn(tmp_path, database_path) as server:
        server.wait_until_healthy()
        arrivals: list[float] = []
        events: list[dict] = []
        with (
            server.client() as client,
            client.stream("GET", "/api/events?count=4&interval=0.4", timeout=5) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["transfer-encoding"] == "chunked"
            assert "x-accel-buffering" not in response.headers
            for line in response.iter_lines():
                if line.startswith("data: "):
                    arrivals.append(time.monotonic())
                    events.append(json.loads(line.removeprefix("data: ")))

        assert [(event["n"], event["release"]) for event in events] == [
            (n, E2E_RELEASE) for n in (1, 2, 3, 4)
        ]
        # Each event reached the client when it was made, not all at the end: three
        # intervals of 0.4 s from the first to the last.
        assert arrivals[-1] - arrivals[0] >= 0.8, arrivals
        gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
        assert min(gaps) >= 0.1, gaps

        # HEAD gets the headers at once and leaves the connection free for the next
        # request, instead of holding it for the 100 events of 5 s it asks for.
        started = time.monotonic()
        answers = exchange(
            server.socket,
            b"HEAD /api/events?count=6&interval=5 HTTP/1.1\r\nHost: app\r\n\r\n"
            b"GET /health HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n",
        )
        assert time.monotonic() - started < 2
        head, rest = answers.split(b"\r\n\r\n", 1)
        assert head.startswith(b"HTTP/1.1 200 "), answers
        assert b"\r\ncontent-type: text/event-stream" in head.lower(), answers
        assert b"\r\ntransfer-encoding:" not in head.lower(), answers
        assert rest.startswith(b"HTTP/1.1 200 "), answers
    assert server.process.returncode == 0, server.log.read_text()


def test_gunicorn_closes_websockets_with_1012_when_stopped(
    tmp_path: Path, database_path: Path
) -> None:
    with running_gunicorn(tmp_path, database_path) as server:
        server.wait_until_healthy()
        uri = "ws://app/ws/notes"
        with unix_connect(str(server.socket), uri, open_timeout=5) as websocket:
            assert json.loads(websocket.recv(timeout=5)) == {
                "type": "hello",
                "release": E2E_RELEASE,
            }
            websocket.send("over a real server")
            assert json.loads(websocket.recv(timeout=5)) == {
                "type": "echo",
                "text": "over a real server",
            }
        # The client closed: the server answered the closing handshake.
        assert websocket.close_code == 1000

        with unix_connect(str(server.socket), uri, open_timeout=5) as websocket:
            websocket.recv(timeout=5)
            stopping = time.monotonic()
            server.process.send_signal(signal.SIGTERM)
            with pytest.raises(ConnectionClosed) as closed:
                websocket.recv(timeout=2 * GRACEFUL_TIMEOUT)
            closed_after = time.monotonic() - stopping
        # A close frame with 1012 (service restart), at once, not at the graceful timeout.
        assert closed.value.rcvd is not None, closed.value
        assert closed.value.rcvd.code == SERVICE_RESTART, closed.value
        assert closed_after < 2, closed_after
        assert server.stop() == 0, server.log.read_text()
        assert time.monotonic() - stopping < GRACEFUL_TIMEOUT / 2
    assert "Traceback" not in server.log.read_text(), server.log.read_text()


@pytest.mark.parametrize(
    ("server", "token", "message"),
    [
        ("gunicorn", None, "APP_API_TOKEN is required but not set."),
        ("uvicorn", None, "APP_API_TOKEN is required but not set."),
        ("gunicorn", "short-secret", "APP_API_TOKEN is invalid (must be at least 16 characters"),
    ],
    ids=["gunicorn-missing", "uvicorn-missing", "gunicorn-too-short"],
)
def test_server_refuses_to_start_without_a_valid_token(
    tmp_path: Path, server: str, token: str | None, message: str
) -> None:
    socket = tmp_path / "app.sock"
    if server == "gunicorn":
        command = [*GUNICORN, "--bind", f"unix:{socket}", "webapp.main:app"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--uds", str(socket), "webapp.main:app"]
    env = child_environment(tmp_path) | {"APP_DATABASE_PATH": str(tmp_path / "app.db")}
    if token is not None:
        env["APP_API_TOKEN"] = token

    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )

    # Gunicorn's master usually exits with 3 (a worker failed to boot), but 27.0.1 exits
    # with 1 when a second worker's failure is reaped while it halts.
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert f"Invalid configuration: {message}" in output
    if token is not None:
        assert token not in output


def test_server_refuses_an_invalid_database_url_without_echoing_it(tmp_path: Path) -> None:
    env = child_environment(tmp_path) | {
        "APP_API_TOKEN": TOKEN,
        "APP_DATABASE_URL": "mysql://webapp:hunter2-secret@db.invalid/app",
    }
    result = subprocess.run(
        [*GUNICORN, "--bind", f"unix:{tmp_path / 'app.sock'}", "webapp.main:app"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Invalid configuration: APP_DATABASE_URL is invalid (must start with postgresql://" in (
        output
    )
    assert "hunter2-secret" not in output
