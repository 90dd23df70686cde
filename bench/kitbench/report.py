"""The bench's and the drills' results as markdown tables; the bench README's results section."""

from __future__ import annotations

import re

from kitbench.sandbox import ROOT
from kitbench.verdict import Spread

README = ROOT / "bench" / "README.md"

LABELS = {
    "ceiling/wrk": "ceiling: Gunicorn direct, HTTP/1.1 (wrk)",
    "ceiling/h2load-h1": "ceiling: Gunicorn direct, HTTP/1.1 (h2load)",
    "https-h1/wrk": "nginx HTTPS, HTTP/1.1 keep-alive (wrk)",
    "https-h2/h2load": "nginx HTTPS, HTTP/2 (h2load)",
    "ceiling/wsload": "ceiling: Gunicorn direct, ws:// (wsload.py)",
    "wss/wsload": "nginx HTTPS, wss:// (wsload.py)",
    "ceiling/wsload-paced": "ceiling: Gunicorn direct, ws://, paced",
    "wss/wsload-paced": "nginx HTTPS, wss://, paced",
}
PATHS = {"health": "`GET /health`", "notes": "`GET /api/notes?limit=20`"}


def _figure(entry: dict, key: str, fmt: str = ".1f") -> str:
    """The median, and the min-max over the rounds when the entry has them."""
    spread = entry.get("spread", {}).get(key)
    return Spread(*spread).text(fmt) if spread else f"{entry[key]:{fmt}}"


def _ratio(entry: dict, key: str) -> str:
    spread = (entry.get("judgement") or {}).get(key)
    if spread:
        return Spread(*spread).text()
    return f"{entry[key]:.2f}" if key in entry else "1 (ceiling)"


def _judged(entry: dict) -> str:
    """The verdict of kitbench.verdict, with what missed."""
    judged = entry.get("judgement")
    if not judged:
        return ""
    why = "; ".join(judged["problems"])
    return f"**{judged['verdict']}**" + (f": {why}" if why else "")


def http2_settings(settings: dict) -> str:
    """How the HTTP/2 runs were made: timed, nginx's keepalive_requests raised; or counted (before 2026-12-03)."""
    streams = settings["h2_streams_per_connection"]
    shape = f"HTTP/2: {settings['connections'] // streams} connections x {streams} streams"
    if "bench_keepalive_requests" in settings:
        return (
            f"{shape}, timed like the ceiling: nginx's keepalive_requests is {settings['bench_keepalive_requests']} "
            f"for the run, the inventory's {settings['nginx_keepalive_requests']} after it (h2load does not "
            "reconnect after the GOAWAY nginx sends at that count)."
        )
    return (
        f"{shape}, {settings.get('h2_requests_per_connection', '?')} requests per connection, counted "
        "(nginx's keepalive_requests; h2load does not reconnect after nginx's GOAWAY)."
    )


def machine_line(results: dict, inside: str = "sandbox") -> str:
    """The machine, and the versions found inside the container the load ran from (`inside`)."""
    m = results["machine"]
    return (
        f"{m['cpus']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, {m['os']}, kernel {m['kernel']}, "
        f"Docker {m['docker']}; {inside}: {'; '.join(m['sandbox'])}. Load average {results['load_average_start']} "
        f"at the start, {results.get('load_average_end', '?')} at the end (other jobs share these cores)."
    )


def throughput_table(results: dict) -> list[str]:
    lines = [
        "| Endpoint | Path | req/s | p50 ms | p99 ms | failed | throughput vs ceiling | p99 vs ceiling | target |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for endpoint, by_config in results["throughput"].items():
        for name, entry in by_config.items():
            lines.append(
                f"| {PATHS[endpoint]} | {LABELS[name]} | {_figure(entry, 'rps', '.0f')} | "
                f"{_figure(entry, 'p50_ms')} | {_figure(entry, 'p99_ms')} | {entry['failed']} | "
                f"{_ratio(entry, 'rps_ratio')} | {_ratio(entry, 'p99_ratio')} | {_judged(entry)} |"
            )
    if not results["https"]["available"]:
        lines.append(f"| | nginx HTTPS | not measured: {results['https']['reason']} | | | | | | |")
    cancelled = [
        e for by in results["throughput"].values() for e in by.values() if e["failed"] and not e.get("errors", 1)
    ]
    if cancelled:
        lines += [
            "",
            "The failed counted for h2load are streams it cancelled itself when its timed run ended "
            "(in flight at the stop; nginx logs them as 499, client closed): every answer was a 2xx.",
        ]
    return lines


def cpu_table(results: dict) -> list[str]:
    """CPU per request by role, for each tool's pair (the same client on both sides of a ratio)."""
    lines = [
        "| Endpoint | Path | app (Gunicorn) | proxy (nginx) | load generator | rest of the server | total |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for endpoint, by_config in results["throughput"].items():
        for name in ("ceiling/wrk", "https-h1/wrk", "ceiling/h2load-h1", "https-h2/h2load"):
            cpu = by_config.get(name, {}).get("cpu_ms_per_request")
            if not cpu:
                continue
            cells = " | ".join(f"{cpu.get(role, 0):.2f}" for role in ("app", "proxy", "client", "other"))
            lines.append(f"| {PATHS[endpoint]} | {LABELS[name]} | {cells} | {sum(cpu.values()):.2f} |")
    return lines


def app_cost_table(results: dict) -> list[str]:
    """The app's CPU per /api/notes request, four ways, with the spread over the rounds."""
    lines = [
        "| Requests reach the app | req/s | app CPU, ms per request | against direct | beyond the spread | "
        "nginx, ms per request | load generator, ms per request |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for name, entry in results["app_cost"].items():
        cpu = entry["cpu_ms_per_request"]
        app = Spread(*entry["app_ms_per_request"]).text(".3f")
        beyond = "yes" if entry["beyond_spread"] else "no"
        lines.append(
            f"| {name} | {_figure(entry, 'rps')} | {app} | {Spread(*entry['app_vs_direct']).text()} | {beyond} | "
            f"{cpu.get('proxy', 0):.3f} | {cpu.get('client', 0):.3f} |"
        )
    return lines


def new_connection_table(results: dict) -> list[str]:
    names = {
        "tcp": "plain TCP to Gunicorn, new connection each",
        "tls": "HTTPS, TLS 1.3 full handshake each",
        "tls-resume": "HTTPS, TLS 1.3 resumed session each",
    }
    lines = [
        "| `GET /health`, new connection per request | req/s | p50 ms | p99 ms | failed | handshakes resumed "
        "| nginx CPU ms/request | app CPU ms/request |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode, entry in results["new_connection"].items():
        resumed = f"{entry['resumed_fraction']:.0%}" if mode != "tcp" else "-"
        cpu = entry.get("cpu_ms_per_request", {})
        lines.append(
            f"| {names[mode]} | {entry['rps']:.0f} | {entry['p50_ms']:.1f} | {entry['p99_ms']:.1f} | "
            f"{entry['failed']} | {resumed} | {cpu.get('proxy', 0):.2f} | {cpu.get('app', 0):.2f} |"
        )
    return lines


def websocket_table(results: dict) -> list[str]:
    lines = [
        "| `/ws/notes`, echo on connections held open | messages/s | p50 ms | p99 ms | failed "
        "| throughput vs ceiling | p99 vs ceiling | app CPU ms/message | nginx CPU ms/message "
        "| load generator CPU ms/message | p99 target |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, entry in results["websocket"].items():
        cpu = entry.get("cpu_ms_per_request", {})
        lines.append(
            f"| {LABELS[name]} | {_figure(entry, 'rps', '.0f')} | {_figure(entry, 'p50_ms', '.2f')} | "
            f"{_figure(entry, 'p99_ms', '.2f')} | {entry['failed']} | {_ratio(entry, 'rps_ratio')} | "
            f"{_ratio(entry, 'p99_ratio')} | {cpu.get('app', 0):.3f} | {cpu.get('proxy', 0):.3f} | "
            f"{cpu.get('client', 0):.3f} | {_judged(entry)} |"
        )
    return lines


def worker_table(results: dict) -> list[str]:
    sweep = results["worker_sweep"]
    columns = [key for key in next(iter(sweep.values())) if "/" in key]
    header = " | ".join(f"{PATHS[c.split('/')[0]]} {c.split('/')[1]} req/s" for c in columns)
    lines = [
        f"| workers | {header} | RSS per worker MiB | PSS per worker MiB | stack PSS at idle MiB | stack RSS MiB |",
        "| ---: |" + " ---: |" * (len(columns) + 4),
    ]
    for workers, entry in sweep.items():
        mem = entry["memory"]
        n = int(workers)
        cells = " | ".join(_figure(entry[c], "rps", ".0f") for c in columns)
        lines.append(
            f"| {workers} | {cells} | {mem['gunicorn workers']['rss_kib'] / n / 1024:.1f} | "
            f"{mem['gunicorn workers']['pss_kib'] / n / 1024:.1f} | "
            f"{sum(g['pss_kib'] for g in mem.values()) / 1024:.1f} | "
            f"{sum(g['rss_kib'] for g in mem.values()) / 1024:.1f} |"
        )
    return lines


def worker_comparison(results: dict) -> list[str]:
    """For each column of the sweep: the best worker count, and whether each other count's
    difference from it is larger than the two spreads."""
    sweep = results["worker_sweep"]
    columns = [key for key in next(iter(sweep.values())) if "/" in key]
    out = []
    for column in columns:
        figures = {workers: entry[column] for workers, entry in sweep.items()}
        if not all("spread" in f for f in figures.values()):
            continue
        best = max(figures, key=lambda w: figures[w]["rps"])
        others = []
        for workers, figure in figures.items():
            if workers == best:
                continue
            apart = not Spread(*figure["spread"]["rps"]).overlaps(Spread(*figures[best]["spread"]["rps"]))
            others.append(f"{workers}: {figure['rps']:.0f} ({'beyond' if apart else 'within'} the spread)")
        endpoint, config = column.split("/")
        out.append(
            f"- {PATHS[endpoint]} {config}: {best} workers serve most, {figures[best]['rps']:.0f} req/s; "
            + ", ".join(others)
        )
    return out


def deploy_table(results: dict) -> list[str]:
    """Each deploy's wall time, and the floor its tasks set: tasks run x one module call's cost."""
    per_call = results.get("module_call", {}).get("seconds_per_call", [None, None, None])[1]
    lines = [
        "| Deploy | wall time | runs | tasks run | floor: tasks x one call | changed | target | result |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, entry in results["deploy_cost"].items():
        if entry.get("seconds") is None:
            lines.append(f"| {label} | - | - | - | - | - | - | {entry.get('note', '')} |")
            continue
        tasks = entry.get("tasks")
        floor = f"{tasks * per_call:.1f} s" if tasks and per_call else ""
        minutes, seconds = divmod(entry["seconds"], 60)
        wall = f"{int(minutes)} min {seconds:.0f} s" if minutes else f"{seconds:.1f} s"
        if entry.get("spread") and entry.get("runs", 1) > 1:
            wall += f" ({entry['spread'][0]:.1f}-{entry['spread'][2]:.1f})"
        target = f"{entry['target_s']} s" if "target_s" in entry else ""
        result = "ok" if entry["ok"] else f"FAILED: {entry.get('failure', '')}".replace("\n", " ")
        if entry.get("judgement"):
            result = _judged(entry)
        lines.append(
            f"| {label} | {wall} | {entry.get('runs', 1)} | {tasks or ''} | {floor} | {entry.get('changed', '')} | "
            f"{target} | {result} |"
        )
    return lines


def side_by_side(results: dict) -> list[str]:
    """The judged deploys of this tree against another revision's kit, run for run in the same rounds:
    the difference of the medians, and whether it is larger than the spread (the ranges do not meet)."""
    against = results.get("deploy_cost_against")
    if not against:
        return []
    revision = against["revision"]
    lines = [
        f"Side by side with the kit at `{revision}` (`{against['commit'][:12]}`): each round ran the same deploy "
        "with both kits, one after the other, on the same sandbox.",
        "",
        f"| Deploy | kit at `{revision}` | this tree | tasks run | difference | larger than the spread |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for label, before in against["deploys"].items():
        after = results["deploy_cost"][label]
        old, new = Spread(*before["spread"]), Spread(*after["spread"])
        change = new.median - old.median
        larger = "no: the ranges overlap" if old.overlaps(new) else "yes"
        lines.append(
            f"| {label} | {old.text('.1f')} s | {new.text('.1f')} s | {before['tasks']} / {after['tasks']} | "
            f"{change:+.1f} s ({change / old.median:+.0%}) | {larger} |"
        )
    return lines


def module_call_line(results: dict) -> list[str]:
    """What one module call costs, the unit of the floor column."""
    call = results.get("module_call")
    if not call:
        return []
    return [
        f"One module call on the sandbox costs {Spread(*call['seconds_per_call']).text('.3f')} s "
        f"(`{call['calls']}` calls of `bench/playbooks/round-trips.yml` against none, {call['runs']} runs). "
        "A deploy cannot be faster than its tasks times that (some tasks run on the controller only and "
        "cost less, so the floor is an upper estimate).",
        "",
    ]


def verdicts(results: dict) -> list[str]:
    """One line per judged figure: the ratios with their spread over the rounds, and the verdict."""
    targets = results["targets"]
    out = []
    for endpoint, by_config in results["throughput"].items():
        for name, entry in by_config.items():
            if not entry.get("judgement"):
                continue
            beyond = "larger" if entry.get("beyond_spread") else "not larger"
            out.append(
                f"- {PATHS[endpoint]}, {LABELS[name]}: {_ratio(entry, 'rps_ratio')} of the ceiling's throughput "
                f"(target >= {targets['throughput_ratio']}), p99 {_ratio(entry, 'p99_ratio')} times the "
                f"ceiling's (target <= {targets['p99_ratio']}): {_judged(entry)}. The difference in req/s from "
                f"the ceiling is {beyond} than the two spreads"
                + (
                    f"; its CPU per request allows {entry['cpu_ratio']:.2f} of the ceiling on a CPU-bound host"
                    if entry.get("cpu_ratio")
                    else ""
                )
            )
    return out


def bench_markdown(results: dict) -> str:
    s = results["settings"]
    parts = [
        f"# Bench results, {results['date']}",
        "",
        f"Machine: {machine_line(results)}",
        "",
        f"Release {results.get('release', '?')}, {results.get('workers', '?')} Gunicorn workers (the sandbox "
        f"inventory's), {s['connections']} requests in flight, {s['rounds']} interleaved rounds of {s['seconds']:g} s "
        "per figure; each figure is the median, with the min-max over the rounds in brackets. "
        f"{http2_settings(s)} Whole run: {results.get('duration_seconds', '?')} s.",
        "",
    ]
    if "throughput" in results:
        parts += [
            "![bench](bench.png)",
            "",
            "## Ceiling and product",
            "",
            "Ratios are taken round by round (the product's round i against the ceiling's round i, measured",
            "minutes apart); the verdict reads their spread: **MISS** when a request failed, a figure is",
            "missing or the median misses the target (`make bench` then exits 1), **pass** when every",
            "round meets it, **pass, within the spread** when the median does and some round does not.",
            "",
            *throughput_table(results),
            "",
            *verdicts(results),
            "",
        ]
    if any(e.get("cpu_ms_per_request") for by in results.get("throughput", {}).values() for e in by.values()):
        parts += [
            "CPU time per request, in ms, by process, over every round (each ratio's tool on both sides;",
            "h2load's from the end of its warm-up; the sandbox's own processes only). On 2 cores,",
            "whatever nginx and TLS spend is taken from the app:",
            "",
            *cpu_table(results),
            "",
        ]
    if "app_cost" in results:
        parts += [
            "## The app's CPU behind nginx",
            "",
            "`GET /api/notes` four ways, interleaved, wrk with the same connections: straight to Gunicorn;",
            "straight, with the headers nginx adds (`Host`, `X-Forwarded-For`, `X-Forwarded-Proto`,",
            "`X-Request-ID`); through nginx over HTTPS; straight, while a second wrk loads a static file",
            "from nginx over HTTPS (nginx and TLS busy on the same cores, none of their requests reaching",
            "the app; its load generator's CPU is in the last column). Against direct: the ratio round by",
            "round (each round measures the four ways minutes apart). Beyond the spread: the rounds' ranges",
            "do not meet the direct ones.",
            "",
            *app_cost_table(results),
            "",
        ]
    if "new_connection" in results:
        parts += ["## New connection per request", "", *new_connection_table(results), ""]
    if "websocket" in results:
        parts += [
            "## WebSockets",
            "",
            "The same client and the same connections on both sides; a close or an error counts as failed",
            "and misses. Saturated: each connection sends a message, waits for its echo, sends the next.",
            "Its round trip is the connections over the messages a second (Little's law), so its p99 says",
            "the throughput again; and echoing a message costs the app about as much CPU as nginx spends",
            "relaying it through TLS, so on shared cores that throughput measures TLS (nginx's and the load",
            "generator's), not the kit: reported, not judged. Paced: each connection sends "
            f"{results['settings'].get('ws_paced_rate_per_connection', 0):g} messages a second",
            "on a schedule, a rate both paths carry with cores to spare, each round trip counted from when",
            "its message was due: the time nginx and TLS add to a message. Judged: p99 <= "
            f"{results['targets']['p99_ratio']} times the ceiling's.",
            "",
            *websocket_table(results),
            "",
        ]
    if "worker_sweep" in results:
        parts += ["## Workers", "", *worker_table(results), "", *worker_comparison(results), ""]
    if "deploy_cost" in results:
        parts += [
            "## Deploy cost",
            "",
            "Wall time from the controller, real SSH to the sandbox; each timed deploy runs several times",
            "(median, min-max in brackets), judged like the ratios: **MISS** when the median is over the",
            "target or a run failed.",
            "",
            *module_call_line(results),
            *deploy_table(results),
            "",
        ]
        if "deploy_cost_against" in results:
            parts += [*side_by_side(results), ""]
    return "\n".join(parts)


def update_readme(markdown: str, section: str = "bench") -> None:
    """Put the latest results (tables, plot, date, machine) into bench/README.md between the
    section's markers."""
    start, end = f"<!-- {section}:results:start -->", f"<!-- {section}:results:end -->"
    text = README.read_text()
    if start not in text or end not in text:
        return
    title, body = markdown.split("\n", 1)
    body = body.replace("](bench.png)", "](results/bench.png)")
    raw = f"results/{section}.json"
    block = f"{start}\n_{title.lstrip('# ')}: written by `make {section}`; raw data in [{raw}]({raw})._\n"
    block += re.sub(r"^## ", "#### ", body, flags=re.M).strip() + f"\n{end}"
    README.write_text(text[: text.index(start)] + block + text[text.index(end) + len(end) :])


def drills_markdown(summary: dict) -> str:
    lines = [
        f"# Drill results, {summary['date']}",
        "",
        f"Machine: {summary['machine']}. Load: {summary['load']}.",
        "",
        "| Drill | requests sent | failed | recovery | target | result |",
        "| --- | ---: | ---: | ---: | --- | --- |",
    ]
    for drill in summary["drills"]:
        recovery = f"{drill['recovery_s']:.2f} s" if drill.get("recovery_s") is not None else "-"
        verdict = {True: "**pass**", False: "**FAIL**", None: "**SKIPPED**"}[drill["passed"]]
        lines.append(
            f"| {drill['name']} | {drill['requests']} | {drill['failed']} | {recovery} | {drill['target']} | "
            f"{verdict}{': ' + drill['why'] if drill.get('why') else ''} |"
        )
    return "\n".join(lines) + "\n"
