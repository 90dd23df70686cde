"""The sandbox server of `make demo`, as the bench and the drills use it.

Everything that runs a load or reads a process runs inside the sandbox container
(`docker exec`): the load generators reach the app on loopback, as a co-located
proxy would, without Docker's port proxy in the path. Playbooks run from the
controller over SSH, exactly as `make demo` and a real deploy do.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTAINER = os.environ.get("BENCH_CONTAINER", "fastapi-kit-sandbox")
STATE = ROOT / ".cache" / "sandbox"
INVENTORY = ROOT / "inventory" / "sandbox"
APP_REPO = ROOT / ".cache" / "repos" / "webapp.git"
WORK = ROOT / ".cache" / "bench"
LOGS = WORK / "logs"
RESULTS = ROOT / "bench" / "results"
ANSIBLE_PLAYBOOK = ROOT / ".venv" / "bin" / "ansible-playbook"

DOMAIN = os.environ.get("BENCH_DOMAIN", "app.example.test")
HTTPS_PORT = int(os.environ.get("KIT_SANDBOX_HTTPS_PORT", "8443"))
# The kit's own app, which the bench measures (the sandbox has another: inventory/sandbox).
APP = "webapp"
SOCKET = "/run/webapp/app.sock"
LIVE_STATE = "/var/lib/webapp/live.json"
# Where the bench's own helpers go on the sandbox (and Debian's tools come from apt).
REMOTE_DIR = "/usr/local/lib/kit-bench"
LOADGEN = f"{REMOTE_DIR}/loadgen.py"
WSLOAD = f"{REMOTE_DIR}/wsload.py"
WEBSOCKET_PATH = "/ws/notes"
REMOTE_SOURCES = [
    ROOT / "bench" / "remote" / "cpu.py",
    ROOT / "bench" / "remote" / "handshake.py",
    ROOT / "bench" / "remote" / "latency.py",
    ROOT / "bench" / "remote" / "procmem.py",
    ROOT / "bench" / "remote" / "wsload.py",
    ROOT / "molecule" / "resources" / "loadgen.py",
    ROOT / "scripts" / "lib.sh",
]


def output_dir(given: Path | None, partial: str | None) -> Path:
    """Where a run writes its results: --out if given; else bench/results for a whole run, or
    .cache/bench/<partial> for a partial one, which leaves the committed results alone."""
    return given or (WORK / partial if partial else RESULTS)


def log(message: str) -> None:
    print(f"\033[1m==> {message}\033[0m", file=sys.stderr, flush=True)


def note(message: str) -> None:
    print(f"    {message}", file=sys.stderr, flush=True)


def run(cmd: list[str], *, timeout: float = 120, check: bool = True, **kwargs) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)
    if check and result.returncode != 0:
        raise RuntimeError(
            f"{shlex.join(cmd)} failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
        )
    return result


def container_exec(
    container: str, script: str, *, timeout: float = 120, check: bool = True, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a shell script as root inside a container."""
    options = [f"--env={name}={value}" for name, value in (env or {}).items()]
    return run(["docker", "exec", *options, container, "bash", "-c", script], timeout=timeout, check=check)


def sandbox(script: str, *, timeout: float = 120, check: bool = True, env: dict[str, str] | None = None):
    """Run a shell script as root inside the sandbox container."""
    return container_exec(CONTAINER, script, timeout=timeout, check=check, env=env)


def sandbox_json(script: str, *, timeout: float = 120, env: dict[str, str] | None = None) -> dict:
    return json.loads(sandbox(script, timeout=timeout, env=env).stdout)


def container_running(name: str = CONTAINER) -> bool:
    result = run(["docker", "container", "inspect", "-f", "{{.State.Running}}", name], check=False)
    return result.returncode == 0 and result.stdout.strip() == "true"


def install_tools(container: str = CONTAINER) -> None:
    """Copy the bench's helpers in, and install Debian's wrk and h2load (idempotent, apt_ensure)."""
    container_exec(container, f"install -d -m 0755 {REMOTE_DIR}")
    for source in REMOTE_SOURCES:
        run(["docker", "cp", str(source), f"{container}:{REMOTE_DIR}/{source.name}"])
    container_exec(container, f". {REMOTE_DIR}/lib.sh && apt_ensure wrk nghttp2-client curl openssl", timeout=600)


def live() -> dict:
    return json.loads(sandbox(f"cat {LIVE_STATE}").stdout)


def gunicorn_pids() -> tuple[int, list[int]]:
    """The live color's Gunicorn master and its workers."""
    color = live()["color"]
    master = int(sandbox(f"supervisorctl pid webapp-{color}").stdout.strip())
    workers = [int(pid) for pid in sandbox(f"ps -o pid= --ppid {master}", check=False).stdout.split()]
    return master, workers


def https_status() -> str | None:
    """None when the HTTPS front answers inside the sandbox; otherwise why it does not."""
    if sandbox("command -v nginx", check=False).returncode != 0:
        return "nginx is not installed on the sandbox (the HTTPS issue has not landed yet)"
    if sandbox("systemctl is-active --quiet nginx", check=False).returncode != 0:
        return "nginx is installed but not running on the sandbox"
    probe = sandbox(
        f"curl -sS -o /dev/null -w '%{{http_code}}' --max-time 5 https://{DOMAIN}/health", check=False, timeout=30
    )
    if probe.stdout.strip() != "200":
        answer = probe.stdout.strip() or "no answer"
        return f"https://{DOMAIN}/health inside the sandbox gave {answer}: {probe.stderr.strip()}"
    return None


def https_url(path: str) -> str:
    return f"https://{DOMAIN}{path}"


def curl_command(path: str, *, https: bool, timeout: float = 5, status_only: bool = False) -> str:
    """curl for GET path on the product path (HTTPS through nginx) or on the app's stable socket.

    Prints the body, a newline and the status; with status_only, prints nothing and fails unless 2xx.
    """
    target = (
        shlex.quote(https_url(path)) if https else f"--unix-socket {SOCKET} {shlex.quote('http://localhost' + path)}"
    )
    output = "-f -o /dev/null" if status_only else "-w '\\n%{http_code}'"
    return f"curl -sS --max-time {timeout} {output} {target}"


def get_json(path: str, *, https: bool) -> tuple[int, dict]:
    out = sandbox(curl_command(path, https=https), check=False).stdout.rstrip().rsplit("\n", 1)
    status = int(out[-1]) if out and out[-1].isdigit() else 0
    try:
        body = json.loads(out[0]) if len(out) == 2 else {}
    except ValueError:
        body = {}
    return status, body


def api(method: str, path: str, body: dict | None = None) -> dict:
    """Call the notes API with the sandbox's token, on the stable socket (the app itself)."""
    token = (STATE / "api-token").read_text().strip()
    data = f"-H 'Content-Type: application/json' --data {shlex.quote(json.dumps(body))}" if body is not None else ""
    out = sandbox(
        f"curl -sS --fail-with-body --max-time 10 --unix-socket {SOCKET} -X {method} "
        f'-H "Authorization: Bearer $KIT_TOKEN" {data} http://localhost{shlex.quote(path)}',
        env={"KIT_TOKEN": token},
    ).stdout
    return json.loads(out) if out.strip() else {}


@dataclass
class PlaybookRun:
    playbook: str
    returncode: int
    seconds: float
    output: str
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def recap(self) -> dict[str, int]:
        """The PLAY RECAP counters of the (single) host."""
        match = re.search(r"PLAY RECAP \*+\n\S+\s+:\s+(.*)", self.output)
        if not match:
            return {}
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match.group(1))}

    def failure(self, lines: int = 12) -> str:
        """The failed task's message, as the play printed it."""
        blocks = re.findall(r"^\[ERROR\]: (.*?)(?=^\S+ \[|^TASK |^PLAY |^fatal:|\Z)", self.output, re.S | re.M)
        text = blocks[-1] if blocks else self.output[-1500:]
        return "\n".join(text.strip().splitlines()[:lines])


def playbook(
    name: str,
    *extra: dict | str,
    inventory: Path = INVENTORY,
    env: dict[str, str] | None = None,
    timeout: float = 3600,
    label: str = "",
    kit: Path = ROOT,
) -> PlaybookRun:
    """Run one of the kit's playbooks from the controller, as a user would; the output goes to a log.

    name is a file in playbooks/, or a path from the repository's root (the bench's own playbooks).
    The kit's playbooks run for the kit's app only (-e app=webapp): the sandbox runs a second
    app (taskboard), which the bench leaves alone. kit is the tree whose playbooks, roles and
    ansible.cfg run (another revision's: kit_at()); the inventory is always this tree's sandbox.
    """
    LOGS.mkdir(parents=True, exist_ok=True)
    path = kit / name if "/" in name else kit / "playbooks" / name
    args = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(path)] + ([] if "/" in name else ["-e", f"app={APP}"])
    for value in extra:
        args += ["-e", value if isinstance(value, str) else json.dumps(value)]
    stamp = time.strftime("%Y%m%dT%H%M%S")
    path = LOGS / f"{stamp}-{label or Path(name).stem}.log"
    where = "" if kit == ROOT else f" [the kit at {kit.name}]"
    shown = " ".join(shlex.quote(a) for a in args[4:])
    note(f"ansible-playbook {name} {shown}{where}  (log: {path.relative_to(ROOT)})")
    full_env = dict(os.environ, ANSIBLE_CONFIG=str(kit / "ansible.cfg"), ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0")
    full_env.update(env or {})
    started = time.monotonic()
    try:
        result = subprocess.run(
            args, cwd=kit, env=full_env, capture_output=True, text=True, timeout=timeout, check=False
        )
        returncode, output = result.returncode, result.stdout + result.stderr
    except subprocess.TimeoutExpired as error:
        returncode, output = -1, f"{error.stdout or ''}\n[bench] timed out after {timeout} s"
    seconds = time.monotonic() - started
    path.write_text(output)
    outcome = "ok" if returncode == 0 else f"FAILED (rc {returncode})"
    note(f"{name}: {outcome} in {seconds:.1f} s")
    return PlaybookRun(name, returncode, seconds, output, path)


def kit_at(revision: str) -> tuple[Path, str]:
    """The kit as it was at revision (a commit, tag or branch of this repository), checked out once
    in a worktree under .cache/bench/kits/, and its commit."""
    commit = run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{revision}^{{commit}}"]).stdout.strip()
    tree = WORK / "kits" / commit[:12]
    if not (tree / "playbooks").is_dir():
        run(["git", "-C", str(ROOT), "worktree", "prune"])
        run(["git", "-C", str(ROOT), "worktree", "add", "-f", "--detach", str(tree), commit])
    return tree, commit


def app_commit(branch: str, message: str, edit: Callable[[Path], None], base: str = "main") -> str:
    """Commit a change to the app on top of base in a temporary clone of the app repository,
    push it to the branch bench/<branch> (main stays as scripts/ensure-app-repo made it) and
    return the commit. edit gets the clone's app/ directory."""
    WORK.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=WORK, prefix="app-clone-") as clone:
        run(["git", "clone", "-q", str(APP_REPO), clone])
        run(["git", "-C", clone, "checkout", "-q", "--detach", f"origin/{base}"])
        edit(Path(clone) / "app")
        env = dict(os.environ, GIT_AUTHOR_NAME="kit bench", GIT_AUTHOR_EMAIL="bench@fastapi-kit.invalid")
        env.update(GIT_COMMITTER_NAME="kit bench", GIT_COMMITTER_EMAIL="bench@fastapi-kit.invalid")
        run(["git", "-C", clone, "commit", "-qam", message], env=env)
        run(["git", "-C", clone, "push", "-qf", "origin", f"HEAD:refs/heads/bench/{branch}"])
        return run(["git", "-C", clone, "rev-parse", "HEAD"]).stdout.strip()


def append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def machine(container: str = CONTAINER) -> dict:
    """What the numbers were measured on (the software versions inside container)."""
    cpu = ""
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kib = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    os_name = "unknown"
    os_release = Path("/etc/os-release")
    if os_release.exists():
        match = re.search(r'^PRETTY_NAME="?(.*?)"?$', os_release.read_text(), re.M)
        os_name = match.group(1) if match else os_name
    docker = run(["docker", "version", "-f", "{{.Server.Version}}"], check=False).stdout.strip()
    inside = container_exec(
        container,
        ". /etc/os-release; echo $PRETTY_NAME; "
        "{ command -v nginx >/dev/null && nginx -v 2>&1 || echo 'nginx: not installed'; }; "
        "openssl version; wrk --version 2>&1 | head -1 | cut -d' ' -f1-2; h2load --version | head -1",
        check=False,
    ).stdout.splitlines()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": os.uname().release,
        "os": os_name,
        "docker": docker,
        "sandbox": inside,
    }


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]
