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
ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJt2s+evUSeNs99D1MPpYwjealOSC9nQX0QG5kaLGlnX test admin"
# What every inventory needs: an admin with a key (root login is off by default), and
# for the web hosts the app's repository, the site's domains and the ACME account.
# Each test's variables are laid over it.
VALID = {
    "users_admins": [{"name": "alice", "ssh_keys": [ADMIN_KEY]}],
    "app_repo_url": "https://git.example.test/team/app.git",
    "nginx_domains": ["app.example.test", "www.app.example.test"],
    "certbot_email": "ops@example.test",
    "certbot_agree_tos": True,
}


def run_site(
    tmp_path: Path, group_vars: dict, drop: tuple[str, ...] = (), extra: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    unreachable = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"}
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    hosts = {"servers": {"children": {"web": {"hosts": {"one": unreachable, "two": unreachable}}}}}
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (inventory / "group_vars" / "all" / "vars.yml").write_text(
        yaml.safe_dump({k: v for k, v in {**VALID, **group_vars}.items() if k not in drop})
    )
    return run_site_on(inventory, *extra)


def run_site_on(inventory: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """site.yml on an inventory directory, as a user runs it."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return subprocess.run(
        ["ansible-playbook", "-i", str(inventory), str(PLAYBOOK), *extra],
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
        ({"common_timezone": "Not a zone!"}, ['common_timezone: "Not a zone!" is not an IANA time zone name']),
        ({"common_journald_max_use": "lots"}, ['common_journald_max_use: "lots" is not a size']),
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


@pytest.mark.parametrize(
    ("group_vars", "expected"),
    [
        ({"users_admins": []}, ["at least one admin with an SSH key", "root login is turned off"]),
        (
            {"users_admins": [{"name": "alice", "ssh_keys": ["ssh-ed25519 not-base64! alice"]}]},
            ['users_admins: "alice": "ssh-ed25519 not-base64! alice" is not an SSH public key'],
        ),
        (
            {"users_admins": [{"name": "alice", "ssh_keys": "ssh-ed25519 AAAA alice"}]},
            ['users_admins: "alice": ssh_keys is not a list of SSH public keys'],
        ),
        (
            {"app_user": "api", "users_admins": [{"name": "api", "ssh_keys": [ADMIN_KEY]}]},
            ['users_admins: "api" is a service account or reserved name'],
        ),
        ({"users_admins": [{"name": "Alice Smith", "ssh_keys": [ADMIN_KEY]}]}, ['"Alice Smith" is not a user name']),
        (
            {"users_admins": [{"name": "alice", "ssh_keys": [ADMIN_KEY], "sudo_nopassword": False}]},
            ['"alice" uses sudo with a password but has no password_hash'],
        ),
        ({"sshd_port": 70000}, ['sshd_port: "70000" is not a port number from 1 to 65535']),
        ({"sshd_permit_root_login": "maybe"}, ["role sshd:", "sshd_permit_root_login", "maybe"]),
        ({"sshd_allow_users": ["bob"]}, ["sshd_allow_users: none of the admins with a key (alice) is in it"]),
        (
            {"sshd_permit_root_login": "prohibit-password", "sshd_allow_users": ["alice"]},
            ["root login is on", "root is not in sshd_allow_users"],
        ),
        (
            {"ansible_user": "deploy", "sshd_allow_users": ["alice"]},
            ['ansible_user "deploy" is not in it; Ansible would lock itself out'],
        ),
        ({"firewall_rules": [{"port": "5432", "proto": "sctp"}]}, ["role firewall:", "proto", "sctp"]),
        ({"firewall_web_enabled": "yes please"}, ["role firewall:", "firewall_web_enabled", "bool"]),
        ({"fail2ban_bantime": "a while"}, ['fail2ban_bantime: "a while" is not a time such as 1h']),
        ({"fail2ban_ignoreip": ["my office"]}, ['fail2ban_ignoreip: "my office" is not an IP address']),
        ({"common_unattended_upgrades_reboot_time": "4am"}, ['"4am" is not a time of day']),
    ],
    ids=[
        "no-admin-key",
        "bad-ssh-key",
        "keys-not-a-list",
        "service-account-admin",
        "bad-user-name",
        "sudo-password-without-hash",
        "port-range",
        "root-login-choice",
        "allow-users-without-admin",
        "root-login-without-root-allowed",
        "ansible-user-locked-out",
        "firewall-rule-proto",
        "firewall-toggle-type",
        "fail2ban-time",
        "fail2ban-ignoreip",
        "reboot-time",
    ],
)
def test_broken_baseline_stops_before_any_change(tmp_path, group_vars, expected):
    result = run_site(tmp_path, group_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nothing was changed on any host" in output, output
    for fragment in expected:
        assert fragment in output, output
    assert "UNREACHABLE" not in output
    assert "Log in as the admin account" not in output


def test_root_key_only_needs_no_admin(tmp_path):
    """Keeping root with a key (no admins yet) is a valid choice, not a problem."""
    result = run_site(tmp_path, {"users_admins": [], "sshd_permit_root_login": "prohibit-password"})
    output = result.stdout + result.stderr
    assert "problem(s)" not in output, output
    assert "UNREACHABLE" in output
