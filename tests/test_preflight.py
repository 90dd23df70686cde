"""playbooks/site.yml stops on a broken inventory, with one message, before it touches a host.

The hosts here point at a closed port on loopback: if the preflight let a broken
inventory through, the next play would try to connect and report them unreachable.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLAYBOOK = ROOT / "playbooks" / "site.yml"


def run_site(tmp_path: Path, group_vars: dict) -> subprocess.CompletedProcess[str]:
    unreachable = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"}
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    hosts = {"servers": {"children": {"web": {"hosts": {"one": unreachable, "two": unreachable}}}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "all" / "vars.yml").write_text(yaml.safe_dump(group_vars))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PLAYBOOK)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_valid_inventory_passes_preflight(tmp_path):
    result = run_site(tmp_path, {"common_timezone": "Europe/Berlin"})
    output = result.stdout + result.stderr
    assert "problem(s)" not in output
    # It went on to the baseline play, which cannot reach these hosts.
    assert "UNREACHABLE" in output
    assert result.returncode != 0


@pytest.mark.parametrize(
    ("group_vars", "expected"),
    [
        ({"common_timezone": "Not a zone!"}, ["common_timezone: \"Not a zone!\" is not an IANA time zone name"]),
        ({"common_journald_max_use": "lots"}, ["common_journald_max_use: \"lots\" is not a size"]),
        ({"common_extra_packages": {"jq": True}}, ["role common:", "common_extra_packages", "list"]),
        ({"common_timesync_enabled": "maybe"}, ["role common:", "common_timesync_enabled", "bool"]),
    ],
    ids=["timezone", "size", "packages-type", "toggle-type"],
)
def test_broken_inventory_stops_before_any_change(tmp_path, group_vars, expected):
    result = run_site(tmp_path, group_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nothing was changed on any host" in output
    for fragment in expected:
        assert fragment in output
    # Both hosts are named in the one report, and no host was contacted.
    assert "- one: " in output and "- two: " in output
    assert "UNREACHABLE" not in output
    assert "Baseline every server" not in output


def test_every_problem_is_listed_at_once(tmp_path):
    result = run_site(
        tmp_path,
        {"common_timezone": "Bad zone", "common_journald_max_use": "lots", "common_timesync_enabled": "maybe"},
    )
    output = result.stdout + result.stderr
    assert "The inventory has 6 problem(s)" in output, output
