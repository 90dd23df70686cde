"""Debian's load generators (wrk, h2load) and the bench's own new-connection client,
run inside the sandbox, their output turned into one kind of result."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

from kitbench.sandbox import REMOTE_DIR, sandbox, sandbox_json

UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
# Appended to a load generator's command: bash's `times` prints the CPU its children used.
CHILD_CPU = "; times"
# h2load's timed runs: a warm-up second it does not count, and where the CPU snapshot at its end goes.
H2LOAD_WARM_UP_S = 1
CPU_START_FILE = "/tmp/kit-bench-cpu-start.json"


@dataclass
class Result:
    """One measurement: throughput, latency and every failure the tool saw."""

    tool: str
    url: str
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    seconds: float
    detail: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class ParseError(RuntimeError):
    """A load generator's output lacks a figure the bench needs: no figure is better than a 0."""


def _require(match: re.Match | None, what: str, output: str) -> re.Match:
    if match is None:
        raise ParseError(f"no {what} in the load generator's output:\n{output[-1500:]}")
    return match


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def split_child_cpu(output: str) -> tuple[str, float]:
    """The output without the two lines of `times`, and the children's user + system CPU seconds."""
    lines = output.rstrip("\n").split("\n")
    children = re.findall(r"(\d+)m([\d.]+)s", lines[-1])
    seconds = sum(int(minutes) * 60 + float(secs) for minutes, secs in children)
    return "\n".join(lines[:-2]) + "\n", round(seconds, 3)


def cpu_snapshot() -> dict[str, float]:
    """CPU seconds so far of the app (Gunicorn), the proxy (nginx) and the rest of the sandbox."""
    return sandbox_json(f"python3 {REMOTE_DIR}/cpu.py")


def parse_wrk(output: str, url: str) -> Result:
    """wrk 4.1 with --latency: Requests/sec, the latency distribution, and its error lines."""
    rps = float(_require(re.search(r"Requests/sec:\s+([\d.]+)", output), "Requests/sec", output).group(1))
    latency = {
        pct: _ms(value, unit)
        for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    }
    if "50" not in latency or "99" not in latency:
        raise ParseError(f"wrk: no 50% and 99% latency lines in its output:\n{output[-1500:]}")
    done = _require(re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output), "request count", output)
    requests, seconds = int(done.group(1)), _ms(done.group(2), done.group(3)) / 1000
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    error_counts = (
        dict(zip(["connect", "read", "write", "timeout"], map(int, errors.groups()), strict=True)) if errors else {}
    )
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + sum(error_counts.values())
    return Result(
        "wrk",
        url,
        round(rps, 1),
        round(latency["50"], 2),
        round(latency["99"], 2),
        requests,
        failed,
        round(seconds, 2),
        {"socket_errors": error_counts} if error_counts else {},
    )


def parse_h2load(output: str, url: str, latency: dict, *, timed: bool, in_flight: int) -> Result:
    """h2load's summary for counts and throughput; latency percentiles from its per-request log.

    A timed run (-D) ends by cancelling the streams in flight (nginx logs them as 499, client
    closed): up to `in_flight` (clients x streams) failed streams of a timed run are that,
    kept apart as cancelled_at_end. A counted run (-n) cancels nothing: its every failure counts.
    """
    finished = _require(re.search(r"finished in ([\d.]+)(us|ms|s|m), ([\d.]+) req/s", output), "throughput", output)
    counts = _require(
        re.search(
            r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
            r"(\d+) failed, (\d+) errored, (\d+) timeout",
            output,
        ),
        "request counts",
        output,
    )
    for key in ("p50_ms", "p99_ms"):
        if not latency.get(key):
            raise ParseError(f"h2load: no {key} in its log ({latency})")
    statuses = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", output)
    protocol = re.search(r"Application protocol: (\S+)", output)
    done, succeeded = int(counts.group(3)), int(counts.group(4))
    non_2xx = sum(int(n) for n in statuses.groups()[1:]) if statuses else 0
    # done = succeeded + failed (errored and timed-out streams are among the failed);
    # a succeeded stream may still carry a non-2xx status.
    stream_failures = max(done - succeeded, int(counts.group(5)))
    return Result(
        "h2load",
        url,
        round(float(finished.group(3)), 1),
        latency["p50_ms"],
        latency["p99_ms"],
        done,
        stream_failures + non_2xx,
        round(_ms(finished.group(1), finished.group(2)) / 1000, 2),
        {
            "protocol": protocol.group(1) if protocol else "?",
            "non_2xx": non_2xx,
            "stream_failures": stream_failures,
            "cancelled_at_end": min(stream_failures, in_flight) if timed else 0,
        },
    )


ALONGSIDE_LOG = "/tmp/kit-bench-alongside.log"


def wrk(
    url: str,
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
    headers: dict[str, str] | None = None,
    alongside: str | None = None,
    on: Callable[..., subprocess.CompletedProcess[str]] = sandbox,
) -> Result:
    """Keep-alive HTTP/1.1 (over TLS for an https URL) from wrk, run by `on` (inside the sandbox).

    headers are sent with every request. alongside is a URL that a second wrk loads for the
    same time with the same connections, unmeasured, to keep other processes busy meanwhile;
    its client CPU counts in client_cpu_s, and the run fails if it saw a failure.
    """
    sent = "".join(f" -H {shlex.quote(f'{name}: {value}')}" for name, value in (headers or {}).items())
    cmd = f"wrk -t{threads} -c{connections} -d{seconds:g}s --timeout 10s --latency{sent} {shlex.quote(url)}"
    if alongside:
        other = f"wrk -t{threads} -c{connections} -d{seconds:g}s --timeout 10s --latency {shlex.quote(alongside)}"
        cmd = f"{other} >{ALONGSIDE_LOG} 2>&1 & {cmd}; wait $!"
    out, client_cpu = split_child_cpu(on(cmd + CHILD_CPU, timeout=seconds + 60).stdout)
    result = parse_wrk(out, url)
    result.detail["client_cpu_s"] = client_cpu
    if alongside:
        other_output = on(f"cat {ALONGSIDE_LOG}").stdout
        other_result = parse_wrk(other_output, alongside)
        if other_result.failed:
            raise RuntimeError(f"the load alongside failed:\n{other_output}")
        result.detail["alongside_rps"] = other_result.rps
    return result


def h2load(
    url: str,
    *,
    clients: int,
    streams: int,
    seconds: float | None = None,
    requests: int | None = None,
    threads: int = 2,
    h1: bool = False,
) -> Result:
    """h2load: HTTP/2 (or HTTP/1.1 with h1), clients connections with streams requests in flight each.

    A timed run (seconds, after a warm-up second) or a counted one (requests, spread evenly
    over the clients, no warm-up). h2load does not reconnect when a server closes an HTTP/2
    connection with GOAWAY, as nginx does after keepalive_requests (1000 by default): a timed
    run would go on with fewer connections and measure that. Against nginx, time a run only
    with its keepalive_requests above what a connection will make (bench.h2_keepalive_requests).
    """
    if (seconds is None) == (requests is None):
        raise ValueError("h2load: give seconds or requests, not both")
    log_file = "/tmp/kit-bench-h2load.log"
    protocol = "--h1" if h1 else ""
    bound = f"-D{seconds:g} --warm-up-time={H2LOAD_WARM_UP_S}" if seconds is not None else f"-n{requests}"
    h2load_cmd = (
        f"h2load {protocol} -t{threads} -c{clients} -m{streams} {bound} --log-file={log_file} {shlex.quote(url)}"
    )
    if seconds is None:
        out, client_cpu = split_child_cpu(sandbox(f"rm -f {log_file}; {h2load_cmd}{CHILD_CPU}", timeout=120).stdout)
        start = None
    else:
        # h2load counts only the requests after its warm-up: so is the CPU, from a snapshot taken
        # when the warm-up ends (with h2load's own CPU so far).
        out_file = "/tmp/kit-bench-h2load.out"
        script = (
            f"rm -f {log_file} {CPU_START_FILE}; {h2load_cmd} > {out_file} 2>&1 & pid=$!; "
            f"sleep {H2LOAD_WARM_UP_S}; python3 {REMOTE_DIR}/cpu.py --client $pid > {CPU_START_FILE}; "
            f"wait $pid; cat {out_file}{CHILD_CPU}"
        )
        out, client_cpu = split_child_cpu(sandbox(script, timeout=seconds + 60).stdout)
        start = sandbox_json(f"cat {CPU_START_FILE}")
        client_cpu = round(client_cpu - start.pop("client") - start.pop("self"), 3)
    latency = sandbox_json(f"python3 {REMOTE_DIR}/latency.py {log_file}")
    result = parse_h2load(out, url, latency, timed=seconds is not None, in_flight=clients * streams)
    result.detail["client_cpu_s"] = client_cpu
    if start is not None:
        result.detail["cpu_start"] = start  # with_cpu counts from here, not from before the warm-up
    return result


def own_client(cmd: str, seconds: float) -> tuple[dict, float]:
    """Run one of the bench's own stdlib clients on the sandbox: its JSON summary, and its CPU seconds."""
    out, client_cpu = split_child_cpu(sandbox(cmd + CHILD_CPU, timeout=seconds + 90).stdout)
    return json.loads(out), client_cpu


def summary_result(tool: str, url: str, data: dict, *, rate: str, count: str, detail: dict) -> Result:
    """A Result from such a summary (its rate and count under the names that client uses)."""
    return Result(
        tool, url, data[rate], data["p50_ms"], data["p99_ms"], data[count], data["failed"], data["seconds"], detail
    )


def fresh_connections(
    mode: str, *, port: int, server_name: str, connect_host: str, path: str, processes: int, seconds: float
) -> Result:
    """A new connection (and handshake) per request, from the bench's handshake.py."""
    cmd = (
        f"python3 {REMOTE_DIR}/handshake.py --mode {mode} --port {port} --connect-host {shlex.quote(connect_host)} "
        f"--server-name {shlex.quote(server_name)} --path {shlex.quote(path)} "
        f"--processes {processes} --seconds {seconds:g}"
    )
    data, client_cpu = own_client(cmd, seconds)
    scheme = "http" if mode == "tcp" else "https"
    detail = {"mode": mode, "resumed": data["resumed"], "statuses": data["statuses"], "client_cpu_s": client_cpu}
    url = f"{scheme}://{server_name}:{port}{path}"
    return summary_result("handshake.py", url, data, rate="rps", count="requests", detail=detail)


def websocket_echo(
    *,
    connect: str,
    host: str,
    tls: bool,
    path: str,
    clients: int,
    processes: int,
    seconds: float,
    rate: float | None = None,
) -> Result:
    """WebSocket messages echoed on connections held open, from the bench's wsload.py: the
    figure is messages/s and the round trip of each (a message sent, its echo read). With rate,
    each connection sends that many a second on a schedule, each round trip counted from when
    its message was due."""
    cmd = (
        f"python3 {REMOTE_DIR}/wsload.py --connect {shlex.quote(connect)} --host {shlex.quote(host)} "
        f"{'--tls ' if tls else ''}--path {shlex.quote(path)} --hello --clients {clients} "
        f"--processes {processes} --duration {seconds:g} --reconnect-on ''" + (f" --rate {rate:g}" if rate else "")
    )
    data, client_cpu = own_client(cmd, seconds)
    detail = {key: data[key] for key in ("handshakes", "closes", "errors")} | {"client_cpu_s": client_cpu}
    url = f"{'wss' if tls else 'ws'}://{host}{path}"
    return summary_result("wsload.py", url, data, rate="mps", count="messages", detail=detail)
