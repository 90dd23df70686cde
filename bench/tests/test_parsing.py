"""The bench reads numbers out of wrk's and h2load's text: check it reads the right ones.

The samples are real outputs of Debian 12's wrk 4.1.0 and h2load 1.52.0 on the sandbox.
Run: .venv/bin/pytest -q bench/tests
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kitbench import report
from kitbench.loadtools import parse_h2load, parse_wrk, split_child_cpu

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
    result = parse_h2load(H2LOAD, "https://app.example.test/health", {"p50_ms": 7.1, "p99_ms": 40.2})
    assert (result.rps, result.requests, result.seconds) == (639.0, 3195, 5.0)
    assert result.failed == 5 + 2  # failed streams, and the 5xx answers among the succeeded ones
    assert (result.p50_ms, result.p99_ms) == (7.1, 40.2)
    assert result.detail == {"protocol": "h2", "non_2xx": 2, "stream_failures": 5}


def test_latency_percentiles_from_the_h2load_log(tmp_path):
    log = tmp_path / "h2load.log"
    rows = [f"1795349024075962\t{200 if n % 50 else 503}\t{(n + 1) * 1000}\n" for n in range(100)]
    log.write_text("".join(rows))
    out = subprocess.run([sys.executable, str(REMOTE / "latency.py"), str(log)], capture_output=True, check=True)
    assert json.loads(out.stdout) == {"count": 100, "non_2xx": 2, "p50_ms": 51.0, "p99_ms": 100.0}


def test_the_verdict_follows_the_targets():
    entry = {"rps": 850, "p50_ms": 1, "p99_ms": 15, "failed": 0, "rps_ratio": 0.85, "p99_ratio": 1.5}
    results = {
        "throughput": {"health": {"https-h1/wrk": dict(entry, meets_target=True)}},
        "targets": {"throughput_ratio": 0.85, "p99_ratio": 1.5},
    }
    assert "**pass**" in report.verdicts(results)[0]
    results["throughput"]["health"]["https-h1/wrk"]["meets_target"] = False
    assert "**MISS**" in report.verdicts(results)[0]


def test_the_load_generators_cpu_from_bash_times():
    out, cpu = split_child_cpu(WRK + "0m0.004s 0m0.002s\n0m1.250s 1m2.500s\n")
    assert cpu == 1.25 + 62.5  # the children's line: user and system
    assert out == WRK


def test_websocket_figures_get_ratios_and_a_table():
    from kitbench.bench import add_ratios

    def figure(rps: float, p99: float, app_cpu: float) -> dict:
        return {"rps": rps, "p50_ms": 1.0, "p99_ms": p99, "failed": 0, "cpu_ms_per_request": {"app": app_cpu}}

    by_config = {"ceiling/wsload": figure(4000, 10, 0.2), "wss/wsload": figure(3000, 20, 0.2)}
    pairs = (("wss/wsload", "ceiling/wsload"),)
    out = add_ratios({"websocket": by_config}, pairs, throughput_target=None)["websocket"]
    assert out["wss/wsload"]["rps_ratio"] == 0.75 and out["wss/wsload"]["p99_ratio"] == 2.0
    assert out["wss/wsload"]["meets_target"] is False and "meets_target" not in out["ceiling/wsload"]
    by_config["wss/wsload"]["p99_ms"] = 15  # latency within the target: a lower throughput alone passes
    assert add_ratios({"websocket": by_config}, pairs, throughput_target=None)["websocket"]["wss/wsload"][
        "meets_target"
    ]
    assert not add_ratios({"websocket": by_config}, pairs)["websocket"]["wss/wsload"]["meets_target"]
    by_config["wss/wsload"]["p99_ms"] = 20
    table = report.websocket_table({"websocket": add_ratios({"websocket": by_config}, pairs, None)["websocket"]})
    assert table[2].startswith("| ceiling: Gunicorn direct, ws://") and "1 (ceiling)" in table[2]
    assert "| 3000 |" in table[3] and "| 0.75 | 2.00 | 0.200 |" in table[3] and table[3].endswith("**MISS** |")
