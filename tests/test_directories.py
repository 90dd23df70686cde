"""plugins/modules/directories.py, run as Ansible runs it, on real directories.

The owner and group are the test's own (a test cannot give files away), so these
tests show making, mode changes, check mode and refusals; molecule/default shows
root and the app user owning the app's layout on a real server.
"""

import grp
import os
import pwd
import stat
from pathlib import Path

from module_runner import run_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(tmp_path: Path, directories: list[dict], *, check: bool = False, diff: bool = False) -> dict:
    return run_module("directories", tmp_path, {"directories": directories}, check=check, diff=diff)


def entry(path: Path, mode: str = "0755") -> dict:
    return {"path": str(path), "owner": OWNER, "group": GROUP, "mode": mode}


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_makes_missing_directories_with_their_modes_then_changes_nothing(tmp_path):
    base = tmp_path / "srv" / "app"
    wanted = [entry(base), entry(base / "shared", "0750"), entry(base / "shared" / "data", "0700")]
    first = run(tmp_path, wanted)
    assert first["changed"] is True
    assert first["changed_paths"] == [str(base), str(base / "shared"), str(base / "shared" / "data")]
    assert (mode_of(base), mode_of(base / "shared"), mode_of(base / "shared" / "data")) == (0o755, 0o750, 0o700)
    again = run(tmp_path, wanted)
    assert again["changed"] is False
    assert again["changed_paths"] == []


def test_a_wrong_mode_is_put_right_and_only_that_directory_counts(tmp_path):
    (tmp_path / "a").mkdir(mode=0o755)
    (tmp_path / "b").mkdir(mode=0o777)
    (tmp_path / "b").chmod(0o777)
    result = run(tmp_path, [entry(tmp_path / "a"), entry(tmp_path / "b", "0750")])
    assert result["changed_paths"] == [str(tmp_path / "b")]
    assert mode_of(tmp_path / "b") == 0o750


def test_check_mode_says_what_would_change_and_changes_nothing(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b").chmod(0o777)
    result = run(tmp_path, [entry(tmp_path / "new"), entry(tmp_path / "b", "0750")], check=True, diff=True)
    assert result["changed"] is True
    assert result["changed_paths"] == [str(tmp_path / "new"), str(tmp_path / "b")]
    assert not (tmp_path / "new").exists()
    assert mode_of(tmp_path / "b") == 0o777
    assert {d["after"]["path"] for d in result["diff"]} == {str(tmp_path / "new"), str(tmp_path / "b")}


def test_a_file_in_the_way_is_refused(tmp_path):
    (tmp_path / "taken").write_text("")
    result = run(tmp_path, [entry(tmp_path / "taken")])
    assert result["failed"] is True
    assert "is not a directory" in result["msg"]


def test_an_unknown_owner_is_refused(tmp_path):
    result = run(tmp_path, [entry(tmp_path / "x") | {"owner": "no-such-user-here"}])
    assert result["failed"] is True
    assert "no-such-user-here" in result["msg"]


def test_paths_share_one_owner_group_and_mode(tmp_path):
    shared = {"paths": [str(tmp_path / "s"), str(tmp_path / "s" / "data")], "owner": OWNER, "group": GROUP}
    result = run(tmp_path, [shared | {"mode": "0750"}])
    assert result["changed_paths"] == [str(tmp_path / "s"), str(tmp_path / "s" / "data")]
    assert mode_of(tmp_path / "s" / "data") == 0o750


def test_path_and_paths_together_are_refused(tmp_path):
    result = run(tmp_path, [entry(tmp_path / "a") | {"paths": [str(tmp_path / "b")]}])
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
