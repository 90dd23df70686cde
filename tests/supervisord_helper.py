"""A real supervisord (Supervisor 4.2.5, as Debian ships) for the tests of the kit's Supervisor modules."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def supervisord(
    directory: Path, programs: str, connect: Callable[[str], Any], ready: Callable[[Any], bool]
) -> Iterator[tuple[Path, Any]]:
    """Run supervisord in directory with the [program:...] sections of programs (their own indentation
    removed) until the block ends; yield its control socket and an XML-RPC proxy (connect's), once ready(proxy)
    is true. Its log is directory/supervisord.log."""
    socket = directory / "s.sock"
    conf = directory / "supervisord.conf"
    header = textwrap.dedent(f"""
        [unix_http_server]
        file={socket}
        [supervisord]
        nodaemon=true
        logfile={directory}/supervisord.log
        pidfile={directory}/supervisord.pid
        [rpcinterface:supervisor]
        supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface
        """)
    conf.write_text(header + textwrap.dedent(programs))
    daemon = subprocess.Popen([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)])
    try:
        deadline = time.monotonic() + 20
        while True:
            server = connect(str(socket))
            try:
                if ready(server):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (directory / "supervisord.log").read_text()
            time.sleep(0.1)
        yield socket, server
    finally:
        daemon.terminate()
        daemon.wait(timeout=20)
