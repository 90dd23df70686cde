#!/usr/bin/env python3
"""The cost of a new connection per request: plain TCP, or TLS 1.3 with a full
handshake every time, or TLS 1.3 resuming the previous session.

Runs on the sandbox with the system python3 alone (copied there by the bench).
Several processes (not threads: the handshakes are CPU work) each open a new
connection for every request, send one `GET` with `Connection: close` and read the
answer to the end, until --seconds pass or --requests are sent. Prints one JSON
summary: requests, failures by kind, requests/s, latency percentiles, and how
many handshakes the server actually resumed (a client can only offer a session).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import socket
import ssl
import sys
import time
from collections import Counter


def one_request(args: argparse.Namespace, context: ssl.SSLContext | None, session: ssl.SSLSession | None):
    """Returns (status or error name, resumed, session to offer next time)."""
    raw = socket.create_connection((args.connect_host, args.port), timeout=args.timeout)
    try:
        conn: socket.socket = raw
        if context is not None:
            conn = context.wrap_socket(raw, server_hostname=args.server_name, session=session)
        request = f"GET {args.path} HTTP/1.1\r\nHost: {args.server_name}\r\nConnection: close\r\n\r\n"
        conn.sendall(request.encode())
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
        head = b"".join(chunks).split(b"\r\n", 1)[0].split()
        status = head[1].decode() if len(head) > 1 else "BadStatusLine"
        if isinstance(conn, ssl.SSLSocket):
            # TLS 1.3 tickets arrive after the handshake: the session is resumable only now.
            return status, conn.session_reused, conn.session
        return status, False, None
    finally:
        raw.close()


def worker(args: argparse.Namespace, deadline: float, budget: int, queue: multiprocessing.Queue) -> None:
    context = None
    if args.mode != "tcp":
        context = ssl.create_default_context(cafile=args.cafile)
        context.minimum_version = context.maximum_version = ssl.TLSVersion.TLSv1_3
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    resumed = 0
    session = None
    sent = 0
    while sent < budget and time.monotonic() < deadline:
        sent += 1
        started = time.monotonic()
        try:
            status, reused, new_session = one_request(args, context, session)
            resumed += reused
            if args.mode == "tls-resume":
                session = new_session
        except (OSError, ssl.SSLError) as error:
            status = type(error).__name__
        latencies.append(time.monotonic() - started)
        statuses[status] += 1
    queue.put((dict(statuses), latencies, resumed))


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["tcp", "tls", "tls-resume"], required=True)
    parser.add_argument("--connect-host", default="127.0.0.1", help="address to connect to")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--server-name", default="localhost", help="SNI and Host header")
    parser.add_argument("--path", default="/health")
    parser.add_argument("--cafile", help="CA bundle (default: the system's)")
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=50_000, help="requests at most, over all processes")
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)

    queue: multiprocessing.Queue = multiprocessing.Queue()
    started = time.monotonic()
    deadline = started + args.seconds
    budget = max(1, args.requests // args.processes)
    processes = [
        multiprocessing.Process(target=worker, args=(args, deadline, budget, queue)) for _ in range(args.processes)
    ]
    for process in processes:
        process.start()
    results = [queue.get(timeout=args.seconds + 4 * args.timeout) for _ in processes]
    for process in processes:
        process.join()
    elapsed = time.monotonic() - started
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    resumed = 0
    for counts, values, reused in results:
        statuses.update(counts)
        latencies += values
        resumed += reused
    total = sum(statuses.values())
    ok = sum(n for status, n in statuses.items() if status.startswith("2"))
    json.dump(
        {
            "mode": args.mode,
            "requests": total,
            "ok": ok,
            "failed": total - ok,
            "statuses": dict(statuses),
            "resumed": resumed,
            "seconds": round(elapsed, 3),
            "rps": round(total / elapsed, 1) if elapsed else 0.0,
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        },
        sys.stdout,
    )
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
