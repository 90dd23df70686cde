"""The bench's verdict (kitbench.verdict, bench.add_ratios, report) on recorded tool outputs.

Rounds are made from the real wrk output of test_parsing with its throughput and p99
lines set per round, so they go through the same parser as a run's.
"""

from __future__ import annotations

import re

import pytest
from kitbench import report, verdict
from kitbench.bench import add_ratios, app_cost_figures, median_result
from kitbench.loadtools import Result, parse_h2load, parse_wrk
from kitbench.verdict import MISS, NOISY_PASS, PASS, Spread
from test_parsing import H2LOAD, WRK

CLEAN_WRK = "\n".join(line for line in WRK.splitlines() if "errors" not in line and "Non-2xx" not in line) + "\n"
TARGETS = dict(throughput_target=0.85, p99_target=1.5)


def wrk_round(rps: float, p99_ms: float, output: str = CLEAN_WRK) -> Result:
    """The recorded wrk output with another throughput and p99, parsed."""
    output = re.sub(r"Requests/sec:\s+[\d.]+", f"Requests/sec: {rps}", output)
    output = re.sub(r"^(\s+99%\s+)[\d.]+(us|ms|s)", rf"\g<1>{p99_ms}ms", output, flags=re.M)
    return parse_wrk(output, "u")


def rounds(*figures: tuple[float, float]) -> list[dict]:
    return [wrk_round(rps, p99).as_dict() for rps, p99 in figures]


CEILING = rounds((1000, 20), (1100, 22), (900, 18), (1000, 20), (1050, 21))


def test_every_round_meeting_the_target_is_a_pass():
    product = rounds((900, 24), (1000, 25), (800, 20), (880, 26), (950, 25))
    judged = verdict.judge(product, CEILING, **TARGETS)
    assert judged["verdict"] == PASS and judged["problems"] == []
    assert judged["rps_ratio"] == [0.88, 0.9, 0.909]  # per round: .9 .909 .889 .88 .905
    assert judged["p99_ratio"][2] <= 1.5


def test_a_median_that_meets_with_a_round_that_does_not_is_a_pass_within_the_spread():
    product = rounds((900, 24), (1000, 25), (700, 20), (880, 26), (950, 25))  # round 3: 0.78
    judged = verdict.judge(product, CEILING, **TARGETS)
    assert judged["verdict"] == NOISY_PASS
    assert judged["rps_ratio"][0] < 0.85 <= judged["rps_ratio"][1]


def test_a_median_below_the_target_misses_and_says_why():
    product = rounds((800, 24), (900, 25), (700, 20), (880, 26), (800, 25))
    judged = verdict.judge(product, CEILING, **TARGETS)
    assert judged["verdict"] == MISS
    assert judged["problems"] == ["median throughput 0.800 of the ceiling, below 0.85"]


def test_a_slow_p99_misses_even_at_full_throughput():
    product = rounds((1000, 40), (1100, 44), (900, 36), (1000, 20), (1050, 42))
    judged = verdict.judge(product, CEILING, **TARGETS)
    assert judged["verdict"] == MISS and "median p99 2.000 times the ceiling's, above 1.5" in judged["problems"]


def test_a_target_left_out_is_not_judged_but_a_failure_still_misses():
    # The saturated WebSocket figure: its p99 is the throughput again (Little's law), not judged.
    slow = rounds((500, 40), (550, 44), (450, 36), (500, 40), (520, 42))
    judged = verdict.judge(slow, CEILING, throughput_target=None, p99_target=None)
    assert judged["verdict"] == PASS and judged["p99_ratio"][1] == 2.0
    slow[-1] = wrk_round(520, 42, output=WRK).as_dict()
    assert verdict.judge(slow, CEILING, throughput_target=None, p99_target=None)["problems"] == ["7 requests failed"]


def test_failed_requests_miss_whatever_the_ratio():
    product = rounds((1000, 20), (1100, 22), (900, 18), (1000, 20))
    product.append(wrk_round(1050, 21, output=WRK).as_dict())  # recorded with 4 non-2xx and 3 socket errors
    judged = verdict.judge(product, CEILING, **TARGETS)
    assert judged["verdict"] == MISS and judged["problems"] == ["7 requests failed"]


def test_a_counted_h2load_run_excuses_no_failed_stream_and_a_timed_one_only_those_in_flight():
    latency = {"p50_ms": 7.1, "p99_ms": 40.2}
    counted = parse_h2load(H2LOAD, "u", latency, timed=False, in_flight=16).as_dict()
    timed = parse_h2load(H2LOAD, "u", latency, timed=True, in_flight=4).as_dict()
    assert verdict.errors([counted]) == 7  # 5 failed streams and 2 answers of 5xx
    assert verdict.errors([timed]) == 3  # 4 could be the cancelled ones; the fifth and the 5xx cannot


def test_a_latency_that_was_not_measured_misses():
    product = rounds((1000, 20), (1100, 22), (900, 18), (1000, 20), (1050, 21))
    product[2]["p99_ms"] = 0.0
    judged = verdict.judge(product, CEILING, **TARGETS)
    assert judged["verdict"] == MISS and judged["problems"] == ["p99 not measured in 1 of 5 rounds"]


def test_without_a_throughput_target_only_latency_is_judged():
    product = rounds((500, 24), (550, 25), (450, 20), (500, 26), (525, 25))
    assert verdict.judge(product, CEILING, throughput_target=None, p99_target=1.5)["verdict"] == PASS
    assert verdict.judge(product, CEILING, **TARGETS)["verdict"] == MISS


def test_rounds_must_pair_up():
    with pytest.raises(ValueError, match="4 product rounds against 5"):
        verdict.judge(CEILING[:4], CEILING, **TARGETS)


def test_spreads_that_meet_are_not_a_difference():
    assert Spread(1, 2, 3).overlaps(Spread(3, 4, 5)) and not Spread(1, 2, 3).overlaps(Spread(3.1, 4, 5))
    assert Spread.of([3, 1, 2]) == Spread(1, 2, 3) and Spread(1, 2, 3).text() == "2.00 (1.00-3.00)"


def matrix(product_figures: tuple[tuple[float, float], ...]) -> dict:
    def result(figures: tuple[tuple[float, float], ...]) -> dict:
        return median_result([wrk_round(rps, p99) for rps, p99 in figures])

    ceiling = ((1000, 20), (1100, 22), (900, 18), (1000, 20), (1050, 21))
    figures = {"ceiling/wrk": result(ceiling), "https-h1/wrk": result(product_figures)}
    return add_ratios({"health": figures}, throughput_target=0.85, p99_target=1.5)


def test_the_bench_judges_each_product_figure_and_lists_the_misses():
    passing = matrix(((900, 24), (1000, 25), (800, 20), (880, 26), (950, 25)))
    entry = passing["health"]["https-h1/wrk"]
    assert entry["judgement"]["verdict"] == PASS and entry["meets_target"]
    assert entry["rps_ratio"] == 0.9 and entry["spread"]["rps"] == [800.0, 900.0, 1000.0]
    assert entry["beyond_spread"] is False  # 800-1000 against 900-1100
    assert verdict.misses({"throughput": passing}) == []

    missing = matrix(((800, 24), (900, 25), (700, 20), (880, 26), (800, 25)))
    assert verdict.misses({"throughput": missing}) == [
        "health/https-h1/wrk: median throughput 0.800 of the ceiling, below 0.85"
    ]
    results = {"throughput": missing, "targets": {"throughput_ratio": 0.85, "p99_ratio": 1.5}}
    line = report.verdicts(results)[0]
    assert "0.80 (0.76-0.88) of the ceiling's throughput" in line and "**MISS**: median throughput" in line
    table = report.throughput_table(dict(results, https={"available": True}))
    assert "| 800 (700-900) |" in table[3] and table[3].endswith(
        "**MISS**: median throughput 0.800 of the ceiling, below 0.85 |"
    )


def test_websocket_figures_are_judged_on_latency():
    ceiling = median_result([wrk_round(rps, p99) for rps, p99 in ((4000, 10), (4100, 10), (3900, 10))])
    product = median_result([wrk_round(rps, p99) for rps, p99 in ((3000, 14), (3100, 15), (2900, 13))])
    pairs = (("wss/wsload", "ceiling/wsload"),)
    figures = {"ceiling/wsload": ceiling, "wss/wsload": product}
    out = add_ratios({"websocket": figures}, pairs, throughput_target=None, p99_target=1.5)["websocket"]
    assert out["wss/wsload"]["judgement"]["verdict"] == PASS and out["wss/wsload"]["rps_ratio"] == 0.75
    assert verdict.misses({"websocket": out}) == []
    table = report.websocket_table({"websocket": out})
    assert table[2].startswith("| ceiling: Gunicorn direct, ws://") and "1 (ceiling)" in table[2]
    assert "| 0.75 (0.74-0.76) |" in table[3] and table[3].endswith("**pass** |")


def test_deploy_times_are_judged_on_their_spread():
    assert verdict.judge_seconds([12.0, 13.5, 14.9], 15)["verdict"] == PASS
    noisy = verdict.judge_seconds([14.0, 14.8, 16.2], 15)
    assert noisy == {"seconds": [14.0, 14.8, 16.2], "verdict": NOISY_PASS, "problems": []}
    assert verdict.judge_seconds([15.5, 16.0, 17.0], 15)["problems"] == ["median 16.0 s, over 15 s"]
    failed = verdict.judge_seconds([10.0, 11.0, 12.0], 15, failed_runs=1)
    assert failed["verdict"] == MISS and failed["problems"] == ["1 of 3 runs failed"]


def test_a_deploy_over_its_target_is_a_miss_of_the_bench():
    judged = verdict.judge_seconds([30.0, 34.9, 36.0], 25)
    entry = {"seconds": 34.9, "spread": [30.0, 34.9, 36.0], "ok": True, "changed": 0, "runs": 3, "tasks": 100}
    results = {
        "deploy_cost": {"site.yml, nothing to change": dict(entry, target_s=25, judgement=judged)},
        "module_call": {"seconds_per_call": [0.2, 0.25, 0.3], "calls": 40, "runs": 3},
    }
    assert verdict.misses(results) == ["deploy/site.yml, nothing to change: median 34.9 s, over 25 s"]
    row = report.deploy_table(results)[2]
    assert row == (
        "| site.yml, nothing to change | 34.9 s (30.0-36.0) | 3 | 100 | 25.0 s | 0 | 25 s "
        "| **MISS**: median 34.9 s, over 25 s |"
    )
    assert report.module_call_line(results)[0].startswith("One module call on the sandbox costs 0.250 (0.200-0.300) s")


def test_another_revision_side_by_side_says_whether_the_difference_is_beyond_the_spread():
    def entry(spread: list[float], tasks: int) -> dict:
        return {"seconds": spread[1], "spread": spread, "ok": True, "changed": 0, "runs": 3, "tasks": tasks}

    site, deploy = "site.yml, nothing to change", "deploy.yml, nothing to change"
    results = {
        "deploy_cost": {site: entry([28.6, 29.5, 31.0], 151), deploy: entry([8.0, 9.0, 10.4], 31)},
        "deploy_cost_against": {
            "revision": "v1.2",
            "commit": "7f85174abcdef0123",
            "deploys": {site: entry([42.8, 51.2, 53.2], 176), deploy: entry([9.5, 10.0, 11.0], 33)},
        },
    }
    lines = report.side_by_side(results)
    assert "`v1.2` (`7f85174abcde`)" in lines[0]
    assert lines[4] == (
        "| site.yml, nothing to change | 51.2 (42.8-53.2) s | 29.5 (28.6-31.0) s | 176 / 151 | -21.7 s (-42%) | yes |"
    )
    assert lines[5].endswith("| -1.0 s (-10%) | no: the ranges overlap |")
    assert report.side_by_side({"deploy_cost": results["deploy_cost"]}) == []
    # The other revision's figures are a comparison: its misses are not this tree's.
    results["deploy_cost_against"]["deploys"][site]["judgement"] = verdict.judge_seconds([42.8, 51.2, 53.2], 25)
    assert verdict.misses(results) == []


def app_cost_rounds(app_cpu_s: list[float], failed: int = 0) -> list[dict]:
    """Rounds as bench.app_cost records them: 1000 requests each, the app's CPU seconds given."""
    rounds = []
    for seconds in app_cpu_s:
        result = wrk_round(1000, 10)
        result.requests, result.failed = 1000, failed
        result.detail["cpu_s"] = {"app": seconds, "proxy": 0.1, "client": 0.2, "other": 0.0}
        rounds.append(result.as_dict())
    return rounds


def test_the_app_cost_is_compared_with_direct_round_by_round():
    out = app_cost_figures(
        {"direct": app_cost_rounds([1.0, 2.0, 1.5]), "through nginx": app_cost_rounds([1.1, 2.2, 1.65])}
    )
    assert out["through nginx"]["app_ms_per_request"] == [1.1, 1.65, 2.2]
    # Each round is 1.1 times its direct round, though the medians' ranges overlap.
    assert out["through nginx"]["app_vs_direct"] == [1.1, 1.1, 1.1]
    assert out["through nginx"]["beyond_spread"] is False
    assert out["direct"]["app_vs_direct"] == [1.0, 1.0, 1.0]


def test_the_app_cost_is_explained_not_judged_but_a_failed_request_misses():
    clean = app_cost_figures({"direct": app_cost_rounds([1.0, 1.1]), "through nginx": app_cost_rounds([1.3, 1.4])})
    assert verdict.misses({"app_cost": clean}) == []
    broken = app_cost_figures(
        {"direct": app_cost_rounds([1.0, 1.1]), "through nginx": app_cost_rounds([1.3, 1.4], failed=2)}
    )
    assert verdict.misses({"app_cost": broken}) == ["app_cost/through nginx: 4 failed requests"]


def test_the_app_cost_table_shows_each_way_with_its_spread():
    out = app_cost_figures({"direct": app_cost_rounds([1.0, 1.1, 1.2])})
    table = report.app_cost_table({"app_cost": out})
    assert table[2].startswith("| direct | ")
    assert "1.100 (1.000-1.200) | 1.00 (1.00-1.00) | no |" in table[2]


def test_the_report_says_how_http2_was_run():
    settings = {"connections": 16, "h2_streams_per_connection": 4, "nginx_keepalive_requests": 1000}
    timed = report.http2_settings(dict(settings, bench_keepalive_requests=1_000_000))
    assert timed.startswith("HTTP/2: 4 connections x 4 streams, timed like the ceiling: nginx's keepalive_requests")
    assert "is 1000000 for the run, the inventory's 1000 after it" in timed
    # The runs before 2026-12-03 counted 1000 requests a connection: their results still render.
    before = {"connections": 16, "h2_streams_per_connection": 4, "h2_requests_per_connection": 1000}
    counted = report.http2_settings(before)
    assert counted.startswith("HTTP/2: 4 connections x 4 streams, 1000 requests per connection, counted")
