"""The kit's one rule for refreshing apt's package lists (plugins/modules/apt_lists.py).

The module itself runs for real in molecule/apt, against a container whose lists
were removed minutes ago while another process holds apt's locks.
"""

import os
import sys
from pathlib import Path

import pytest
from module_runner import run_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modules"))

import apt_lists  # noqa: E402

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("package_lists", "refreshed_at", "valid_time", "needed"),
    [
        # An image built a minute ago: the directory is new, the lists are gone.
        pytest.param(0, NOW - 60, 3600, True, id="empty-but-fresh-directory"),
        pytest.param(0, None, 3600, True, id="no-lists-no-directory"),
        pytest.param(4, NOW - 60, 3600, False, id="fresh"),
        pytest.param(4, NOW - 3600, 3600, True, id="exactly-stale"),
        pytest.param(4, NOW - 86_400, 3600, True, id="a-day-old"),
        pytest.param(4, NOW - 5, 0, True, id="valid-time-zero-always-updates"),
        pytest.param(4, None, 3600, True, id="no-record"),
    ],
)
def test_lists_need_update(package_lists, refreshed_at, valid_time, needed):
    decision, reason = apt_lists.lists_need_update(package_lists, refreshed_at, NOW, valid_time)
    assert decision is needed
    assert reason


def test_empty_lists_say_so():
    assert apt_lists.lists_need_update(0, NOW, NOW, 3600) == (True, "no package lists")


def test_count_package_lists(tmp_path):
    assert apt_lists.count_package_lists(str(tmp_path / "missing")) == 0
    (tmp_path / "lock").touch()
    (tmp_path / "partial").mkdir()
    (tmp_path / "deb.debian.org_debian_dists_bookworm_InRelease").touch()
    assert apt_lists.count_package_lists(str(tmp_path)) == 0
    (tmp_path / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages.lz4").touch()
    (tmp_path / "deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages").touch()
    assert apt_lists.count_package_lists(str(tmp_path)) == 2


def test_last_refresh_is_the_directory_without_a_stamp(tmp_path, monkeypatch):
    monkeypatch.setattr(apt_lists, "UPDATE_STAMP", str(tmp_path / "no-stamp"))
    assert apt_lists.last_refresh(str(tmp_path)) == tmp_path.stat().st_mtime
    assert apt_lists.last_refresh(str(tmp_path / "missing")) is None


@pytest.mark.parametrize(
    ("stderr", "holder"),
    [
        (
            "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 3559 (python3)\n"
            "E: Unable to lock directory /var/lib/apt/lists/\n",
            "Could not get lock /var/lib/apt/lists/lock. It is held by process 3559 (python3)",
        ),
        (
            "E: Could not get lock /var/lib/apt/lists/lock - open (11: Resource temporarily unavailable)\n",
            "Could not get lock /var/lib/apt/lists/lock - open (11: Resource temporarily unavailable)",
        ),
        ("E: The repository 'http://example.invalid bookworm Release' does not have a Release file.\n", None),
    ],
)
def test_lock_holder(stderr, holder):
    assert apt_lists.lock_holder(stderr) == holder


# dpkg's database as Debian writes it (trimmed): installed, held, only configuration files
# left, half-configured, an architecture-specific library, triggers pending.
STATUS = """\
Package: nginx
Status: install ok installed
Priority: optional
Architecture: amd64
Version: 1.22.1-9
Description: small, powerful, scalable web/proxy server
 Nginx ("engine X") is a high-performance web and reverse proxy server.
 Status: deinstall ok config-files

Package: certbot
Status: hold ok installed
Architecture: all
Version: 2.1.0-4

Package: apache2
Status: deinstall ok config-files
Architecture: amd64

Package: fail2ban
Status: install ok half-configured
Architecture: all

Package: libssl3
Status: install ok installed
Architecture: amd64

Package: man-db
Status: install ok triggers-pending
Architecture: amd64
"""


def test_installed_packages_reads_only_what_is_installed():
    assert apt_lists.installed_packages(STATUS) == {
        ("nginx", "amd64"): "1.22.1-9",
        ("certbot", "all"): "2.1.0-4",
        ("libssl3", "amd64"): "",
        ("man-db", "amd64"): "",
    }


def test_installed_versions_of_plain_names():
    installed = apt_lists.installed_packages(STATUS)
    assert apt_lists.installed_versions(["nginx", "certbot:all", "apache2", "certbot"], installed) == {
        "nginx": "1.22.1-9",
        "certbot": "2.1.0-4",
    }


@pytest.mark.parametrize(
    ("packages", "missing"),
    [
        pytest.param(["nginx", "certbot", "man-db"], [], id="all-installed"),
        pytest.param(["apache2", "nginx", "fail2ban"], ["apache2", "fail2ban"], id="config-files-and-half-configured"),
        pytest.param(["ufw", "ufw", "nginx"], ["ufw"], id="each-missing-once"),
        pytest.param(["libssl3:amd64", "libssl3:i386", "certbot:amd64"], ["libssl3:i386"], id="architectures"),
        # apt decides what dpkg's database cannot tell.
        pytest.param(["nginx=1.22.1-9", "nginx>=1.22", "ngin*", "./local.deb"], None, id="not-plain-names"),
        pytest.param([], [], id="nothing-asked"),
    ],
)
def test_missing_packages(packages, missing):
    installed = apt_lists.installed_packages(STATUS)
    assert apt_lists.missing_packages(packages, installed) == (packages if missing is None else missing)


def _lists(tmp_path):
    """A lists directory with one package list."""
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").write_text("")
    return lists


def run_on_status(tmp_path, packages: list[str], **more) -> dict:
    """The module asked about packages, with STATUS as dpkg's database and lists that are always
    stale (valid_time 0), were they needed."""
    status = tmp_path / "status"
    status.write_text(STATUS)
    arguments = {
        "packages": packages,
        "status_file": str(status),
        "lists_dir": str(_lists(tmp_path)),
        "valid_time": 0,
        **more,
    }
    return run_module("apt_lists", tmp_path, arguments)


def test_every_installed_package_is_reported_only_when_asked(tmp_path):
    # What the action plugin (plugins/action/apt_lists.py) remembers for the rest of the run.
    result = run_on_status(tmp_path, ["nginx"], report_installed=True)
    assert result["installed"] == {"certbot": "2.1.0-4", "libssl3": "", "man-db": "", "nginx": "1.22.1-9"}
    (tmp_path / "again").mkdir()
    assert "installed" not in run_on_status(tmp_path / "again", ["nginx"])


def test_installed_packages_need_no_refresh(tmp_path):
    result = run_on_status(tmp_path, ["nginx", "certbot"])
    assert result["missing"] == []
    assert result["versions"] == {"nginx": "1.22.1-9", "certbot": "2.1.0-4"}
    assert result["updated"] is False
    assert result["changed"] is False
    assert "no lists needed" in result["reason"]


def test_a_missing_package_refreshes_stale_lists(tmp_path, monkeypatch):
    # apt-get is a stand-in here (molecule/apt runs the real one): it records that it ran.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "apt-get"
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    result = run_on_status(tmp_path, ["nginx", "ufw"])
    assert result["missing"] == ["ufw"]
    assert result["updated"] is True
    assert calls.read_text() == "update -q\n"


def test_without_packages_nothing_is_missing(tmp_path):
    result = run_module("apt_lists", tmp_path, {"lists_dir": str(_lists(tmp_path)), "valid_time": 86_400})
    assert result["missing"] == []
    assert result["updated"] is False
