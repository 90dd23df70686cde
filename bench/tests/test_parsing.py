"""The bench reads numbers out of wrk's and h2load's text: check it reads the right ones.

The samples are real outputs of Debian 12's wrk 4.1.0 and h2load 1.52.0 on the sandbox.
Run: .venv/bin/pytest -q bench/tests
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from kitbench.loadtools import ParseError, parse_h2load, parse_wrk, split_child_cpu

REMOTE = Path(__file__).resolve().parents[1] / "remote"

WRK = """Running 5s test @ http://127.0.0.1:8001/health
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    28.35ms   31.99ms 259.18ms   89.35%
    Req/Sec   359.41    236.40     1.02k    68.00%
  Latency Distribution
     50%  828.66us
     75%   41.48ms
     90%   62.18ms
     99%    1.59s
  3579 requests in 5.10s, 719.99KB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:    701.69
Transfer/sec:    141.16KB
"""

H2LOAD = """starting benchmark...
Application protocol: h2
progress: 100% of clients started

finished in 5.00s, 639.00 req/s, 128.55KB/s
requests: 3195 total, 3211 started, 3195 done, 3190 succeeded, 5 failed, 0 errored, 0 timeout
status codes: 3188 2xx, 0 3xx, 0 4xx, 2 5xx
traffic: 642.74KB (658170) total, 346.44KB (354756) headers (space savings 0.00%), 174.78KB (178976) data
                     min         max         mean         sd        +/- sd
time for request:     3.77ms    138.56ms     24.99ms     16.42ms    79.28%
"""


def test_wrk_rate_percentiles_and_every_failure():
    result = parse_wrk(WRK, "http://127.0.0.1:8001/health")
    assert result.rps == 701.7
    assert result.p50_ms == 0.83  # microseconds are converted
    assert result.p99_ms == 1590.0  # and seconds
    assert (result.requests, result.seconds) == (3579, 5.1)
    assert result.failed == 4 + 2 + 1  # non-2xx answers and socket errors
    assert result.detail["socket_errors"] == {"connect": 0, "read": 2, "write": 0, "timeout": 1}


def test_wrk_without_errors_counts_none():
    clean = "\n".join(line for line in WRK.splitlines() if "errors" not in line and "Non-2xx" not in line)
    assert parse_wrk(clean, "u").failed == 0


def test_h2load_counts_failed_streams_and_non_2xx():
    latency = {"p50_ms": 7.1, "p99_ms": 40.2}
    result = parse_h2load(H2LOAD, "https://app.example.test/health", latency, timed=False, in_flight=16)
    assert (result.rps, result.requests, result.seconds) == (639.0, 3195, 5.0)
    assert result.failed == 5 + 2  # failed streams, and the 5xx answers among the succeeded ones
    assert (result.p50_ms, result.p99_ms) == (7.1, 40.2)
    assert result.detail == {"protocol": "h2", "non_2xx": 2, "stream_failures": 5, "cancelled_at_end": 0}


def test_only_a_timed_h2load_run_cancels_streams_and_no_more_than_were_in_flight():
    latency = {"p50_ms": 7.1, "p99_ms": 40.2}
    timed = parse_h2load(H2LOAD, "u", latency, timed=True, in_flight=4)
    assert timed.detail["cancelled_at_end"] == 4  # 5 failed streams, at most 4 in flight at the stop
    assert parse_h2load(H2LOAD, "u", latency, timed=True, in_flight=16).detail["cancelled_at_end"] == 5


def test_a_figure_the_output_lacks_is_an_error_not_a_zero():
    no_p99 = "\n".join(line for line in WRK.splitlines() if "99%" not in line)
    with pytest.raises(ParseError, match="99% latency"):
        parse_wrk(no_p99, "u")
    with pytest.raises(ParseError, match="Requests/sec"):
        parse_wrk(WRK.replace("Requests/sec", "Req/s"), "u")
    with pytest.raises(ParseError, match="p99_ms"):
        parse_h2load(H2LOAD, "u", {"p50_ms": 7.1, "p99_ms": 0.0}, timed=False, in_flight=1)


def test_latency_percentiles_from_the_h2load_log(tmp_path):
    log = tmp_path / "h2load.log"
    rows = [f"1795349024075962\t{200 if n % 50 else 503}\t{(n + 1) * 1000}\n" for n in range(100)]
    log.write_text("".join(rows))
    out = subprocess.run([sys.executable, str(REMOTE / "latency.py"), str(log)], capture_output=True, check=True)
    assert json.loads(out.stdout) == {"count": 100, "non_2xx": 2, "p50_ms": 51.0, "p99_ms": 100.0}


def test_the_load_generators_cpu_from_bash_times():
    out, cpu = split_child_cpu(WRK + "0m0.004s 0m0.002s\n0m1.250s 1m2.500s\n")
    assert cpu == 1.25 + 62.5  # the children's line: user and system
    assert out == WRK


BUSY = """
import sys, time
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
print("ready", flush=True)
time.sleep(60)
"""


def test_cpu_py_counts_a_running_load_generator_as_the_client():
    busy = subprocess.Popen([sys.executable, "-c", BUSY], stdout=subprocess.PIPE, text=True)
    try:
        assert busy.stdout.readline() == "ready\n"  # 0.3 s of CPU used
        out = subprocess.run(
            [sys.executable, str(REMOTE / "cpu.py"), "--client", str(busy.pid)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        busy.kill()
        busy.wait()
    used = json.loads(out.stdout)
    assert set(used) == {"app", "proxy", "other", "client", "self"}
    assert 0.29 <= used["client"] < 5
    assert 0 < used["self"] < 5


def test_cpu_per_request_counts_from_the_end_of_the_warm_up(monkeypatch):
    # A timed h2load run: 7 s of CPU snapshots around it, its requests counted over the last 6.
    from kitbench import bench
    from kitbench.loadtools import Result

    snapshots = iter([{"app": 10.0, "proxy": 1.0, "other": 0.5}, {"app": 17.0, "proxy": 1.7, "other": 0.57}])
    monkeypatch.setattr(bench, "cpu_snapshot", lambda: next(snapshots))
    at_warm_up_end = {"app": 11.0, "proxy": 1.1, "other": 0.51}
    result = Result("h2load", "u", 1000.0, 1.0, 2.0, 6000, 0, 6.0, {"client_cpu_s": 0.3, "cpu_start": at_warm_up_end})
    measured = bench.with_cpu(lambda: result)
    assert measured.detail["cpu_s"] == {"app": 6.0, "proxy": 0.6, "other": 0.06, "client": 0.3}
    assert bench.cpu_per_request([measured]) == {"app": 1.0, "proxy": 0.1, "other": 0.01, "client": 0.05}
