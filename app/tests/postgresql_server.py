"""A throwaway PostgreSQL server for the tests: its own cluster, port and socket directory.

It runs the distribution's server binaries (Debian's ``postgresql`` package installs
them in ``/usr/lib/postgresql/<version>/bin``). initdb and the server refuse to run as
root, so when the tests do, the cluster belongs to ``nobody``.
"""

import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from sqlalchemy import URL

BINARIES_GLOB = "/usr/lib/postgresql/*/bin/initdb"
UNPRIVILEGED_USER = "nobody"
USER = "webapp"
# Characters a URL must encode, to check the application decodes them.
PASSWORD = "pg-secret:p@ss/word#1"
# Quick and unsafe: nothing here must survive a crash.
SERVER_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "fsync": "off",
    "full_page_writes": "off",
    "synchronous_commit": "off",
    "max_connections": "200",
    # Each new connection is logged: tests count them.
    "log_connections": "on",
}
START_SECONDS = 30


def find_binaries() -> Path | None:
    """The newest installed server's bin directory, or None."""
    found = sorted(Path("/").glob(BINARIES_GLOB.lstrip("/")), key=lambda p: int(p.parts[-3]))
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgreSQLServer:
    """One cluster in a temporary directory, and the commands the tests need on it."""

    def __init__(self, bindir: Path, directory: Path) -> None:
        self.bindir = bindir
        self.directory = directory
        self.data = directory / "data"
        self.log = directory / "server.log"
        self.port = free_port()
        self.owner = pwd.getpwnam(UNPRIVILEGED_USER) if os.geteuid() == 0 else None

    def run(self, program: str, *args: str) -> None:
        """Run one of the server's programs as the cluster's owner."""
        user = group = None
        if self.owner is not None:
            user, group = self.owner.pw_uid, self.owner.pw_gid
        result = subprocess.run(
            [str(self.bindir / program), *args],
            user=user,
            group=group,
            extra_groups=[] if user is not None else None,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"},
            cwd=self.directory,
            capture_output=True,
            text=True,
            timeout=START_SECONDS + 10,
            check=False,
        )
        if result.returncode != 0:
            log = self.log.read_text() if self.log.exists() else ""
            raise RuntimeError(f"{program} {' '.join(args)} failed:\n{result.stderr}\n{log}")

    def initdb(self) -> None:
        if self.owner is not None:
            os.chown(self.directory, self.owner.pw_uid, self.owner.pw_gid)
        password_file = self.directory / "password"
        password_file.write_text(PASSWORD)
        if self.owner is not None:
            os.chown(password_file, self.owner.pw_uid, self.owner.pw_gid)
        self.run(
            "initdb",
            f"--pgdata={self.data}",
            f"--username={USER}",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
        )
        password_file.unlink()
        settings = {
            **SERVER_SETTINGS,
            "port": str(self.port),
            "unix_socket_directories": f"'{self.directory}'",
        }
        with (self.data / "postgresql.conf").open("a") as conf:
            conf.writelines(f"{name} = {value}\n" for name, value in settings.items())

    def pg_ctl(self, action: str, *args: str) -> None:
        self.run("pg_ctl", action, f"--pgdata={self.data}", f"--log={self.log}", "--wait", *args)

    def start(self) -> None:
        self.pg_ctl("start", f"--timeout={START_SECONDS}")

    def stop(self, mode: str = "fast") -> None:
        self.pg_ctl("stop", f"--mode={mode}")

    def restart(self) -> None:
        """Stop (closing every client's connection) and start again, on the same port."""
        self.pg_ctl("restart", "--mode=fast", f"--timeout={START_SECONDS}")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def postmaster_pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().splitlines()[0])

    def freeze(self) -> None:
        """Stop the postmaster (SIGSTOP): new connections are accepted by the kernel,
        then get no answer, like a server that hangs or a host that went away."""
        os.kill(self.postmaster_pid(), signal.SIGSTOP)

    def thaw(self) -> None:
        os.kill(self.postmaster_pid(), signal.SIGCONT)

    def url(self, database: str, password: str = PASSWORD, **query: str) -> str:
        """A URL for the application: over TCP with the password, as a remote server."""
        return URL.create(
            "postgresql",
            username=USER,
            password=password,
            host="127.0.0.1",
            port=self.port,
            database=database,
            query=query,
        ).render_as_string(hide_password=False)

    def connections_made(self, database: str) -> int:
        """How many connections to ``database`` the server has accepted so far."""
        authorized = re.compile(rf"connection authorized: user={USER} database={database}\b")
        return len(authorized.findall(self.log.read_text()))

    def admin(self, database: str = "postgres") -> psycopg.Connection:
        """A connection over the Unix socket, in autocommit mode."""
        return psycopg.connect(
            host=str(self.directory),
            port=self.port,
            user=USER,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self, name: str, template: str = "template1") -> None:
        with self.admin() as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_server(bindir: Path) -> Iterator[PostgreSQLServer]:
    """A started server in a new temporary directory, stopped and removed afterwards.

    The directory is under the system's temporary directory rather than pytest's, whose
    per-user directory the unprivileged owner could not enter.
    """
    directory = Path(tempfile.mkdtemp(prefix="webapp-tests-postgresql-"))
    server = PostgreSQLServer(bindir, directory)
    try:
        server.initdb()
        server.start()
        yield server
    finally:
        if server.running():
            server.thaw()  # a stopped postmaster would ignore the stop request
            server.stop(mode="immediate")
        shutil.rmtree(directory)
