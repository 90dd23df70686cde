"""roles/app/files/sqlite-backup: the scheduled online backup of an app's SQLite database.

Each test runs the script against real SQLite files: a copy is consistent while the
database is written, a copy that fails its integrity check is not kept, retention keeps
the newest copies and touches nothing else (the pre-migration copies included).
molecule/default/tests/test_sqlite_backup.py runs it on the servers, by its timer's service.
"""

import fcntl
import importlib.machinery
import importlib.util
import os
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "roles" / "app" / "files" / "sqlite-backup"
_loader = importlib.machinery.SourceFileLoader("sqlite_backup", str(SCRIPT))
_spec = importlib.util.spec_from_loader("sqlite_backup", _loader)
sqlite_backup = importlib.util.module_from_spec(_spec)
_loader.exec_module(sqlite_backup)

NOW = datetime(2026, 12, 1, 10, 0, 0, tzinfo=UTC)
# As roles/app/tasks/release_commands.yml names the copies it takes before migrations.
PRE_MIGRATION = "20261130T090000Z-before-0123456789ab.sqlite3"


def make_database(path: Path, notes: int = 3, wal: bool = True, body: str = "body") -> Path:
    """A database like the kit's app's: a notes table (with an index), in WAL mode as the app sets it."""
    with closing(sqlite3.connect(path)) as connection:
        if wal:
            connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL)")
        connection.execute("CREATE INDEX ix_notes_title ON notes (title)")
        # How many notes the writers committed: a consistent copy holds exactly as many.
        connection.execute("CREATE TABLE counter (n INTEGER NOT NULL)")
        connection.execute("INSERT INTO counter VALUES (?)", (notes,))
        connection.executemany(
            "INSERT INTO notes (title, body) VALUES (?, ?)", ((f"note {i}", body) for i in range(notes))
        )
        connection.commit()
    return path


def rows(path: Path, query: str = "SELECT title FROM notes ORDER BY id") -> list[tuple]:
    with closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as connection:
        return connection.execute(query).fetchall()


def integrity(path: Path) -> list[tuple]:
    return rows(path, "PRAGMA integrity_check")


def copy_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir() if sqlite_backup.COPY.match(path.name))


def backup(database: Path, directory: Path, keep: int = 5, now: datetime = NOW) -> int:
    return sqlite_backup.main(["--database", str(database), "--dir", str(directory), "--keep", str(keep)], now=now)


@pytest.fixture
def data(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


@pytest.fixture
def backups(tmp_path: Path) -> Path:
    """shared/backups (the pre-migration copies) with scheduled/ inside, as the app role lays them out."""
    (tmp_path / "backups" / "scheduled").mkdir(parents=True)
    return tmp_path / "backups" / "scheduled"


def old_copies(directory: Path, count: int, start: datetime = NOW - timedelta(hours=1)) -> list[str]:
    """count copies from earlier runs, one an hour back from start, each a database of its own."""
    names = [sqlite_backup.copy_name(start - timedelta(hours=i)) for i in range(count)]
    for index, name in enumerate(names):
        make_database(directory / name, notes=index, wal=False)
    return names


def test_a_copy_is_checked_complete_and_private(data, backups):
    database = make_database(data / "app.db", notes=3)
    umask = os.umask(0)
    try:
        assert backup(database, backups) == 0
    finally:
        os.umask(umask)
    copy = backups / "20261201T100000Z.sqlite3"
    assert sorted(p.name for p in backups.iterdir()) == [copy.name], "no temporary file or journal left"
    assert integrity(copy) == [("ok",)]
    assert rows(copy) == [("note 0",), ("note 1",), ("note 2",)]
    # 0640 whatever the umask: the app user and its group, no one else.
    assert copy.stat().st_mode & 0o777 == 0o640


def test_a_copy_is_one_file_in_rollback_journal_mode(data, backups):
    """Restored by copying it back: no -wal file of its own to bring along."""
    database = make_database(data / "app.db")
    assert backup(database, backups) == 0
    copy = backups / "20261201T100000Z.sqlite3"
    header = copy.read_bytes()[:100]
    # The file format's write and read versions: 1 is a rollback journal, 2 is WAL.
    assert (header[18], header[19]) == (1, 1)
    assert rows(copy, "PRAGMA journal_mode") == [("delete",)]
    # The live database keeps its own mode.
    assert rows(database, "PRAGMA journal_mode") == [("wal",)]


def test_a_database_in_rollback_journal_mode_is_copied_too(data, backups):
    database = make_database(data / "app.db", notes=2, wal=False)
    assert backup(database, backups) == 0
    assert rows(backups / "20261201T100000Z.sqlite3") == [("note 0",), ("note 1",)]


def test_a_copy_holds_what_was_committed_before_it_not_what_is_still_in_the_wal(data, backups):
    """Committed rows still in the WAL (no checkpoint yet) are in the copy."""
    database = make_database(data / "app.db", notes=1)
    with closing(sqlite3.connect(database)) as writer:
        writer.execute("PRAGMA wal_autocheckpoint=0")
        writer.execute("INSERT INTO notes (title, body) VALUES ('in the WAL', '')")
        writer.commit()
        assert (data / "app.db-wal").stat().st_size > 0
        assert backup(database, backups) == 0
    assert rows(backups / "20261201T100000Z.sqlite3") == [("note 0",), ("in the WAL",)]


def test_copies_are_named_after_the_time_in_utc(data, backups):
    database = make_database(data / "app.db")
    berlin = timezone(timedelta(hours=1))
    assert backup(database, backups, now=datetime(2026, 12, 1, 11, 30, 5, tzinfo=berlin)) == 0
    assert copy_names(backups) == ["20261201T103005Z.sqlite3"]


# A writer, in a process of its own as the app's workers are: each transaction adds a
# note and counts it, so a copy from the middle of a transaction would disagree.
WRITER = """
import pathlib, sqlite3, sys
database, stop = sys.argv[1], pathlib.Path(sys.argv[2])
connection = sqlite3.connect(database, timeout=10, isolation_level=None)
connection.execute("PRAGMA journal_mode=WAL")
written = 0
while not stop.exists():
    connection.execute("BEGIN IMMEDIATE")
    connection.execute("INSERT INTO notes (title, body) VALUES (?, ?)", (f"written {written}", "x" * 2000))
    connection.execute("UPDATE counter SET n = n + 1")
    connection.execute("COMMIT")
    written += 1
print(written)
"""


def test_copies_taken_while_the_database_is_written_are_consistent(data, backups, tmp_path):
    # Some megabytes, so that each copy takes a while and the writer commits meanwhile.
    database = make_database(data / "app.db", notes=4000, body="y" * 2000)
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(database), str(stop)], stdout=subprocess.PIPE, text=True
    )
    counts, overlapped = [], []
    try:
        for run in range(5):
            before = rows(database, "SELECT n FROM counter")[0][0]
            assert backup(database, backups, keep=10, now=NOW + timedelta(minutes=run)) == 0
            after = rows(database, "SELECT n FROM counter")[0][0]
            copy = backups / sqlite_backup.copy_name(NOW + timedelta(minutes=run))
            assert integrity(copy) == [("ok",)]
            notes = rows(copy, "SELECT count(*) FROM notes")[0][0]
            assert rows(copy, "SELECT n FROM counter")[0][0] == notes, "a transaction cut in half"
            assert before <= notes <= after
            counts.append(notes)
            overlapped.append(after > before)
            time.sleep(0.05)
    finally:
        stop.touch()
        out, _ = writer.communicate(timeout=30)
    assert writer.returncode == 0, "the writer failed: it must never wait beyond its busy timeout"
    assert int(out) > 0
    assert any(overlapped), "the writer never committed while a copy was taken: the test proved nothing"
    # The writer went on between the copies, and each copy saw more of it.
    assert counts == sorted(counts) and counts[-1] > counts[0], counts


def corrupt(database: Path) -> None:
    """Make the notes index disagree with the table: integrity_check reports the missing rows."""
    with closing(sqlite3.connect(database)) as connection:
        connection.execute("PRAGMA writable_schema=ON")
        connection.execute(
            "UPDATE sqlite_master SET sql = 'CREATE INDEX ix_notes_title ON notes (body)' WHERE name = 'ix_notes_title'"
        )
        connection.commit()


def test_a_copy_that_fails_its_integrity_check_is_not_kept_and_nothing_is_pruned(data, backups, capsys):
    database = make_database(data / "app.db", notes=3)
    corrupt(database)
    assert integrity(database) != [("ok",)], "the test database must be corrupt"
    earlier = old_copies(backups, 3)
    assert backup(database, backups, keep=1) == 1
    assert "failed its integrity check, not kept" in capsys.readouterr().err
    # The earlier copies all stay (even beyond keep), and nothing of the failed one is left.
    assert sorted(p.name for p in backups.iterdir()) == sorted(earlier)


def test_retention_keeps_the_newest_copies(data, backups, capsys):
    database = make_database(data / "app.db")
    earlier = old_copies(backups, 5)
    assert backup(database, backups, keep=3) == 0
    assert copy_names(backups) == sorted(["20261201T100000Z.sqlite3", earlier[0], earlier[1]])
    out = capsys.readouterr().out
    assert all(f"removed {name}: beyond the newest 3 copies" in out for name in earlier[2:])


def test_retention_of_one_keeps_the_copy_just_taken(data, backups):
    database = make_database(data / "app.db")
    old_copies(backups, 3)
    assert backup(database, backups, keep=1) == 0
    assert copy_names(backups) == ["20261201T100000Z.sqlite3"]


def test_the_copy_just_taken_is_kept_even_behind_a_copy_from_the_future(data, backups):
    """A clock set back: the newest name is not the newest copy; the new one stays anyway."""
    database = make_database(data / "app.db")
    future = old_copies(backups, 1, start=NOW + timedelta(days=1))
    past = old_copies(backups, 2)
    assert backup(database, backups, keep=1) == 0
    assert copy_names(backups) == sorted(["20261201T100000Z.sqlite3", *future])
    assert not any((backups / name).exists() for name in past)


@pytest.mark.parametrize("apart", [True, False], ids=["in-scheduled", "in-the-same-directory"])
def test_pre_migration_copies_and_other_files_are_never_touched(data, backups, apart):
    """Apart in shared/backups, as the role lays them out; even in the same directory, not one is pruned."""
    database = make_database(data / "app.db")
    directory = backups if apart else backups.parent
    pre_migration = backups.parent / PRE_MIGRATION
    make_database(pre_migration, notes=1, wal=False)
    others = [directory / "notes.txt", directory / "manual.sqlite3", directory / ".hidden.sqlite3"]
    for path in others:
        path.write_text("an operator's file")
    for run in range(4):
        assert backup(database, directory, keep=1, now=NOW + timedelta(hours=run)) == 0
    assert copy_names(directory) == [sqlite_backup.copy_name(NOW + timedelta(hours=3))]
    assert rows(pre_migration) == [("note 0",)]
    assert all(path.read_text() == "an operator's file" for path in others)


def test_a_missing_database_is_an_error_not_an_empty_copy(data, backups, capsys):
    assert backup(data / "app.db", backups) == 1
    assert f"there is no database at {data / 'app.db'}" in capsys.readouterr().err
    assert list(backups.iterdir()) == []
    assert not (data / "app.db").exists(), "the live database must never be created"


def test_a_copy_of_the_same_second_is_refused_and_the_first_kept(data, backups, capsys):
    database = make_database(data / "app.db", notes=1)
    assert backup(database, backups) == 0
    first = (backups / "20261201T100000Z.sqlite3").read_bytes()
    assert backup(database, backups) == 1
    assert "exists already" in capsys.readouterr().err
    assert (backups / "20261201T100000Z.sqlite3").read_bytes() == first
    assert copy_names(backups) == ["20261201T100000Z.sqlite3"]


def test_leftovers_of_an_interrupted_run_are_removed(data, backups):
    database = make_database(data / "app.db")
    leftovers = [backups / ".20261201T090000Z.sqlite3.tmp", backups / ".20261201T090000Z.sqlite3.tmp-journal"]
    for path in leftovers:
        path.write_bytes(b"half a copy")
    assert backup(database, backups) == 0
    assert sorted(p.name for p in backups.iterdir()) == ["20261201T100000Z.sqlite3"]


def test_one_run_at_a_time(data, backups, capsys):
    database = make_database(data / "app.db")
    descriptor = os.open(backups, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        assert backup(database, backups) == 1
    finally:
        os.close(descriptor)
    assert "another backup into" in capsys.readouterr().err
    assert list(backups.iterdir()) == []


@pytest.mark.parametrize("keep", ["0", "-1", "many"])
def test_keep_must_be_a_positive_count(data, backups, keep):
    with pytest.raises(SystemExit) as exit_info:
        sqlite_backup.main(["--database", str(data / "app.db"), "--dir", str(backups), "--keep", keep])
    assert exit_info.value.code == 2


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="no Debian python3 here")
def test_runs_as_a_command_with_the_servers_python(data, backups):
    """As the timer's service runs it: the file itself, by its #!/usr/bin/python3 line."""
    assert SCRIPT.stat().st_mode & 0o111, "the script must be executable"
    database = make_database(data / "app.db", notes=2)
    result = subprocess.run(
        [str(SCRIPT), "--database", str(database), "--dir", str(backups), "--keep", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    (name,) = copy_names(backups)
    assert result.stdout == f"copied {database} to {backups / name} (integrity check: ok)\n"
    assert rows(backups / name) == [("note 0",), ("note 1",)]


def before(database: Path, directory: Path, release: str, keep: int = 2, now: datetime = NOW) -> int:
    """As roles/app/tasks/release_commands.yml runs it before a release's migrations."""
    arguments = ["--database", str(database), "--dir", str(directory), "--keep", str(keep), "--before", release]
    return sqlite_backup.main([*arguments, "--missing-ok"], now=now)


def test_a_copy_before_migrations_names_its_release_and_is_checked(data, backups, capsys):
    database = make_database(data / "app.db", notes=2)
    shared = backups.parent
    assert before(database, shared, "0123456789ab") == 0
    name = "20261201T100000Z-before-0123456789ab.sqlite3"
    assert (shared / name).is_file()
    assert rows(shared / name) == [("note 0",), ("note 1",)]
    assert integrity(shared / name) == [("ok",)]
    assert capsys.readouterr().out == f"copied {database} to {shared / name} (integrity check: ok)\n"


def test_copies_before_migrations_are_pruned_among_themselves_only(data, backups):
    database = make_database(data / "app.db")
    shared = backups.parent
    scheduled_copies = old_copies(shared, 3)
    for run, release in enumerate(["r1", "r2", "r3", "r4"]):
        assert before(database, shared, release, keep=2, now=NOW + timedelta(hours=run)) == 0
    kept = sorted(path.name for path in shared.iterdir() if sqlite_backup.BEFORE.match(path.name))
    assert kept == ["20261201T120000Z-before-r3.sqlite3", "20261201T130000Z-before-r4.sqlite3"]
    assert copy_names(shared) == sorted(scheduled_copies)
    # And the scheduled run leaves the copies taken before migrations alone.
    assert backup(database, shared, keep=1, now=NOW + timedelta(hours=5)) == 0
    assert sorted(path.name for path in shared.iterdir() if sqlite_backup.BEFORE.match(path.name)) == kept


def test_no_database_yet_is_nothing_to_copy_before_migrations(data, backups, capsys):
    assert before(data / "app.db", backups.parent, "r1") == 0
    assert "nothing to copy" in capsys.readouterr().out
    assert not (data / "app.db").exists(), "the live database must never be created"
    assert [path.name for path in backups.parent.iterdir()] == ["scheduled"]


@pytest.mark.parametrize("release", ["", "../x", "a b", "r1;rm"])
def test_a_release_name_is_letters_digits_dots_dashes(data, backups, release):
    with pytest.raises(SystemExit) as exit_info:
        before(make_database(data / "app.db"), backups.parent, release)
    assert exit_info.value.code == 2
