"""What an operator observes on a fresh VPS after playbooks/site.yml ran over SSH.

Testinfra reaches each server as the admin account, over SSH on 127.0.0.1, as the
inventory says. The login checks run the real ssh client against the real sshd.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ADMIN = "kitadmin"
SERVICE_USER = "app"  # app_user in molecule.yml; prepare.yml gave it a nologin shell and the key
EPHEMERAL = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"])
KEY = EPHEMERAL / "id_ed25519"
KNOWN_HOSTS = EPHEMERAL / "known_hosts"
ROOT = Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
RATE_LIMIT_WINDOW = 30  # seconds; ufw "limit" allows 6 new connections per address in it


@pytest.fixture
def port(host):
    return int(host.ansible.get_variables()["ansible_port"])


def ssh_once(port: int, user: str, command: str, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "ssh", "-p", str(port), "-i", str(KEY),
            "-o", f"UserKnownHostsFile={KNOWN_HOSTS}", "-o", "StrictHostKeyChecking=yes",
            "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10",
            "-o", "ControlMaster=no", "-o", "ControlPath=none",
            *options, f"{user}@127.0.0.1", command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip


def dropped(result: subprocess.CompletedProcess[str]) -> bool:
    """The firewall dropped the connection before sshd saw it (ufw's rate limit)."""
    return result.returncode == 255 and any(
        sign in result.stderr for sign in ("Connection closed", "timed out", "Connection reset")
    )


def ssh(port: int, user: str, command: str = "true", *options: str) -> subprocess.CompletedProcess[str]:
    """Log in from outside, as a person would, with the scenario's key unless options say otherwise.

    ufw limits SSH to 6 new connections in 30 s per address, and all of these come from
    the same address: after a drop, wait for the window to pass and try once more.
    """
    result = ssh_once(port, user, command, *options)
    if dropped(result):
        time.sleep(RATE_LIMIT_WINDOW + 1)
        result = ssh_once(port, user, command, *options)
    return result


def test_admin_logs_in_with_its_key_and_runs_sudo(port):
    result = ssh(port, ADMIN, "sudo -n id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "root"


@pytest.mark.parametrize("user", ["root", SERVICE_USER])
def test_login_refused_even_with_a_valid_key(port, user):
    result = ssh(port, user)
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_server_offers_no_password_login(port):
    """Whatever the client tries, sshd only offers public key authentication."""
    result = ssh(port, ADMIN, "true", "-o", "PubkeyAuthentication=no",
                 "-o", "PreferredAuthentications=password,keyboard-interactive")  # fmt: skip
    assert result.returncode == 255
    assert "Permission denied (publickey)." in result.stderr, result.stderr


def test_first_run_logged_in_as_root_then_handed_over(host):
    """The first run came in as root (the provider's account); later runs as the admin."""
    log = host.check_output("sudo -n journalctl -u ssh.service --no-pager -o cat")
    assert "Accepted publickey for root " in log
    assert f"Accepted publickey for {ADMIN} " in log
    assert log.rindex(f"Accepted publickey for {ADMIN} ") > log.rindex("Accepted publickey for root ")


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("permitrootlogin", "no"),
        ("passwordauthentication", "no"),
        ("kbdinteractiveauthentication", "no"),
        ("authenticationmethods", "publickey"),
        ("allowusers", ADMIN),
        ("x11forwarding", "no"),
    ],
)
def test_sshd_effective_setting(host, keyword, value):
    settings = dict(line.split(" ", 1) for line in host.check_output("sudo -n sshd -T").splitlines() if " " in line)
    assert settings[keyword] == value


def test_service_account_is_not_an_admin(host):
    account = host.user(SERVICE_USER)
    assert account.shell == "/usr/sbin/nologin"
    assert "sudo" not in account.groups
    assert host.run(f"sudo -n -l -U {SERVICE_USER}").stdout.find("may run") == -1


def test_firewall_is_active_with_exactly_the_expected_rules(host):
    status = host.check_output("sudo -n ufw status verbose")
    assert "Status: active" in status
    assert "Default: deny (incoming), allow (outgoing)" in status
    table = status.split("\n--", 1)[1].splitlines()[1:]  # the rows under the "-- ------ ----" line
    rules = sorted(" ".join(line.split()) for line in table if line.strip())
    assert rules == sorted([
        "22/tcp LIMIT IN Anywhere # SSH",
        "80/tcp ALLOW IN Anywhere # Web",
        "443/tcp ALLOW IN Anywhere # Web",
        "9100/tcp ALLOW IN 10.0.0.0/8 # Metrics from the private network",
        "22/tcp (v6) LIMIT IN Anywhere (v6) # SSH",
        "80/tcp (v6) ALLOW IN Anywhere (v6) # Web",
        "443/tcp (v6) ALLOW IN Anywhere (v6) # Web",
    ])  # fmt: skip


def test_firewall_starts_at_boot(host):
    assert host.service("ufw").is_enabled


def test_fail2ban_sshd_jail_is_running(host):
    assert host.service("fail2ban").is_running
    assert host.service("fail2ban").is_enabled
    status = host.check_output("sudo -n fail2ban-client status sshd")
    assert "Journal matches:" in status
    assert "_SYSTEMD_UNIT=ssh.service" in status


def test_fail2ban_sees_refused_logins(host, port):
    """The jail reads sshd's refusals from the journal (sshd on Debian 12, sshd-session on 13).

    The tests' own address is in fail2ban_ignoreip, so fail2ban reports it instead of banning it.
    """
    assert ssh(port, "root").returncode == 255
    for _ in range(20):
        log = host.check_output("sudo -n cat /var/log/fail2ban.log")
        if "[sshd] Ignore " in log:
            break
        time.sleep(1)
    assert "[sshd] Ignore " in log, log[-2000:]
    assert "Currently banned:\t0" in host.check_output("sudo -n fail2ban-client status sshd")


def test_unattended_upgrades_installs_security_updates_daily(host):
    assert host.check_output("apt-config dump --format '%v%n' APT::Periodic::Unattended-Upgrade") == "1"
    assert host.check_output("apt-config dump --format '%v%n' APT::Periodic::Update-Package-Lists") == "1"
    assert host.service("apt-daily-upgrade.timer").is_enabled
    assert host.service("unattended-upgrades").is_enabled
    dump = host.check_output("apt-config dump --format '%f %v%n' Unattended-Upgrade::Origins-Pattern").splitlines()
    origins = [line.split(" ", 1)[1] for line in dump if line.startswith("Unattended-Upgrade::Origins-Pattern:: ")]
    assert origins and all("Debian-Security" in origin for origin in origins), origins


def etc_fingerprint(host) -> str:
    """Every file under /etc: path, mode, owner and content."""
    return host.check_output(
        "sudo -n sh -c \"find /etc -xdev -printf '%p %m %u %g %l\\n' | sort | sha256sum;"
        ' find /etc -xdev -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum"'
    )


@pytest.mark.parametrize(
    ("extra_vars", "expected"),
    [
        ('{"users_admins": []}', "root login is turned off"),
        ('{"sshd_port": 70000}', "sshd_port"),
    ],
    ids=["no-admin-key", "port-range"],
)
def test_broken_inventory_changes_nothing_on_the_host(host, extra_vars, expected):
    before = etc_fingerprint(host)
    env = dict(os.environ, ANSIBLE_NOCOLOR="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [
            "ansible-playbook", "-i", str(EPHEMERAL / "inventory"), "--limit", host.backend.host,
            "-e", extra_vars, str(ROOT / "playbooks" / "site.yml"),
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nothing was changed on any host" in output, output
    assert expected in output, output
    assert etc_fingerprint(host) == before


def test_ssh_is_rate_limited(port):
    """A burst of new SSH connections from one address is cut off by the firewall; last, as it trips the limit."""
    results = [ssh_once(port, ADMIN, "true") for _ in range(8)]
    time.sleep(RATE_LIMIT_WINDOW + 1)  # leave the window clean for whatever runs next
    assert any(dropped(result) for result in results), [r.stderr for r in results]
    assert results[0].returncode == 0 or dropped(results[0])
