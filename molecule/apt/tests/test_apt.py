"""After the converge from empty, fresh package lists: what got installed, and how long apt waited."""

import json

import pytest

# One package from each role's install step, and Pebble's.
PACKAGES = ["curl", "libssl-dev", "supervisor", "ufw", "fail2ban", "nginx", "certbot", "pebble"]


@pytest.mark.parametrize("name", PACKAGES)
def test_each_install_step_installed_its_packages(host, name):
    assert host.package(name).is_installed


def test_the_first_refresh_waited_for_the_lock_and_then_updated(host):
    result = json.loads(host.file("/var/tmp/kit-first-refresh.json").content_string)
    assert result["updated"] is True
    assert result["reason"] == "no package lists"
    # The prepare step holds the locks for 45 s, from just before this refresh.
    assert 30 <= result["waited"] <= 120, result


def test_the_lists_were_refreshed(host):
    lists = host.run("find /var/lib/apt/lists -maxdepth 1 -name '*_Packages*'").stdout.split()
    assert lists, "no package lists after the converge"


def test_pyenv_was_checked_out(host):
    assert host.file("/opt/pyenv/bin/pyenv").exists


def test_pebble_answers(host):
    assert host.service("pebble").is_running
    assert host.socket("tcp://0.0.0.0:14000").is_listening
