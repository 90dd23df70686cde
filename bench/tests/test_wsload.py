"""bench/remote/wsload.py against real WebSocket servers on loopback (the websockets library's).

Each test runs the script as the bench runs it on the sandbox (a subprocess, its JSON
summary on stdout) against a server that behaves as a deploy, a crash or a refusal does.
"""

from __future__ import annotations

import json
import re
import socket
import socketserver
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from websockets.sync.server import ServerConnection, serve

SCRIPT = Path(__file__).resolve().parents[1] / "remote" / "wsload.py"
sys.path.insert(0, str(SCRIPT.parent))
import wsload  # noqa: E402


def run_wsload(port: int, *options: str) -> dict:
    cmd = [sys.executable, str(SCRIPT), "--connect", f"127.0.0.1:{port}", "--timeout", "5", *options]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=True)
    return json.loads(done.stdout)


@contextmanager
def websocket_server(handler: Callable[[ServerConnection], None]) -> Iterator[int]:
    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield server.socket.getsockname()[1]
        finally:
            server.shutdown()


class Deploys:
    """A server that greets with its release and echoes; every `every` messages it 'deploys':
    the next release takes over and the connection that saw it closes with `code`."""

    def __init__(self, every: int, code: int = 1012) -> None:
        self.every, self.code = every, code
        self.lock = threading.Lock()
        self.count = 0
        self.release = 1

    def __call__(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "release": f"r{self.release}"}))
        for message in ws:
            with self.lock:
                self.count += 1
                deploy = self.every and self.count % self.every == 0
                if deploy:
                    self.release += 1
            if deploy:
                ws.close(self.code, "deploy")
                return
            ws.send(json.dumps({"type": "echo", "text": message}))


def test_every_message_is_echoed_and_the_release_recorded():
    with websocket_server(Deploys(every=0)) as port:
        summary = run_wsload(port, "--hello", "--clients", "4", "--processes", "2", "--messages", "200")
    assert summary["failed"] == 0, summary
    assert summary["messages"] >= 200
    assert summary["handshakes"] == 4
    assert summary["releases"] == ["r1"]
    assert summary["reconnects"] == 0
    assert summary["p99_ms"] >= summary["p50_ms"] > 0


def test_a_fixed_rate_sends_on_schedule():
    # 4 clients at 50 messages a second for 2 s: about 400 messages, not as many as the server takes.
    with websocket_server(Deploys(every=0)) as port:
        summary = run_wsload(port, "--hello", "--clients", "4", "--rate", "50", "--duration", "2")
    assert summary["failed"] == 0, summary
    assert 320 <= summary["messages"] <= 410
    assert summary["p99_ms"] >= summary["p50_ms"] > 0


class Stalls(Deploys):
    """Echoes, but holds every 20th echo back for 0.3 s."""

    def __call__(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "release": "r1"}))
        for number, message in enumerate(ws, 1):
            if number % 20 == 0:
                time.sleep(0.3)
            ws.send(json.dumps({"type": "echo", "text": message}))


def test_a_fixed_rate_counts_the_messages_a_stall_delayed():
    # One client at 100 a second: each stall of 0.3 s holds back the messages due meanwhile
    # (about 30), and each of them counts its wait from when it was due, not from when it was sent.
    with websocket_server(Stalls(every=0)) as port:
        summary = run_wsload(port, "--hello", "--clients", "1", "--rate", "100", "--duration", "2")
    assert summary["failed"] == 0, summary
    assert summary["p50_ms"] > 50  # with a closed loop, 19 of 20 round trips would be well under 10 ms


def test_a_service_restart_close_is_clean_the_client_reconnects_and_resends():
    with websocket_server(Deploys(every=20)) as port:
        summary = run_wsload(port, "--hello", "--clients", "2", "--messages", "150")
    assert summary["failed"] == 0, summary
    assert summary["messages"] >= 150
    # The server takes at least 150 answered messages plus one unanswered per close, so it
    # closes at 20, 40, ..., 140 at least. A close that comes once the budget is spent needs
    # no reconnect: each of the two clients can end on one.
    closes = summary["closes"]["1012"]
    assert closes >= 7, summary
    assert closes - 2 <= summary["reconnects"] <= closes, summary
    # The message the server closed on is sent again on the new connection; a client that
    # reconnects only to find the budget spent (the other one answered the last) has none to send.
    assert summary["reconnects"] - 2 <= summary["resent"] <= summary["reconnects"]
    # In the order they first greeted. Two deploys can come before a client is back, so a release
    # can be skipped. And a greeting is recorded by the client that read it: when one client reads
    # its greeting late, the other can have been closed, reconnected and greeted by the next release
    # meanwhile (CI saw r4 before r3). So two neighbours can swap; nothing moves further than that.
    numbers = [int(release[1:]) for release in summary["releases"]]
    assert numbers[0] == 1 and len(numbers) >= 3 and len(set(numbers)) == len(numbers), numbers
    assert all(a < c for a, c in zip(numbers, numbers[2:], strict=False)), numbers
    assert summary["reconnect_max_ms"] > 0


def test_another_close_code_is_a_failure():
    with websocket_server(Deploys(every=10, code=1011)) as port:
        summary = run_wsload(port, "--clients", "1", "--messages", "30", "--retry", "0")
    assert summary["failed"] >= 2
    assert summary["errors"]["closed with 1011"] == summary["failed"]


def test_a_code_can_be_made_clean():
    with websocket_server(Deploys(every=10, code=1011)) as port:
        summary = run_wsload(port, "--clients", "1", "--messages", "30", "--reconnect-on", "1011")
    assert summary["failed"] == 0 and summary["closes"]["1011"] >= 2


class Raw(socketserver.BaseRequestHandler):
    """A TCP server that reads the request and then does what `answer` says."""

    answer: Callable[[socket.socket, bytes], None]

    def handle(self) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += self.request.recv(4096)
        type(self).answer(self.request, request)


@contextmanager
def raw_server(answer: Callable[[socket.socket, bytes], None]) -> Iterator[int]:
    handler = type("Handler", (Raw,), {"answer": staticmethod(answer)})
    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), handler) as server:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield server.server_address[1]
        finally:
            server.shutdown()


def switching(request: bytes, accept: str | None = None) -> bytes:
    key = re.search(rb"Sec-WebSocket-Key: (\S+)", request).group(1).decode()
    accept = accept or wsload.accept_key(key)
    return (
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n"
    ).encode()


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (lambda s, r: s.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n"), "handshake: HTTP/1.1 502"),
        (lambda s, r: s.sendall(switching(r, accept="wrong")), "handshake: 101 with a wrong Sec-WebSocket-Accept"),
        (lambda s, r: s.sendall(switching(r)), "dropped without a close frame"),
    ],
    ids=["refused", "wrong-accept", "dropped"],
)
def test_what_a_broken_server_does_is_counted(answer, error):
    with raw_server(answer) as port:
        summary = run_wsload(port, "--clients", "1", "--duration", "1", "--retry", "0.1")
    assert summary["messages"] == 0
    assert summary["failed"] >= 2
    assert any(name.startswith(error) for name in summary["errors"]), summary["errors"]


def test_an_echo_that_does_not_come_is_a_timeout():
    def silent(sock: socket.socket, request: bytes) -> None:
        sock.sendall(switching(request))
        sock.recv(4096)  # the message, never answered
        threading.Event().wait(5)

    with raw_server(silent) as port:
        cmd = [sys.executable, str(SCRIPT), "--connect", f"127.0.0.1:{port}", "--timeout", "0.5", "--duration", "1"]
        summary = json.loads(subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=True).stdout)
    assert summary["messages"] == 0
    assert any("timed out" in name for name in summary["errors"]), summary["errors"]


@pytest.mark.parametrize("length", [0, 125, 126, 65535, 65536])
def test_a_frame_is_masked_and_its_length_encoded(length):
    payload = bytes(range(256)) * (length // 256) + bytes(length % 256)
    data = wsload.frame(wsload.TEXT, payload, mask=b"\x01\x02\x03\x04")
    assert data[0] == 0x80 | wsload.TEXT
    size = data[1] & 0x7F
    offset = 2
    if size == 126:
        (size,), offset = struct.unpack("!H", data[2:4]), 4
    elif size == 127:
        (size,), offset = struct.unpack("!Q", data[2:10]), 10
    assert data[1] & 0x80 and size == length
    mask, body = data[offset : offset + 4], data[offset + 4 :]
    assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload
