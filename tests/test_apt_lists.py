"""The kit's one rule for refreshing apt's package lists (plugins/modules/apt_lists.py).

The module itself runs for real in molecule/apt, against a container whose lists
were removed minutes ago while another process holds apt's locks.
"""

import sys
from pathlib import Path

import pytest

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
