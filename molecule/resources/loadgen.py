#!/usr/bin/env python3
"""A bounded HTTP load generator that counts every failure.

Runs with nothing but the standard library, so the tests can copy it onto a
server and run it there with the system python3. It sends GET requests over a
unix socket or TCP, each on a new connection by default, from
several threads, until --duration seconds pass, --requests are sent, or the
--stop-file appears. Every non-2xx answer and every connection error counts as a
failure. Prints one JSON summary: counts by status and error, the release ids
seen (from a JSON body's "release") in the order they first appeared, and
latency percentiles.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import ssl
import sys
import threading
import time
from collections import Counter


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class TLSConnection(http.client.HTTPSConnection):
    """HTTPS to an address, with the certificate checked for another name (SNI and Host)."""

    def __init__(self, address: str, server_name: str, context: ssl.SSLContext, timeout: float) -> None:
        super().__init__(address, timeout=timeout, context=context)
        self.server_name = server_name

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.server_name)


def connection(args: argparse.Namespace) -> http.client.HTTPConnection:
    if args.unix:
        return UnixHTTPConnection(args.unix, args.timeout)
    if args.tls:
        return TLSConnection(args.connect, args.host, args.tls_context, args.timeout)
    return http.client.HTTPConnection(args.connect, timeout=args.timeout)


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.releases: list[str] = []
        self.latencies: list[float] = []
        self.failures: list[tuple[str, str]] = []
        self.sent = 0

    def record(self, outcome: str, latency: float, release: str | None, ok: bool) -> None:
        with self.lock:
            (self.statuses if ok or outcome.isdigit() else self.errors)[outcome] += 1
            self.latencies.append(latency)
            if not ok and len(self.failures) < 100:
                # When the request started (UTC), to line failures up with a deploy's log.
                started = time.time() - latency
                stamp = time.strftime("%H:%M:%S", time.gmtime(started)) + f".{int(started % 1 * 1000):03d}"
                self.failures.append((stamp, outcome))
            if release and release not in self.releases:
                self.releases.append(release)


def worker(args: argparse.Namespace, stats: Stats, deadline: float) -> None:
    conn = None
    while time.monotonic() < deadline and not (args.stop_file and os.path.exists(args.stop_file)):
        with stats.lock:
            if stats.sent >= args.requests:
                return
            stats.sent += 1
        start = time.monotonic()
        try:
            if conn is None or not args.keepalive:
                conn = connection(args)
            conn.request("GET", args.path, headers={"Host": args.host})
            response = conn.getresponse()
            body = response.read()
            release = None
            if response.getheader("Content-Type", "").startswith("application/json"):
                try:
                    release = json.loads(body).get("release")
                except (ValueError, AttributeError):
                    release = None
            stats.record(str(response.status), time.monotonic() - start, release, 200 <= response.status < 300)
            if not args.keepalive or response.will_close:
                conn.close()
                conn = None
        except (OSError, http.client.HTTPException) as error:
            stats.record(type(error).__name__, time.monotonic() - start, None, False)
            if conn is not None:
                conn.close()
            conn = None
        if args.interval:
            time.sleep(args.interval)


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = parser.add_mutually_exclusive_group(required=True)
    target.add_argument("--unix", help="unix socket path")
    target.add_argument("--connect", help="host:port to connect to")
    parser.add_argument("--host", default="localhost", help="Host header (and TLS server name)")
    parser.add_argument("--tls", action="store_true", help="HTTPS to --connect, checking the certificate for --host")
    parser.add_argument("--cafile", help="CA certificates to check the server's against (default: the system's)")
    parser.add_argument("--path", default="/health")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--duration", type=float, default=30.0, help="seconds at most")
    parser.add_argument("--requests", type=int, default=100_000, help="requests at most")
    parser.add_argument("--interval", type=float, default=0.0, help="pause between a thread's requests")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    parser.add_argument("--keepalive", action="store_true", help="reuse connections")
    parser.add_argument("--stop-file", help="stop as soon as this file exists")
    args = parser.parse_args(argv)
    if args.tls and not args.connect:
        parser.error("--tls needs --connect")
    args.tls_context = ssl.create_default_context(cafile=args.cafile) if args.tls else None

    stats = Stats()
    started = time.monotonic()
    deadline = started + args.duration
    threads = [threading.Thread(target=worker, args=(args, stats, deadline)) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    ok = sum(n for status, n in stats.statuses.items() if status.startswith("2"))
    total = sum(stats.statuses.values()) + sum(stats.errors.values())
    json.dump(
        {
            "requests": total,
            "ok": ok,
            "failed": total - ok,
            "statuses": dict(stats.statuses),
            "errors": dict(stats.errors),
            "releases": stats.releases,
            "failures": stats.failures,
            "seconds": round(elapsed, 3),
            "rps": round(total / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(percentile(stats.latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(stats.latencies, 0.99) * 1000, 2),
            "max_ms": round(max(stats.latencies, default=0.0) * 1000, 2),
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
