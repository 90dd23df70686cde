"""make drills: break the sandbox on purpose, under a steady load, and check it heals.

Each drill runs the kit's load generator (molecule/resources/loadgen.py) inside the
sandbox against the product path, HTTPS through nginx (or the app's stable socket
while the sandbox has no HTTPS front), bounded in requests and seconds, counting
every non-2xx answer and every connection error. The sandbox is left serving main.
Exit status 1 when any drill misses its target or could not run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shlex
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from kitbench import report
from kitbench.sandbox import (
    APP_REPO,
    CONTAINER,
    DOMAIN,
    HTTPS_PORT,
    LOADGEN,
    RESULTS,
    ROOT,
    SOCKET,
    STATE,
    WEBSOCKET_PATH,
    WSLOAD,
    api,
    app_commit,
    append,
    container_running,
    curl_command,
    get_json,
    gunicorn_pids,
    https_status,
    install_tools,
    live,
    load_average,
    log,
    machine,
    note,
    output_dir,
    playbook,
    run,
    sandbox,
)


@dataclass
class Drill:
    name: str
    target: str
    requests: int = 0
    failed: int = 0
    recovery_s: float | None = None
    passed: bool | None = None
    why: str = ""
    detail: dict = field(default_factory=dict)

    def count(self, load: dict) -> None:
        self.requests += load.get("requests", 0)
        self.failed += load.get("failed", 0)
        self.detail.setdefault("load", []).append(
            {k: load.get(k) for k in ("requests", "failed", "statuses", "errors", "releases", "failures", "rps")}
        )


@dataclass
class Settings:
    https: bool
    concurrency: int
    interval: float
    max_seconds: int
    max_requests: int
    health_timeout: int

    def target_args(self) -> str:
        if self.https:
            return f"--connect {DOMAIN}:443 --tls --host {DOMAIN}"
        return f"--unix {SOCKET}"


@contextmanager
def in_background(name: str, command: str) -> Iterator[dict]:
    """Run a load tool inside the sandbox while the block runs; its JSON summary fills the dict after."""
    out, stop = f"/tmp/kit-drill-{name}.json", f"/tmp/kit-drill-{name}.stop"
    summary: dict = {}
    sandbox(f"rm -f {out} {stop}")
    run(["docker", "exec", "-d", CONTAINER, "bash", "-c", f"{command} --stop-file {stop} > {out} 2>{out}.err"])
    time.sleep(2)
    try:
        yield summary
    finally:
        sandbox(f"touch {stop}", check=False)
        for _ in range(120):
            output = sandbox(f"cat {out}", check=False).stdout.strip()
            if output:
                summary.update(json.loads(output))
                break
            time.sleep(0.5)
        else:
            error = sandbox(f"cat {out}.err", check=False).stdout
            summary.update({"requests": 0, "failed": 1, "errors": {f"{name} gave no summary": 1}, "err": error})


@contextmanager
def steady_load(settings: Settings, path: str = "/health") -> Iterator[dict]:
    """Load on the product path while the block runs (a new connection per request, as new
    visitors make); the summary is filled in after the block."""
    command = (
        f"python3 {LOADGEN} {settings.target_args()} --path {shlex.quote(path)} --concurrency {settings.concurrency} "
        f"--interval {settings.interval} --timeout 20 --duration {settings.max_seconds} "
        f"--requests {settings.max_requests}"
    )
    with in_background("load", command) as summary:
        yield summary
    note(
        f"load: {summary.get('requests')} requests, {summary.get('failed')} failed, "
        f"releases seen {summary.get('releases')}, errors {summary.get('errors') or {}}"
    )


@contextmanager
def websocket_load(settings: Settings, clients: int) -> Iterator[dict]:
    """WebSockets held open on the product path while the block runs, each echoing a message
    every interval and reconnecting after a clean close (1012 on a deploy)."""
    command = (
        f"python3 {WSLOAD} {settings.target_args()} --path {WEBSOCKET_PATH} --hello --clients {clients} "
        f"--interval {settings.interval * 5} --timeout 20 --duration {settings.max_seconds}"
    )
    with in_background("websockets", command) as summary:
        yield summary
    note(
        f"websockets: {summary.get('messages')} messages, {summary.get('failed')} failed, "
        f"{summary.get('handshakes')} handshakes, closes {summary.get('closes')}, "
        f"releases seen {summary.get('releases')}, errors {summary.get('errors') or {}}"
    )


def health(settings: Settings) -> tuple[int, dict]:
    return get_json("/health", https=settings.https)


def deploy_drill(drill: Drill, settings: Settings, commit: str, broken: bool) -> None:
    """Deploy a commit under load; a broken one must fail the play and leave the old release live."""
    before = live()["release"]
    with steady_load(settings) as load:
        result = playbook(
            "app.yml",
            {"app_repo_version": commit, "gunicorn_health_timeout": settings.health_timeout},
            label="drill-" + "-".join(re.findall(r"[a-z0-9]+", drill.name.lower())),
        )
    drill.count(load)
    now = live()["release"]
    status, body = health(settings)
    if broken:
        message = result.failure(40)
        checks = {
            "the play failed": not result.ok,
            "it says the release did not become healthy": f"Release {commit[:12]} did not become healthy"
            in result.output,
            "it says which release still serves": f"Still live and serving: release {before['id']}" in result.output,
            "the old release is still live": now["id"] == before["id"] and body.get("release") == before["id"],
            "no request failed": load.get("failed") == 0 and load.get("requests", 0) > 0,
            "only the old release answered": load.get("releases") == [before["id"]],
        }
        drill.detail["play_message"] = message
    else:
        with steady_load(settings) as after:  # afterwards, every answer is from the new release
            time.sleep(3)
        drill.count(after)
        checks = {
            "the play succeeded": result.ok,
            "a new virtualenv was built": now["venv"] != before["venv"],
            "the new release is live": now["id"] == commit[:12]
            and status == 200
            and body.get("release") == commit[:12],
            "no request failed": load.get("failed") == 0 and after.get("failed") == 0 and load.get("requests", 0) > 0,
            "the new release answered last": (load.get("releases") or [""])[-1] == commit[:12],
            "every answer afterwards is from the new release": after.get("releases") == [commit[:12]],
        }
    drill.detail["checks"] = checks
    drill.passed = all(checks.values())
    missed = [name for name, ok in checks.items() if not ok]
    if missed:
        drill.why = "missed: " + "; ".join(missed)
    elif broken:
        gave = re.search(r"did not become healthy within \d+ s:\s*GET (\S+) on \S+ gave\s*(\S+)", message)
        answer = f"GET {gave.group(1)} gave {gave.group(2).replace('-1', 'no answer')}" if gave else "?"
        drill.why = f"play failed: release {commit[:12]} not healthy ({answer}); still live: {before['id']}"


def drill_requirements(settings: Settings) -> Drill:
    drill = Drill("deploy, requirements changed", "0 failed; new release in every answer after")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    commit = app_commit(
        "drill-requirements",
        "Change the requirements",
        lambda app: append(app / "requirements.txt", f"# drill {stamp}: a change makes a new virtualenv\n"),
    )
    deploy_drill(drill, settings, commit, broken=False)
    return drill


def drill_broken_import(settings: Settings) -> Drill:
    drill = Drill("deploy, app fails at import", "0 failed; old release live; play fails clearly")
    commit = app_commit(
        "drill-broken-import",
        "Break the app at import",
        lambda app: append(app / "webapp" / "main.py", "\nraise RuntimeError('drill: this release cannot start')\n"),
    )
    deploy_drill(drill, settings, commit, broken=True)
    return drill


def drill_unhealthy(settings: Settings) -> Drill:
    drill = Drill("deploy, /health answers 503", "0 failed; old release live; play fails clearly")
    sabotage = (
        "\n\nasync def check_database(engine: AsyncEngine) -> None:  # drill: this release is never healthy\n"
        "    raise RuntimeError('drill: the database check always fails in this release')\n"
    )
    commit = app_commit(
        "drill-unhealthy",
        "Make /health answer 503",
        lambda app: append(app / "webapp" / "routes" / "health.py", sabotage),
    )
    deploy_drill(drill, settings, commit, broken=True)
    return drill


def drill_websockets(settings: Settings) -> Drill:
    """A code-only deploy while WebSockets are open: each is closed with 1012 and reconnects to the new release."""
    clients = 4
    drill = Drill(
        "deploy with WebSockets open",
        f"0 failed; {clients} sockets closed with 1012, back on the new release in < 5 s",
    )
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    commit = app_commit(
        "drill-websockets",
        "Restyle the page",
        lambda app: append(app / "webapp" / "static" / "style.css", f"\n/* drill {stamp} */\n"),
    )
    before = live()["release"]
    with steady_load(settings) as load, websocket_load(settings, clients) as sockets:
        result = playbook(
            "app.yml",
            {"app_repo_version": commit, "gunicorn_health_timeout": settings.health_timeout},
            label="drill-websockets",
        )
        time.sleep(3)  # the sockets talk to the new release for a while
    drill.count(load)
    drill.detail["websockets"] = sockets
    back_ms = sockets.get("reconnect_max_ms")
    drill.recovery_s = back_ms / 1000 if back_ms is not None else None
    checks = {
        "the play succeeded": result.ok,
        "the new release is live": live()["release"]["id"] == commit[:12],
        "no request failed": load.get("failed") == 0 and load.get("requests", 0) > 0,
        "no WebSocket handshake or message failed": sockets.get("failed") == 0 and sockets.get("messages", 0) > 0,
        "every socket was closed with 1012 and reconnected": sockets.get("closes", {}).get("1012", 0) >= clients
        and sockets.get("reconnects", 0) >= clients,
        "the old release greeted first, then the new": sockets.get("releases") == [before["id"], commit[:12]],
        "back within 5 s": back_ms is not None and back_ms < 5000,
    }
    drill.detail["checks"] = checks
    drill.passed = all(checks.values())
    drill.why = (
        f"{sockets['messages']} messages echoed over {clients} sockets, 0 failed; "
        f"{sockets['closes'].get('1012')} closes with 1012, {sockets['resent']} messages sent again after a close"
        if drill.passed
        else _missed(checks) + f" (websockets: {sockets.get('errors')} {sockets.get('failures', [])[:3]})"
    )
    return drill


def served_serial() -> str:
    out = sandbox(
        f"openssl s_client -connect {DOMAIN}:443 -servername {DOMAIN} </dev/null 2>/dev/null "
        "| openssl x509 -noout -serial",
        check=False,
    ).stdout.strip()
    return out.removeprefix("serial=")


def drill_renewal(settings: Settings) -> Drill:
    drill = Drill("forced certificate renewal", "0 failed; new serial served")
    before = served_serial()
    with steady_load(settings) as load:
        started = time.monotonic()
        renew = sandbox(
            f"certbot renew --force-renewal --cert-name {DOMAIN} --no-random-sleep-on-renew",
            check=False,
            timeout=300,
        )
        after = before
        while renew.returncode == 0 and time.monotonic() - started < 60:
            after = served_serial()
            if after and after != before:
                break
            time.sleep(0.2)
        drill.recovery_s = round(time.monotonic() - started, 2)
        time.sleep(2)
    drill.count(load)
    checks = {
        "certbot renewed": renew.returncode == 0,
        "a new serial is served": bool(after) and after != before,
        "no request failed": load.get("failed") == 0 and load.get("requests", 0) > 0,
    }
    drill.detail.update(checks=checks, serial_before=before, serial_after=after, certbot=renew.stdout[-1500:])
    drill.passed = all(checks.values())
    drill.why = f"serial {before[-8:]} -> {after[-8:]}" if drill.passed else _missed(checks)
    return drill


def _missed(checks: dict[str, bool]) -> str:
    return "missed: " + "; ".join(name for name, ok in checks.items() if not ok)


def kill_and_time(pid: int, condition: str, timeout: float = 120) -> float:
    """SIGKILL a process on the sandbox; seconds until the shell condition holds (timed there)."""
    took = sandbox(
        f"kill -9 {pid}; start=$(date +%s%N); until {condition}; do sleep 0.02; done; "
        "echo $(( ($(date +%s%N) - start) / 1000000 ))",
        timeout=timeout,
    ).stdout.strip()
    return int(took) / 1000


def drill_kill_worker(settings: Settings) -> Drill:
    drill = Drill("SIGKILL of one Gunicorn worker", "0 failed")
    master, workers = gunicorn_pids()
    victim = workers[0]
    with steady_load(settings) as load:
        time.sleep(3)
        # Back when the master has reaped the victim and forked a replacement.
        replaced = f"! ps -p {victim} >/dev/null && [ $(ps -o pid= --ppid {master} | wc -l) -ge {len(workers)} ]"
        drill.recovery_s = kill_and_time(victim, replaced)
        time.sleep(3)
    drill.count(load)
    _, now = gunicorn_pids()
    checks = {
        "a replacement worker runs": len(now) == len(workers) and victim not in now,
        "no request failed": load.get("failed") == 0 and load.get("requests", 0) > 0,
    }
    drill.detail["checks"] = checks
    drill.passed = all(checks.values())
    drill.why = "" if drill.passed else _missed(checks) + f" ({load.get('failures')})"
    return drill


def drill_kill_master(settings: Settings) -> Drill:
    drill = Drill("SIGKILL of the Gunicorn master", "/health 200 again in < 5 s")
    color = live()["color"]
    master, workers = gunicorn_pids()
    probe = curl_command("/health", https=settings.https, timeout=1, status_only=True)
    with steady_load(settings) as load:
        time.sleep(3)
        # Up again: Supervisor runs a new master, and /health answers 200 on the product path.
        restarted = f'new=$(supervisorctl pid webapp-{color}) && [ "$new" != 0 ] && [ "$new" != {master} ]'
        drill.recovery_s = kill_and_time(master, f"{restarted} && {probe} 2>/dev/null")
        time.sleep(3)
    drill.count(load)
    new_master, new_workers = gunicorn_pids()
    checks = {
        "/health answered 200 within 5 s": drill.recovery_s < 5,
        "a new master runs with every worker": new_master != master and len(new_workers) == len(workers),
    }
    drill.detail.update(checks=checks, failures=load.get("failures"))
    drill.passed = all(checks.values())
    drill.why = f"{load.get('failed', 0)} requests failed while no master ran" if drill.passed else _missed(checks)
    return drill


def nginx_conf_digest() -> str:
    return hashlib.sha256(sandbox("cat /etc/nginx/nginx.conf").stdout.encode()).hexdigest()


def drill_nginx_invalid(settings: Settings) -> Drill:
    drill = Drill("invalid nginx config from an input", "play refuses it; 0 failed")
    before = nginx_conf_digest()
    with steady_load(settings) as load:
        result = playbook(
            "web.yml", {"nginx_extra_http_config": "kit_drill_no_such_directive on;"}, label="drill-nginx"
        )
    drill.count(load)
    message = result.failure(6)
    checks = {
        "the play failed": not result.ok,
        "nginx -t named the bad directive": "kit_drill_no_such_directive" in result.output,
        "the running config is unchanged": nginx_conf_digest() == before,
        "nginx still runs and its config tests ok": sandbox(
            "systemctl is-active nginx && nginx -t -q", check=False
        ).returncode
        == 0,
        "no request failed": load.get("failed") == 0 and load.get("requests", 0) > 0,
    }
    drill.detail.update(checks=checks, play_message=message)
    drill.passed = all(checks.values())
    said = re.search(r"\[emerg\] [\d#]+: (.*?kit_drill_no_such_directive\S*)", result.output)
    drill.why = f"play failed: nginx -t said {said.group(1) if said else '?'}" if drill.passed else _missed(checks)
    return drill


def controller_probe(settings: Settings) -> bool:
    """GET /health from outside the sandbox: HTTPS on the published port, or the socket via docker exec."""
    if settings.https:
        cmd = [
            "curl", "-sS", "-f", "-o", "/dev/null", "--max-time", "1",
            "--cacert", str(STATE / "pebble-root.pem"), "--resolve", f"{DOMAIN}:{HTTPS_PORT}:127.0.0.1",
            f"https://{DOMAIN}:{HTTPS_PORT}/health",
        ]  # fmt: skip
    else:
        cmd = ["docker", "exec", CONTAINER, "curl", "-sf", "-o", "/dev/null", "--max-time", "1", "--unix-socket"]
        cmd += [SOCKET, "http://localhost/health"]
    return run(cmd, check=False, timeout=10).returncode == 0


def drill_restart(settings: Settings) -> Drill:
    drill = Drill("restart of the whole server", "HTTPS answers in < 30 s; data intact")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
    written = api("POST", "/api/notes", {"title": f"drill: written before the restart {stamp}", "body": stamp})
    _, page = get_json("/api/notes?limit=1", https=False)
    started = time.monotonic()
    restart = run(["docker", "restart", CONTAINER], check=False, timeout=180)
    booted = time.monotonic()
    probes = failures = 0
    up = False
    while time.monotonic() - started < 180:
        probes += 1
        if controller_probe(settings):
            up = True
            break
        failures += 1
        time.sleep(0.1)
    answered = time.monotonic()
    drill.recovery_s = round(answered - started, 2)
    drill.requests, drill.failed = probes, failures
    services = sandbox("systemctl is-active nginx supervisor" if settings.https else "systemctl is-active supervisor")
    note_after = api("GET", f"/api/notes/{written['id']}") if up else {}
    _, page_after = get_json("/api/notes?limit=1", https=False)
    checks = {
        "the container restarted": restart.returncode == 0 and container_running(),
        "HTTPS answered within 30 s" if settings.https else "the app answered within 30 s": up
        and drill.recovery_s < 30,
        "nginx and Supervisor came back by themselves": services.returncode == 0,
        "the note written before is there": note_after.get("body") == stamp,
        "no note was lost": page_after.get("total", -1) >= page.get("total", 0),
    }
    drill.detail.update(
        checks=checks,
        stop_and_start_s=round(booted - started, 2),
        boot_to_answer_s=round(answered - booted, 2),
        probes_failed_while_down=failures,
    )
    drill.passed = all(checks.values())
    drill.why = (
        f"{booted - started:.1f} s docker restart (stop + start), {answered - booted:.1f} s boot to first 200; "
        f"the {failures} failed are probes sent while it was down"
        if drill.passed
        else _missed(checks)
    )
    return drill


def not_run(name: str, target: str, why: str) -> Drill:
    return Drill(name, target, passed=None, why=why)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--short", action="store_true", help="lighter load, for the test suite")
    parser.add_argument("--only", action="append", help="run only drills whose function name contains this")
    parser.add_argument("--out", type=Path, help="default: bench/results, or .cache/bench/short with --short")
    args = parser.parse_args(argv)
    args.out = output_dir(args.out, "short" if args.short else None)  # --short: the test suite's

    started = time.time()
    log("Preparing the sandbox: the load generator and the bench's helpers")
    install_tools()
    why_no_https = https_status()
    https = why_no_https is None
    if not https:
        log(f"No HTTPS front: the load goes to the app's socket; HTTPS drills cannot run ({why_no_https})")
    settings = Settings(
        https=https,
        concurrency=2 if args.short else 4,
        interval=0.05 if args.short else 0.01,
        max_seconds=300 if args.short else 600,
        max_requests=30_000 if args.short else 120_000,
        health_timeout=20,
    )
    drills: list[tuple[str, Callable[[Settings], Drill], bool]] = [
        ("requirements", drill_requirements, False),
        ("broken_import", drill_broken_import, False),
        ("unhealthy", drill_unhealthy, False),
        ("websockets", drill_websockets, False),
        ("renewal", drill_renewal, True),
        ("kill_worker", drill_kill_worker, False),
        ("kill_master", drill_kill_master, False),
        ("nginx_invalid", drill_nginx_invalid, True),
        ("restart", drill_restart, False),
    ]
    results: list[Drill] = []
    try:
        for key, fn, needs_https in drills:
            if args.only and not any(word in key for word in args.only):
                continue
            log(f"Drill: {key.replace('_', ' ')}")
            if needs_https and not https:
                results.append(not_run(key.replace("_", " "), "-", f"not run: {why_no_https}"))
                continue
            try:
                drill = fn(settings)
            except Exception as error:  # a drill that crashed is a failed drill; the others still run
                drill = Drill(key.replace("_", " "), "-", passed=False, why=f"error: {error}"[:300])
            results.append(drill)
            verdict = {True: "pass", False: "FAIL", None: "not run"}[drill.passed]
            note(f"{drill.name}: {verdict} {drill.why}")
    finally:
        log("Leaving the sandbox as it was: main deployed")
        if not container_running():
            run(["docker", "start", CONTAINER], check=False)
        main_head = run(["git", "--git-dir", str(APP_REPO), "rev-parse", "main"]).stdout.strip()
        if live()["release"]["id"] != main_head[:12]:
            restore = playbook("app.yml", label="drill-restore")
            if not restore.ok:
                print(restore.failure(), file=sys.stderr)

    m = machine()
    summary = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": f"{m['cpus']} cores ({m['cpu_model']}), {m['memory_gib']} GiB, kernel {m['kernel']}, "
        f"load average {load_average()}",
        "load": (
            f"loadgen.py inside the sandbox, {'HTTPS through nginx' if https else 'the stable unix socket'}, "
            f"GET /health, a new connection per request, {settings.concurrency} threads, "
            f"{settings.interval} s pause per thread, at most {settings.max_requests} requests and "
            f"{settings.max_seconds} s per drill{' (--short)' if args.short else ''}"
        ),
        "https": https,
        "seconds": round(time.time() - started),
        "drills": [asdict(d) for d in results],
    }
    markdown = report.drills_markdown(summary)
    out = ROOT / args.out  # an absolute --out stays as it is
    out.mkdir(parents=True, exist_ok=True)
    (out / "drills.json").write_text(json.dumps(summary, indent=2) + "\n")
    (out / "drills.md").write_text(markdown)
    if out.resolve() == RESULTS.resolve():
        report.update_readme(markdown, "drills")
    print()
    print(markdown)
    passed = sum(1 for d in results if d.passed)
    print(f"drills: {passed} passed, {len(results) - passed} failed")
    return 0 if results and passed == len(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
