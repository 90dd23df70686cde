"""make bench-cluster: past one server, side by side in one run (issue #13).

On molecule/cluster's containers (a load balancer, two app servers, PostgreSQL), which
scripts/bench-cluster creates and converges with the real site.yml first:

1. **Two app servers against one**, behind the load balancer: GET /api/notes?limit=20 (a
   page of notes from PostgreSQL) over HTTPS with keep-alive, from wrk on the load
   balancer. "One" is the same load balancer with the second server marked `down` in its
   upstream (the site file edited, `nginx -t`, a reload; the file is put back at the end).
   Each app server gets the same CPU quota (`docker update --cpus`, --app-cpus): without
   one, both would share this machine's two cores and a second server could add no CPU;
   with it, each is a server of a fixed size, as in a real deployment. The load balancer,
   PostgreSQL and wrk share the rest. Each app server's own nginx log says which served.
2. **PostgreSQL against SQLite** for the same endpoint and the same release: two Gunicorns
   started for the bench on the first app server, from its live release with its Gunicorn
   settings, program environment and settings file, on loopback TCP ports; one on the
   app's PostgreSQL database (the db server), one on a SQLite file. Both hold the same
   number of notes, written through the API. wrk runs on that server; the quotas are
   lifted for this part (every container shares the two cores, as in `make bench`).

Each comparison is measured in interleaved rounds, and every figure is printed with its
spread (min, median, max over the rounds). Two servers must give at least SCALE_TARGET
times one server's throughput, with a p99 no worse; PostgreSQL against SQLite is
reported, not judged. A failed request anywhere, or a miss, makes the run exit 1.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import sys
import time
from functools import partial
from pathlib import Path

from kitbench import report, verdict
from kitbench.loadtools import Result, wrk
from kitbench.sandbox import RESULTS, container_exec, install_tools, load_average, log, machine, note, run
from kitbench.verdict import Spread

LB = "kit-cluster-lb"
WEBS = ("kit-cluster-web", "kit-cluster-web2")
DOMAIN = "cluster.example.test"
APP = "webapp"
PATH = "/api/notes?limit=20"
SITE_FILE = f"/etc/nginx/apps/{APP}.conf"
BACKEND_PORT = 8080
# The bench's own Gunicorns on the first app server, and where their files go.
TWIN_PORTS = {"postgresql": 8101, "sqlite": 8102}
WORK_DIR = "/var/tmp/kit-bench"
NOTES = 20
# Two app servers must give at least this many times one server's requests/s, with a p99
# no worse than one server's (each server with the same CPU quota).
SCALE_TARGET = 1.5
SCALE_P99_TARGET = 1.0


# --- what the bench changes, as text (unit-tested) --------------------------------------


def mark_down(site: str, address: str, port: int = BACKEND_PORT) -> str:
    """The load balancer's site file with the upstream server address:port marked `down`."""
    pattern = re.compile(rf"^(\s*server\s+{re.escape(address)}:{port}\b[^;\n]*?)(\s+down)?;", re.M)
    changed, count = pattern.subn(r"\1 down;", site)
    if count != 1:
        raise ValueError(f"{count} upstream lines for {address}:{port} in the load balancer's site, not 1")
    return changed


def supervisor_environment(line: str) -> dict[str, str]:
    """A Supervisor `environment=` value (NAME="value",... with %% for %) as a dict."""
    pairs = re.findall(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"', line)
    if not pairs:
        raise ValueError(f'no NAME="value" pairs in {line!r}')
    return {name: value.replace('\\"', '"').replace("%%", "%") for name, value in pairs}


def program_settings(program: str) -> dict[str, str]:
    """command, directory, user and environment of a Supervisor program file of the gunicorn role."""
    settings = {}
    for key in ("command", "directory", "user", "environment"):
        match = re.search(rf"^{key}=(.*)$", program, re.M)
        if match is None:
            raise ValueError(f"no {key}= in the program file")
        settings[key] = match.group(1).strip()
    return settings


def launcher_prefix(command: str, settings_file: str | None = None) -> list[str]:
    """The start of a program's command up to `--`: the launcher, its settings file (or
    settings_file instead), its PYTHONPATH (`with-env FILE --path=... --`)."""
    words = shlex.split(command)
    if len(words) < 3 or not words[0].endswith("/with-env") or "--" not in words:
        raise ValueError(f"not a command of a release's launcher: {command}")
    prefix = words[: words.index("--") + 1]
    if settings_file:
        prefix[1] = settings_file
    return prefix


def twin_command(command: str, *, port: int, name: str, settings_file: str | None = None) -> list[str]:
    """The live color's Gunicorn command, bound to 127.0.0.1:port instead of its sockets, named
    name, and (settings_file) with another settings file for the launcher."""
    prefix = launcher_prefix(command, settings_file)
    words = shlex.split(command)[len(prefix) :]
    kept: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in ("--bind", "--control-socket", "--name"):
            skip = True
        else:
            kept.append(word)
    if "--config" not in kept or not kept[0].endswith("/gunicorn"):
        raise ValueError(f"not a Gunicorn command of the gunicorn role: {command}")
    module = kept.pop()
    return [*prefix, *kept, "--bind", f"127.0.0.1:{port}", "--name", name, module]


def sqlite_settings(settings: str, database: str) -> str:
    """The app's settings file (NAME=json lines) on a SQLite file instead of its PostgreSQL URL."""
    lines = [line for line in settings.splitlines() if not line.startswith(("APP_DATABASE_URL=", "APP_DATABASE_PATH="))]
    if len(lines) == len(settings.splitlines()):
        raise ValueError("the settings name no database (APP_DATABASE_URL): not the kit's app on PostgreSQL")
    return "\n".join([*lines, f"APP_DATABASE_PATH={json.dumps(database)}"]) + "\n"


def setting(settings: str, name: str) -> str:
    """One value of a settings file (NAME=json lines)."""
    match = re.search(rf"^{re.escape(name)}=(.*)$", settings, re.M)
    if match is None:
        raise ValueError(f"no {name} in the settings file")
    return json.loads(match.group(1))


def compare(rounds: dict[str, list[dict]], first: str, second: str, **targets) -> dict:
    """Each configuration's figures with their spread, and first against second round by round."""
    figures = {
        name: {key: Spread.of(entry[key] for entry in entries).as_list(2) for key in ("rps", "p99_ms")}
        for name, entries in rounds.items()
    }
    judged = verdict.judge(rounds[first], rounds[second], **targets)
    a, b = (Spread.of(e["rps"] for e in rounds[name]) for name in (first, second))
    judged["rps_apart"] = not a.overlaps(b)
    return {"figures": figures, "failed": {name: verdict.errors(entries) for name, entries in rounds.items()}} | judged


# --- the containers ------------------------------------------------------------------------


def on(container: str):
    return partial(container_exec, container)


def address_of(container: str) -> str:
    return container_exec(container, "hostname -I").stdout.split()[0]


def set_app_cpus(cpus: float | None) -> None:
    """The same CPU quota on each app server; None lifts it (a quota of every core of the machine:
    `docker update --cpus=0` leaves the quota as it was)."""
    quota = cpus or float(os.cpu_count() or 1)
    for name in WEBS:
        run(["docker", "update", f"--cpus={quota:g}", name])
        nano = run(["docker", "inspect", "-f", "{{.HostConfig.NanoCpus}}", name]).stdout.strip()
        if int(nano) != round(quota * 1e9):
            raise RuntimeError(f"{name}: the CPU quota is {int(nano) / 1e9:g}, not {quota:g}, after docker update")


def served_lines() -> dict[str, int]:
    """Lines in each app server's nginx log of the app: who served what between two readings."""
    return {
        name: int(container_exec(name, f"wc -l < /var/log/nginx/{APP}.access.log").stdout.split()[0]) for name in WEBS
    }


def use_servers(count: int, original: str, web2: str) -> None:
    site = original if count == 2 else mark_down(original, web2)
    container_exec(
        LB,
        f"cat > {SITE_FILE} <<'KIT_EOF'\n{site}KIT_EOF\nnginx -t -q && systemctl reload nginx",
    )
    time.sleep(1)


def load(container: str, url: str, args: argparse.Namespace, seconds: float | None = None) -> Result:
    return wrk(url, connections=args.connections, seconds=seconds or args.seconds, on=on(container))


def servers_comparison(args: argparse.Namespace) -> dict:
    """Item 1: two app servers against one, through the load balancer."""
    original = container_exec(LB, f"cat {SITE_FILE}").stdout
    web2 = address_of(WEBS[1])
    mark_down(original, web2)  # the site has web2's line, before anything changes
    url = f"https://{DOMAIN}{PATH}"
    rounds: dict[str, list[dict]] = {"two servers": [], "one server": []}
    served: dict[str, list[dict]] = {"two servers": [], "one server": []}
    set_app_cpus(args.app_cpus)
    try:
        for number in range(1, args.rounds + 1):
            for name, count in (("two servers", 2), ("one server", 1)):
                use_servers(count, original, web2)
                load(LB, url, args, seconds=2)  # warm-up: connections, the reload's old workers gone
                before = served_lines()
                result = load(LB, url, args)
                after = served_lines()
                share = {web: after[web] - before[web] for web in WEBS}
                rounds[name].append(result.as_dict())
                served[name].append(share)
                note(f"round {number}, {name}: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms, served {share}")
    finally:
        use_servers(2, original, web2)
        set_app_cpus(None)
    compared = compare(rounds, "two servers", "one server", throughput_target=SCALE_TARGET, p99_target=SCALE_P99_TARGET)
    # The configuration is what it says: one server means web2 served none of it.
    if any(share[WEBS[1]] for share in served["one server"]):
        compared["problems"].append("the second server served requests while marked down")
        compared["verdict"] = verdict.MISS
    if any(min(share.values()) == 0 for share in served["two servers"]):
        compared["problems"].append("a server served nothing while both were in the upstream")
        compared["verdict"] = verdict.MISS
    return compared | {"served": served, "rounds": rounds, "app_cpus": args.app_cpus}


def start_twins(web: str) -> dict[str, str]:
    """Item 2's two Gunicorns of the live release, on PostgreSQL and on SQLite; their URLs."""
    state = json.loads(container_exec(web, f"cat /var/lib/{APP}/live.json").stdout)
    release = state["release"]
    program = program_settings(container_exec(web, f"cat /etc/supervisor/conf.d/{APP}-{state['color']}.conf").stdout)
    settings = container_exec(web, f"cat {shlex.quote(release['env_file'])}").stdout
    user = program["user"]
    group = container_exec(web, f"id -gn {shlex.quote(user)}").stdout.strip()
    container_exec(web, f"rm -rf {WORK_DIR} && install -d -o {user} -g {group} -m 0750 {WORK_DIR}")
    sqlite_file = f"{WORK_DIR}/sqlite.env"
    container_exec(
        web,
        f"cat > {sqlite_file} <<'KIT_EOF'\n{sqlite_settings(settings, f'{WORK_DIR}/app.db')}KIT_EOF\n"
        f"chown root:{group} {sqlite_file} && chmod 0640 {sqlite_file}",
    )
    urls = {}
    for database, port in TWIN_PORTS.items():
        env = supervisor_environment(program["environment"]) | {"PROMETHEUS_MULTIPROC_DIR": f"{WORK_DIR}/{database}"}
        own_settings = sqlite_file if database == "sqlite" else None
        # As the app's user, with the program's environment alone; setpriv execs, so $! is
        # the Gunicorn master itself (the launcher execs too).
        as_app = shlex.join(
            ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups", "env", "-i"]
            + [f"{name}={value}" for name, value in env.items()]
        )
        cd = f"cd {shlex.quote(program['directory'])}"
        if own_settings:
            # The schema, as the release's own command makes it (app_release_commands).
            migrate = shlex.join([*launcher_prefix(program["command"], own_settings), "alembic", "upgrade", "head"])
            container_exec(web, f"{cd} && {as_app} {migrate}", timeout=120)
        command = shlex.join(
            twin_command(program["command"], port=port, name=f"{APP}-bench-{database}", settings_file=own_settings)
        )
        container_exec(
            web,
            f"{cd} && {{ {as_app} {command} > {WORK_DIR}/{database}.log 2>&1 & echo $! > {WORK_DIR}/{database}.pid; }}",
        )
        urls[database] = f"http://127.0.0.1:{port}"
    token = setting(settings, "APP_API_TOKEN")
    for database, url in urls.items():
        wait_healthy(web, url, database)
        seed(web, url, token)
    return urls


def wait_healthy(web: str, url: str, database: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if container_exec(web, f"curl -sSf -o /dev/null --max-time 5 {url}/health", check=False).returncode == 0:
            return
        time.sleep(1)
    log_tail = container_exec(web, f"tail -n 30 {WORK_DIR}/{database}.log", check=False).stdout
    raise RuntimeError(f"the bench's Gunicorn on {database} did not become healthy in {seconds:g} s:\n{log_tail}")


def seed(web: str, url: str, token: str) -> None:
    """At least NOTES notes, so each request reads a full page."""
    have = json.loads(container_exec(web, f"curl -sSf {url}/api/notes?limit=1").stdout)["total"]
    for number in range(have, NOTES):
        body = json.dumps({"title": f"bench note {number}", "body": "x" * 200})
        container_exec(
            web,
            f"curl -sSf -o /dev/null -X POST -H 'Content-Type: application/json' "
            f'-H "Authorization: Bearer $KIT_TOKEN" --data {shlex.quote(body)} {url}/api/notes',
            env={"KIT_TOKEN": token},
        )


def stop_twins(web: str) -> None:
    for database in TWIN_PORTS:
        container_exec(
            web,
            f"pid=$(cat {WORK_DIR}/{database}.pid 2>/dev/null) && kill -TERM $pid && "
            f"for _ in $(seq 60); do kill -0 $pid 2>/dev/null || exit 0; sleep 0.5; done; kill -KILL $pid",
            check=False,
        )


def databases_comparison(args: argparse.Namespace) -> dict:
    """Item 2: the same endpoint and release on PostgreSQL and on SQLite, straight to Gunicorn."""
    web = WEBS[0]
    rounds: dict[str, list[dict]] = {"postgresql": [], "sqlite": []}
    try:
        urls = start_twins(web)
        for number in range(1, args.rounds + 1):
            for database, url in urls.items():
                result = load(web, f"{url}{PATH}", args)
                rounds[database].append(result.as_dict())
                note(f"round {number}, {database}: {result.rps:.0f} req/s, p99 {result.p99_ms:.1f} ms")
    finally:
        stop_twins(web)
    compared = compare(rounds, "postgresql", "sqlite", throughput_target=None, p99_target=float("inf"))
    return compared | {"rounds": rounds}


# --- the report ----------------------------------------------------------------------------


def markdown(results: dict) -> str:
    servers, databases = results["servers"], results["databases"]
    lines = [
        f"# Past one server, {results['date']}",
        "",
        report.machine_line(results, "the load balancer"),
        "",
        f"{results['settings']['rounds']} interleaved rounds of {results['settings']['seconds']:g} s, "
        f"{results['settings']['connections']} connections (wrk, HTTP/1.1 keep-alive), `GET {PATH}`: "
        "median (min-max) over the rounds.",
        "",
        f"## Two app servers against one, through the load balancer (each app server {servers['app_cpus']:g} CPU)",
        "",
        "| Configuration | requests/s | p99 ms | failed |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in ("two servers", "one server"):
        lines.append(row(name, servers, name))
    lines += [
        "",
        f"Two against one, round by round: requests/s **{spread_text(servers['rps_ratio'])}**, "
        f"p99 {spread_text(servers['p99_ratio'])}; target at least {SCALE_TARGET} and at most "
        f"{SCALE_P99_TARGET}: **{servers['verdict']}**{problems(servers)}. "
        f"{'The ranges do not meet.' if servers['rps_apart'] else 'The ranges meet: within the spread.'}",
        "",
        "## PostgreSQL against SQLite, one app server, straight to Gunicorn (no CPU quota)",
        "",
        "| Database | requests/s | p99 ms | failed |",
        "| --- | ---: | ---: | ---: |",
        row("PostgreSQL (the db server, TLS)", databases, "postgresql"),
        row("SQLite (a file on the app server)", databases, "sqlite"),
        "",
        f"PostgreSQL against SQLite, round by round: requests/s {spread_text(databases['rps_ratio'])}, "
        f"p99 {spread_text(databases['p99_ratio'])}"
        f"{'; the ranges do not meet' if databases['rps_apart'] else '; the ranges meet: within the spread'}"
        f"{problems(databases)}.",
        "",
    ]
    return "\n".join(lines)


def row(label: str, compared: dict, name: str) -> str:
    figures = compared["figures"][name]
    return (
        f"| {label} | {spread_text(figures['rps'], '.0f')} | {spread_text(figures['p99_ms'], '.1f')} | "
        f"{compared['failed'][name]} |"
    )


def spread_text(values: list[float] | None, fmt: str = ".2f") -> str:
    """A spread as judge() lists it, [min, median, max], as Spread.text writes it."""
    return Spread(*values).text(fmt) if values else "not measured"


def problems(compared: dict) -> str:
    return f" ({'; '.join(compared['problems'])})" if compared["problems"] else ""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", 10)))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 5)))
    parser.add_argument("--connections", type=int, default=16, help="requests in flight")
    parser.add_argument("--app-cpus", type=float, default=0.5, help="each app server's CPU quota in item 1")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    started = time.time()
    for container in (LB, WEBS[0]):
        install_tools(container)
    results: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "machine": machine(LB),
        "load_average_start": load_average(),
        "settings": {"seconds": args.seconds, "rounds": args.rounds, "connections": args.connections},
    }
    log(f"Two app servers against one, {args.rounds} rounds of {args.seconds:g} s, {args.app_cpus:g} CPU each")
    results["servers"] = servers_comparison(args)
    log(f"PostgreSQL against SQLite, {args.rounds} rounds of {args.seconds:g} s")
    results["databases"] = databases_comparison(args)
    results["load_average_end"] = load_average()
    results["duration_seconds"] = round(time.time() - started)
    text = markdown(results)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench-cluster.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "bench-cluster.md").write_text(text)
    if args.out.resolve() == RESULTS.resolve():
        report.update_readme(text, section="bench-cluster")
    print(text)
    missed = [
        f"{name}: {'; '.join(results[name]['problems'])}"
        for name in ("servers", "databases")
        if results[name]["verdict"] == verdict.MISS
    ]
    for line in missed:
        print(f"MISS {line}", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
