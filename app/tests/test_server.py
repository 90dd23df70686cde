"""The app under real servers: Gunicorn with Uvicorn workers, as deployed, and Uvicorn."""

import shutil
import signal
import socket as sockets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TOKEN, child_environment

STARTUP_SECONDS = 20
GUNICORN = [sys.executable, "-m", "gunicorn", "-k", "uvicorn_worker.UvicornWorker", "-w", "2"]


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


def test_gunicorn_serves_the_app(tmp_path: Path, migrated_template: Path) -> None:
    database = tmp_path / "shared" / "app.db"
    database.parent.mkdir()
    shutil.copyfile(migrated_template, database)
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    socket = tmp_path / "app.sock"
    log = tmp_path / "gunicorn.log"
    env = child_environment(tmp_path) | {
        "APP_API_TOKEN": TOKEN,
        "APP_DATABASE_PATH": str(database),
        "APP_RELEASE": "e2e-release",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
    }
    command = [*GUNICORN, "--bind", f"unix:{socket}", "--graceful-timeout", "10"]

    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "webapp.main:app"], cwd=tmp_path, env=env, stdout=output, stderr=output
        )
    try:
        health = wait_until_healthy(process, socket, log)
        assert health.status_code == 200, log.read_text()
        assert health.json() == {"status": "ok", "release": "e2e-release", "database": "ok"}
        # Both workers booted in multiprocess mode: each writes its release gauge file.
        wait_for_files(metrics_dir, "gauge_max_*.db", 2, log)

        # A new connection for each request, so both workers may serve some.
        for _ in range(9):
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket))) as client:
                assert client.get("http://app/health", timeout=5).status_code == 200
        with httpx.Client(transport=httpx.HTTPTransport(uds=str(socket))) as client:
            exposition = client.get("http://app/metrics", timeout=5).text
        assert requests_total(exposition, "/health") == 10, exposition

        for path in ("/health", "/docs", "/docs-assets/swagger-ui-bundle.js"):
            check_head_then_get(socket, path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            returncode = process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise
    assert returncode == 0, log.read_text()
    assert TOKEN not in log.read_text(), log.read_text()


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
