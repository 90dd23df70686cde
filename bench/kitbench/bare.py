"""A second, throwaway sandbox server for the bench's "full converge on a bare host".

Made as scripts/demo makes the sandbox, by the same scripts/server-container (same
image, same first-boot key, the same test-only preparation), under another name and SSH port, so the main sandbox stays
as it is. The playbook run is the real playbooks/site.yml through the sandbox's own
inventory, pointed at this host's port and known_hosts; "no artifact cache" points
pyenv_artifact_cache_dir at an empty directory, so the pyenv role compiles CPython.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import yaml

from kitbench.sandbox import APP, CONTAINER, INVENTORY, ROOT, STATE, WORK, note, playbook, run

NAME = "fastapi-kit-bench-bare"
# Its own name on the sandbox network, where the ACME server validates it (the sandbox is app.example.test).
DOMAIN = "bench-bare.example.test"
SSH_PORT = int(os.environ.get("BENCH_BARE_SSH_PORT", "2223"))


def image() -> str:
    return run(["docker", "container", "inspect", "-f", "{{.Config.Image}}", CONTAINER]).stdout.strip()


def user_networks() -> list[str]:
    """The sandbox's user-defined Docker networks (e.g. the one the ACME server is on)."""
    names = run(
        [
            "docker",
            "container",
            "inspect",
            "-f",
            "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{end}}",
            CONTAINER,
        ]
    ).stdout.split()
    return [name for name in names if name not in ("bridge", "host", "none")]


def remove() -> None:
    run(["docker", "rm", "-f", NAME], check=False)


def start() -> Path:
    """A fresh server: systemd, sshd with new host keys, root with the sandbox's key. Returns known_hosts."""
    remove()
    server = str(ROOT / "scripts" / "server-container")
    run(
        [
            server, "start", NAME, image(), "--hostname", "bench-bare",
            "-v", f"{ROOT}/.cache/offline:/opt/kit-offline:ro", "-v", f"{ROOT}/.cache/repos:/opt/kit-repos:ro",
            "-p", f"127.0.0.1:{SSH_PORT}:22",
        ],
        timeout=300,
    )  # fmt: skip
    for network in user_networks():
        run(["docker", "network", "connect", "--alias", DOMAIN, network, NAME])
    host_key = run([server, "login", NAME, str(STATE / "id_ed25519.pub")], timeout=120).stdout.strip()
    WORK.mkdir(parents=True, exist_ok=True)
    known_hosts = WORK / "bare-known_hosts"
    known_hosts.write_text(f"[127.0.0.1]:{SSH_PORT} {host_key}\n")
    pebble_root = STATE / "pebble-root.pem"
    if pebble_root.exists():  # the HTTPS contract: the ACME server's root is trusted on the server
        run(["docker", "cp", str(pebble_root), f"{NAME}:/usr/local/share/ca-certificates/pebble-root.crt"])
        run(["docker", "exec", NAME, "update-ca-certificates"])
    prepare = ROOT / ".venv" / "bin" / "ansible-playbook"
    run(
        [str(prepare), "-i", f"{NAME},", "-c", "community.docker.docker", str(ROOT / "molecule/resources/prepare.yml")],
        timeout=600,
        cwd=ROOT,
    )
    return known_hosts


def bare_apps() -> list[dict]:
    """The bare host's apps: the sandbox inventory's entry for the bench's app, at the bare
    host's own domain. One app, as the sandbox's figures are for one app (the bench leaves
    the sandbox's second app alone)."""
    apps = yaml.safe_load((INVENTORY / "group_vars" / "web" / "app.yml").read_text())["apps"]
    entry = next(entry for entry in apps if entry["app_name"] == APP)
    return [entry | {"nginx_domains": [DOMAIN]}]


def converge(*, cold: bool) -> dict:
    """Time playbooks/site.yml on a fresh server (first run as root, as on a provider's server)."""
    known_hosts = start()
    try:
        extra: dict = {
            "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes",
            "apps": bare_apps(),
        }
        with tempfile.TemporaryDirectory(dir=WORK, prefix="empty-artifacts-") as empty:
            if cold:
                extra["pyenv_artifact_cache_dir"] = empty
            result = playbook(
                "site.yml",
                extra,
                env={"KIT_SANDBOX_SSH_PORT": str(SSH_PORT)},
                timeout=3600,
                label="bench-bare-cold" if cold else "bench-bare",
            )
        health = run(
            ["docker", "exec", NAME, "curl", "-sS", "--max-time", "5", "--unix-socket", "/run/webapp/app.sock",
             "http://localhost/health"],
            check=False,
        ).stdout.strip()  # fmt: skip
        out = {
            "seconds": round(result.seconds, 1),
            "ok": result.ok and '"status":"ok"' in health,
            "changed": result.recap().get("changed"),
        }
        if not result.ok:
            out["failure"] = result.failure(6)
            note(out["failure"])
        return out
    finally:
        remove()
