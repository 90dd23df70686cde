#!/usr/bin/env python3
"""A bounded WebSocket echo load that counts every failure and every reconnect.

Runs with the system python3 alone (the bench copies it onto the sandbox). Each client
opens a WebSocket (RFC 6455) to --path over a unix socket, TCP or TLS; with --hello it
first reads the server's greeting (a JSON "release" in it is recorded, so a deploy shows
which release answered). Then it sends text messages, each unique, and waits for each
one's echo (a text message that contains it), until --duration seconds pass,
--messages are answered, or --stop-file appears.

A close from the server with a code in --reconnect-on (default 1001 going away and 1012
service restart: what a server that stops for a deploy sends) is a clean close: the
client reconnects at once and sends the unanswered message again. Anything else is a
failure: a handshake that does not answer 101 with the right Sec-WebSocket-Accept, a
connection error, a connection dropped without a close frame, another close code, an
echo that does not come within --timeout. Several processes (--processes), each with
its threads, so that the client is not the limit. Prints one JSON summary.

With --rate, each client sends its messages on a fixed schedule (--rate a second, from
when its connection is open, the clients' schedules offset at random) instead of as soon
as the last echo came, and a round trip counts from when the message was due: a late
echo delays the next message, and that delay is counted too, so a stall is not hidden
by sending less during it.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import multiprocessing
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
from collections import Counter

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
TEXT, BINARY, CLOSE, PING, PONG, CONTINUATION = 0x1, 0x2, 0x8, 0x9, 0xA, 0x0
NORMAL_CLOSURE = 1000


class HandshakeError(Exception):
    """The server did not switch protocols: the answer's status line, or what was wrong."""


class Dropped(Exception):
    """The connection ended without a close frame."""


class Closed(Exception):  # noqa: N818 - an event, not an error: the server closed
    def __init__(self, code: int) -> None:
        super().__init__(f"closed with {code}")
        self.code = code


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def frame(opcode: int, payload: bytes, mask: bytes | None = None) -> bytes:
    """One final frame; a client's frames are masked (RFC 6455, section 5.3)."""
    mask = os.urandom(4) if mask is None else mask
    length = len(payload)
    if length < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + masked


class WebSocket:
    """A client connection: the handshake, masked frames out, whole messages in."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.sock.settimeout(timeout)
        self.buffer = bytearray()

    @classmethod
    def open(cls, args: argparse.Namespace) -> WebSocket:
        if args.unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            sock.settimeout(args.timeout)
            sock.connect(args.unix)
        else:
            host, _, port = args.connect.rpartition(":")
            sock = socket.create_connection((host, int(port)), timeout=args.timeout)
            if args.tls:
                sock = tls_context(args.cafile).wrap_socket(sock, server_hostname=args.host)
        ws = cls(sock, args.timeout)
        try:
            ws.handshake(args.host, args.path)
        except BaseException:
            sock.close()
            raise
        return ws

    def handshake(self, host: str, path: str) -> None:
        key = base64.b64encode(os.urandom(16)).decode()
        request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        self.sock.sendall(request.encode())
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, _, rest = bytes(self.buffer).partition(b"\r\n\r\n")
        self.buffer = bytearray(rest)  # the server's first frame may come in the same read
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        if len(status) < 2 or status[1] != "101":
            raise HandshakeError(lines[0] or "no status line")
        fields = (line.partition(":") for line in lines[1:])
        headers = {name.strip().lower(): value.strip() for name, _, value in fields}
        if headers.get("sec-websocket-accept") != accept_key(key):
            raise HandshakeError("101 with a wrong Sec-WebSocket-Accept")

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise Dropped("the connection ended without a close frame")
        self.buffer += chunk

    def _take(self, count: int) -> bytes:
        while len(self.buffer) < count:
            self._fill()
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def send_text(self, text: str) -> None:
        self.sock.sendall(frame(TEXT, text.encode()))

    def receive(self) -> str | bytes:
        """The next whole message; answers pings; raises Closed on a close frame (after answering it)."""
        parts: list[bytes] = []
        opcode = None
        while True:
            first, second = self._take(2)
            fin, code, length = first & 0x80, first & 0x0F, second & 0x7F
            if length == 126:
                (length,) = struct.unpack("!H", self._take(2))
            elif length == 127:
                (length,) = struct.unpack("!Q", self._take(8))
            mask = self._take(4) if second & 0x80 else None
            payload = self._take(length)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if code == CLOSE:
                status = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                with_code = payload[:2] if len(payload) >= 2 else b""
                with contextlib.suppress(OSError):  # the server may be gone already: its close frame came
                    self.sock.sendall(frame(CLOSE, with_code))
                raise Closed(status)
            if code == PING:
                self.sock.sendall(frame(PONG, payload))
                continue
            if code == PONG:
                continue
            if code != CONTINUATION:
                opcode = code
            parts.append(payload)
            if fin:
                data = b"".join(parts)
                return data.decode() if opcode == TEXT else data

    def close(self) -> None:
        """Close from our side: a close frame, the server's answer if it comes soon, then the socket."""
        try:
            self.sock.sendall(frame(CLOSE, struct.pack("!H", NORMAL_CLOSURE)))
            self.sock.settimeout(2)
            while True:
                self.receive()
        except (Closed, Dropped, OSError):
            pass
        finally:
            self.sock.close()


_contexts: dict[str | None, ssl.SSLContext] = {}


def tls_context(cafile: str | None) -> ssl.SSLContext:
    """One context per process (it cannot be pickled to a child), shared by its threads."""
    if cafile not in _contexts:
        _contexts[cafile] = ssl.create_default_context(cafile=cafile)
    return _contexts[cafile]


def text_of(message: str | bytes) -> str:
    return message if isinstance(message, str) else message.decode(errors="replace")


def release_of(message: str | bytes) -> str | None:
    try:
        data = json.loads(message)
    except ValueError:
        return None
    return data.get("release") if isinstance(data, dict) and isinstance(data.get("release"), str) else None


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.answered = 0
        self.handshakes = 0
        self.reconnects = 0
        self.resent = 0
        self.closes: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.failures: list[tuple[str, str]] = []
        self.releases: dict[str, float] = {}  # release -> when it first answered (wall clock)
        self.latencies: list[float] = []
        self.gaps: list[float] = []  # seconds from a clean close to the next open connection

    def fail(self, what: str) -> None:
        with self.lock:
            self.errors[what] += 1
            if len(self.failures) < 100:
                now = time.time()
                stamp = time.strftime("%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}"
                self.failures.append((stamp, what))

    def as_dict(self) -> dict:
        return {k: v for k, v in vars(self).items() if k != "lock"}


def stopped(args: argparse.Namespace, stats: Stats, deadline: float) -> bool:
    if time.monotonic() >= deadline or (args.stop_file and os.path.exists(args.stop_file)):
        return True
    with stats.lock:
        return stats.answered >= args.budget


def client(args: argparse.Namespace, stats: Stats, deadline: float, name: str) -> None:
    """One client: connect, greet, echo; reconnect after a clean close, and after a failure once --retry passes."""
    sequence = 0
    pending: str | None = None  # sent, echo not yet seen: sent again on the next connection
    closed_at: float | None = None
    period = 1 / args.rate if args.rate else 0.0
    while not stopped(args, stats, deadline):
        try:
            ws = WebSocket.open(args)
        except HandshakeError as error:
            stats.fail(f"handshake: {error}")
            time.sleep(args.retry)
            continue
        except OSError as error:
            stats.fail(f"connect: {type(error).__name__}")
            time.sleep(args.retry)
            continue
        with stats.lock:
            stats.handshakes += 1
            if closed_at is not None:
                stats.reconnects += 1
                stats.gaps.append(time.monotonic() - closed_at)
        closed_at = None
        try:
            if args.hello:
                release = release_of(ws.receive())
                if release:
                    with stats.lock:
                        stats.releases.setdefault(release, time.time())
            # With --rate, the schedule starts on each connection once it is open (a TLS handshake
            # is not a message's round trip), at a random point of the period.
            due = time.monotonic() + random.uniform(0, period)
            while not stopped(args, stats, deadline):
                if pending is None:
                    sequence += 1
                    pending = f"{name}-{sequence}"
                else:
                    with stats.lock:
                        stats.resent += 1
                if period:
                    time.sleep(max(0.0, due - time.monotonic()))
                    started, due = due, due + period
                else:
                    started = time.monotonic()
                ws.send_text(pending)
                while pending not in (reply := text_of(ws.receive())):
                    if time.monotonic() - started > args.timeout:
                        raise TimeoutError(f"no echo of {pending!r}; last message {reply!r:.80}")
                with stats.lock:
                    stats.answered += 1
                    stats.latencies.append(time.monotonic() - started)
                pending = None
                if args.interval:
                    time.sleep(args.interval)
            ws.close()
            return
        except Closed as closed:
            with stats.lock:
                stats.closes[str(closed.code)] += 1
            if closed.code not in args.reconnect_on:
                stats.fail(f"closed with {closed.code}")
                time.sleep(args.retry)
            closed_at = time.monotonic()
        except Dropped:
            stats.fail("dropped without a close frame")
            time.sleep(args.retry)
        except (OSError, TimeoutError) as error:
            stats.fail(f"{type(error).__name__}: {error}"[:120])
            time.sleep(args.retry)
        finally:
            ws.sock.close()


def run_process(args: argparse.Namespace, index: int, deadline_in: float, queue: multiprocessing.Queue) -> None:
    stats = Stats()
    deadline = time.monotonic() + deadline_in
    threads = [
        threading.Thread(target=client, args=(args, stats, deadline, f"{args.tag}-{index}-{number}"))
        for number in range(args.clients_per_process)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put(stats.as_dict())


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def merge(parts: list[dict], seconds: float) -> dict:
    """One summary of every process's counts."""
    total = {"closes": Counter(), "errors": Counter(), "failures": [], "latencies": [], "gaps": []}
    counts = Counter()
    first_seen: dict[str, float] = {}
    for part in parts:
        for key in ("answered", "handshakes", "reconnects", "resent"):
            counts[key] += part[key]
        for key in ("closes", "errors"):
            total[key].update(part[key])
        for key in ("failures", "latencies", "gaps"):
            total[key] += part[key]
        for release, when in part["releases"].items():
            first_seen[release] = min(when, first_seen.get(release, math.inf))
    failed = sum(total["errors"].values())
    return {
        "messages": counts["answered"],
        "failed": failed,
        "handshakes": counts["handshakes"],
        "reconnects": counts["reconnects"],
        "resent": counts["resent"],
        "closes": dict(total["closes"]),
        "errors": dict(total["errors"]),
        "failures": sorted(total["failures"])[:100],
        "releases": sorted(first_seen, key=first_seen.__getitem__),
        "seconds": round(seconds, 3),
        "mps": round(counts["answered"] / seconds, 1) if seconds else 0.0,
        "p50_ms": round(percentile(total["latencies"], 0.50) * 1000, 2),
        "p99_ms": round(percentile(total["latencies"], 0.99) * 1000, 2),
        "reconnect_max_ms": round(max(total["gaps"], default=0.0) * 1000, 1),
    }


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--unix", help="unix socket path")
    target.add_argument("--connect", help="host:port to connect to")
    parser.add_argument("--host", default="localhost", help="Host header (and TLS server name)")
    parser.add_argument("--tls", action="store_true", help="TLS to --connect, checking the certificate for --host")
    parser.add_argument("--cafile", help="CA certificates to check the server's against (default: the system's)")
    parser.add_argument("--path", default="/ws/notes")
    parser.add_argument("--hello", action="store_true", help="read the server's first message before sending")
    parser.add_argument("--clients", type=int, default=4, help="connections open at once")
    parser.add_argument("--processes", type=int, default=1, help="processes sharing the clients")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at most")
    parser.add_argument("--messages", type=int, default=1_000_000, help="answered messages at most")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between a client's messages")
    parser.add_argument("--rate", type=float, default=0.0, help="messages a second per client, on a fixed schedule")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds for a connection, a handshake, an echo")
    parser.add_argument("--retry", type=float, default=0.2, help="pause before reconnecting after a failure")
    parser.add_argument(
        "--reconnect-on", default="1001,1012", help="close codes that are clean: reconnect without a failure"
    )
    parser.add_argument("--tag", default="m", help="prefix of the messages")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    args = parser.parse_args(argv)
    if args.tls and not args.connect:
        parser.error("--tls needs --connect")
    if args.processes < 1 or args.clients < args.processes:
        parser.error("--clients must be at least --processes, which must be at least 1")
    args.reconnect_on = {int(code) for code in args.reconnect_on.split(",") if code}
    args.clients_per_process = args.clients // args.processes
    args.budget = math.ceil(args.messages / args.processes)
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    started = time.monotonic()
    if args.processes == 1:
        queue: multiprocessing.Queue = multiprocessing.Queue()
        run_process(args, 0, args.duration, queue)
        parts = [queue.get()]
    else:
        queue = multiprocessing.Queue()
        processes = [
            multiprocessing.Process(target=run_process, args=(args, index, args.duration, queue))
            for index in range(args.processes)
        ]
        for process in processes:
            process.start()
        parts = [queue.get() for _ in processes]  # before join: a full pipe would block the child
        for process in processes:
            process.join()
    json.dump(merge(parts, time.monotonic() - started), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
