"""What an operator observes on a server after playbooks/site.yml: the baseline."""

import re

import pytest

# The scenario's inputs (molecule.yml), which differ from the defaults on purpose.
TIMEZONE = "Europe/Berlin"
JOURNAL_MAX_MIB = 200
NTP_SERVER = "ntp.example.test"


def test_systemd_is_healthy(host):
    """The host boots cleanly: no unit failed after the converge."""
    state = host.run("systemctl is-system-running")
    failed = host.run("systemctl --failed --no-legend --plain").stdout.strip()
    assert state.stdout.strip() == "running", failed


@pytest.mark.parametrize(
    "package",
    ["ca-certificates", "curl", "gnupg", "logrotate", "rsync", "tzdata", "systemd-timesyncd", "jq"],
)
def test_package_installed(host, package):
    assert host.package(package).is_installed


def test_timezone(host):
    localtime = host.file("/etc/localtime")
    assert localtime.is_symlink
    assert localtime.linked_to == f"/usr/share/zoneinfo/{TIMEZONE}"
    # What programs see, not just the link: Berlin is CET or CEST.
    assert host.check_output("date +%Z") in {"CET", "CEST"}


def test_journal_is_persistent_and_bounded(host):
    assert host.file("/var/log/journal").is_directory
    # journald itself reports the limit it applies when it (re)starts.
    log = host.check_output("journalctl -u systemd-journald -b --no-pager -o cat")
    started = [line for line in log.splitlines() if line.startswith("System Journal (/var/log/journal")]
    assert started, log
    # "... is 8.0M, max 200.0M, 192.0M free." (Debian 12) or "max 200M" (Debian 13)
    limit = re.search(r"max ([0-9.]+)M,", started[-1])
    assert limit, started[-1]
    assert float(limit.group(1)) == JOURNAL_MAX_MIB


def test_timesyncd_configured_and_enabled(host):
    config = host.check_output("systemd-analyze cat-config systemd/timesyncd.conf")
    assert f"NTP={NTP_SERVER}" in config
    assert host.service("systemd-timesyncd").is_enabled
    if host.system_info.type == "linux" and host.run("systemd-detect-virt --container").rc == 0:
        # systemd does not start it in a container: the host owns the clock.
        return
    assert host.service("systemd-timesyncd").is_running


def test_system_python_is_debian(host):
    """The kit never replaces the python3 that apt and Ansible use."""
    assert host.check_output("dpkg -S /usr/bin/python3").startswith("python3-minimal")
