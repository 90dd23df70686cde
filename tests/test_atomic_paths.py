"""plugins/modules/atomic_paths.py, run as Ansible runs it, on real links and files.

The owner and group are the test's own (a test cannot give files away); molecule/default
shows the switch it makes on a real server, under load.
"""

import grp
import os
import pwd
import stat
import sys
import threading
from pathlib import Path

from module_runner import run_module

OWNER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


def run(tmp_path: Path, entries: list[dict], *, check: bool = False, diff: bool = False) -> dict:
    return run_module("atomic_paths", tmp_path, {"entries": entries}, check=check, diff=diff)


def file_entry(path: Path, **kind) -> dict:
    return {"path": str(path), "owner": OWNER, "group": GROUP} | kind


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    """Temporary names the module makes beside a path, left behind."""
    return [name for name in os.listdir(directory) if name.startswith(".")]


def test_links_files_and_a_line_are_made_then_nothing_changes(tmp_path):
    state = tmp_path / "state"
    state.mkdir()
    (tmp_path / "blue.sock").write_text("")
    entries = [
        file_entry(tmp_path / "app.sock", link="blue.sock"),
        file_entry(state / "live.json", content='{"color": "blue"}\n', mode="0640"),
        file_entry(state / "history", line="one"),
    ]
    first = run(tmp_path, entries)
    assert first["changed"] is True
    assert first["changed_paths"] == [e["path"] for e in entries]
    assert os.readlink(tmp_path / "app.sock") == "blue.sock"
    assert (state / "live.json").read_text() == '{"color": "blue"}\n'
    assert mode_of(state / "live.json") == 0o640
    assert (state / "history").read_text() == "one\n"
    assert mode_of(state / "history") == 0o644
    again = run(tmp_path, entries)
    assert again["changed"] is False
    assert again["changed_paths"] == []
    assert leftovers(tmp_path) == [] and leftovers(state) == []


def test_a_switch_changes_only_what_differs(tmp_path):
    entries = [
        file_entry(tmp_path / "app.sock", link="blue.sock"),
        file_entry(tmp_path / "live.json", content="blue\n"),
        file_entry(tmp_path / "history", line="first"),
    ]
    run(tmp_path, entries)
    entries[0]["link"] = "green.sock"
    entries[2]["line"] = "second"
    result = run(tmp_path, entries)
    assert result["changed_paths"] == [entries[0]["path"], entries[2]["path"]]
    assert os.readlink(tmp_path / "app.sock") == "green.sock"
    assert (tmp_path / "history").read_text() == "first\nsecond\n"


def test_a_line_the_file_has_is_not_added_again_and_an_empty_line_adds_nothing(tmp_path):
    history = tmp_path / "history"
    history.write_text("a\nb")
    os.chmod(history, 0o644)
    assert run(tmp_path, [file_entry(history, line="a")])["changed"] is False
    assert run(tmp_path, [file_entry(history, line="")])["changed"] is False
    assert run(tmp_path, [file_entry(history, line="c")])["changed"] is True
    assert history.read_text() == "a\nb\nc\n"
    missing = tmp_path / "missing"
    assert run(tmp_path, [file_entry(missing, line="")])["changed"] is False
    assert not missing.exists()


def test_a_wrong_mode_alone_is_put_right(tmp_path):
    live = tmp_path / "live.json"
    live.write_text("x")
    os.chmod(live, 0o600)
    result = run(tmp_path, [file_entry(live, content="x")])
    assert result["changed_paths"] == [str(live)]
    assert mode_of(live) == 0o644
    assert live.read_text() == "x"


def test_check_mode_says_what_would_change_and_changes_nothing(tmp_path):
    (tmp_path / "history").write_text("old\n")
    os.symlink("blue.sock", tmp_path / "app.sock")
    entries = [
        file_entry(tmp_path / "app.sock", link="green.sock"),
        file_entry(tmp_path / "live.json", content="green\n"),
        file_entry(tmp_path / "history", line="new"),
    ]
    result = run(tmp_path, entries, check=True, diff=True)
    assert result["changed_paths"] == [e["path"] for e in entries]
    assert os.readlink(tmp_path / "app.sock") == "blue.sock"
    assert not (tmp_path / "live.json").exists()
    assert (tmp_path / "history").read_text() == "old\n"
    diffs = {entry["before_header"]: entry for entry in result["diff"]}
    assert diffs[str(tmp_path / "app.sock")]["before"] == "-> blue.sock\n"
    assert diffs[str(tmp_path / "history")]["after"] == "old\nnew\n"


def test_an_entry_without_a_path_is_left_out(tmp_path):
    result = run(tmp_path, [{"path": "", "link": "anything"}, file_entry(tmp_path / "a", content="a")])
    assert result["changed_paths"] == [str(tmp_path / "a")]


def test_entries_are_settled_in_order_and_a_failure_leaves_the_later_ones(tmp_path):
    (tmp_path / "taken").mkdir()
    result = run(
        tmp_path,
        [
            file_entry(tmp_path / "first", link="target"),
            file_entry(tmp_path / "taken", content="x"),
            file_entry(tmp_path / "third", content="x"),
        ],
    )
    assert result["failed"] is True
    assert "is not a regular file" in result["msg"]
    assert os.readlink(tmp_path / "first") == "target"
    assert not (tmp_path / "third").exists()


def test_refusals_name_the_path_and_leave_no_temporary_file(tmp_path):
    (tmp_path / "dir").mkdir()
    assert "is a directory" in run(tmp_path, [file_entry(tmp_path / "dir", link="x")])["msg"]
    assert "not an absolute path" in run(tmp_path, [{"path": "relative", "content": "x"}])["msg"]
    assert "directory does not exist" in run(tmp_path, [file_entry(tmp_path / "no" / "f", content="x")])["msg"]
    unknown = run(tmp_path, [file_entry(tmp_path / "f", content="x") | {"owner": "no-such-user-here"}])
    assert unknown["failed"] is True and "no-such-user-here" in unknown["msg"]
    assert not (tmp_path / "f").exists()
    assert leftovers(tmp_path) == []


def test_a_reader_never_finds_the_link_missing_while_it_is_switched(tmp_path):
    """What the proxy sees during a switch: the old or the new socket link, never none."""
    link = tmp_path / "app.sock"
    os.symlink("blue.sock", link)
    missing = []
    done = threading.Event()

    def read() -> None:
        while not done.is_set():
            try:
                os.readlink(link)
            except FileNotFoundError:
                missing.append(1)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for color in ["green", "blue"] * 10:
            assert run(tmp_path, [file_entry(link, link=f"{color}.sock")])["changed"] is True
    finally:
        done.set()
        reader.join()
    assert missing == []
    assert os.readlink(link) == "blue.sock"


def test_a_directory_is_made_for_the_entries_after_it_then_nothing_changes(tmp_path):
    settings = tmp_path / "release" / ".settings"
    (tmp_path / "release").mkdir()
    entries = [
        file_entry(settings, directory=True, mode="0750"),
        file_entry(settings / "abc.env", content="SECRET=1\n", mode="0640"),
        file_entry(tmp_path / "release" / ".env", link=str(settings / "abc.env")),
    ]
    first = run(tmp_path, entries)
    assert first["changed_paths"] == [e["path"] for e in entries]
    assert (mode_of(settings), mode_of(settings / "abc.env")) == (0o750, 0o640)
    assert (tmp_path / "release" / ".env").read_text() == "SECRET=1\n"
    assert run(tmp_path, entries)["changed"] is False
    settings.chmod(0o755)
    assert run(tmp_path, entries)["changed_paths"] == [str(settings)]
    assert mode_of(settings) == 0o750


def test_a_directory_gets_its_missing_parents(tmp_path):
    deep = tmp_path / "var" / "log" / "apps" / "webapp"
    result = run(tmp_path, [file_entry(deep, directory=True, mode="0750")])
    assert result["changed_paths"] == [str(deep)]
    assert mode_of(deep) == 0o750


def test_check_mode_follows_a_directory_it_would_make(tmp_path):
    entries = [file_entry(tmp_path / "new", directory=True), file_entry(tmp_path / "new" / "f", content="x")]
    result = run(tmp_path, entries, check=True)
    assert result["changed_paths"] == [e["path"] for e in entries]
    assert not (tmp_path / "new").exists()


def test_check_mode_counts_a_path_whose_directory_an_earlier_task_would_make(tmp_path):
    entries = [file_entry(tmp_path / "none" / "f", content="x"), file_entry(tmp_path / "none" / "h", line="")]
    result = run(tmp_path, entries, check=True)
    assert result["changed_paths"] == [str(tmp_path / "none" / "f")] and not result.get("failed")
    assert not (tmp_path / "none").exists()


def test_a_file_where_a_directory_should_be_is_refused(tmp_path):
    (tmp_path / "taken").write_text("")
    result = run(tmp_path, [file_entry(tmp_path / "taken", directory=True)])
    assert result["failed"] is True
    assert "is not a directory" in result["msg"]


def test_content_that_fails_validation_leaves_the_path_and_the_later_entries(tmp_path):
    conf = tmp_path / "green.conf.py"
    conf.write_text("workers = 2\n")
    check = f"{sys.executable} -c 'import ast, sys; ast.parse(open(sys.argv[1]).read())' %s"
    result = run(
        tmp_path,
        [
            file_entry(conf, content="workers = (\n", validate=check),
            file_entry(tmp_path / "later", content="x"),
        ],
    )
    assert result["failed"] is True
    assert "failed to validate" in result["msg"] and "SyntaxError" in result["msg"]
    assert conf.read_text() == "workers = 2\n"
    assert not (tmp_path / "later").exists()
    assert leftovers(tmp_path) == []
    good = run(tmp_path, [file_entry(conf, content="workers = 3\n", validate=check)])
    assert good["changed"] is True and conf.read_text() == "workers = 3\n"


def test_absent_removes_a_file_or_a_link_then_nothing_changes(tmp_path):
    (tmp_path / "default").write_text("server {}\n")
    os.symlink("elsewhere", tmp_path / "link")
    entries = [
        file_entry(tmp_path / "default", absent=True),
        file_entry(tmp_path / "link", absent=True),
        file_entry(tmp_path / "never-there", absent=True),
        file_entry(tmp_path / "no-directory" / "file", absent=True),
    ]
    checked = run(tmp_path, entries, check=True, diff=True)
    assert checked["changed_paths"] == [str(tmp_path / "default"), str(tmp_path / "link")]
    assert (tmp_path / "default").exists() and os.path.islink(tmp_path / "link")
    assert [d["after"] for d in checked["diff"]] == ["absent\n", "absent\n"]
    result = run(tmp_path, entries)
    assert result["changed_paths"] == checked["changed_paths"]
    assert not os.path.lexists(tmp_path / "default") and not os.path.lexists(tmp_path / "link")
    assert run(tmp_path, entries)["changed"] is False


def test_absent_refuses_a_directory(tmp_path):
    (tmp_path / "sites").mkdir()
    result = run(tmp_path, [file_entry(tmp_path / "sites", absent=True)])
    assert result.get("failed") and "is a directory" in result["msg"]
    assert (tmp_path / "sites").is_dir()
