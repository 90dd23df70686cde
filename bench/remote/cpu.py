#!/usr/bin/env python3
"""CPU seconds used so far by the sandbox's running processes, by role: the app
(Gunicorn), the proxy (nginx) and the rest.

The bench reads it before and after a measurement: the difference divided by the
requests served says where each request's CPU went (the load generator's own CPU
comes from the shell that ran it, `times`, as it has exited by then). With
--client PID, the CPU of that process (the load generator, still running: read when
its warm-up ends) as "client", and this script's own as "self" (the shell's `times`
counts it among the children). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys

ROLES = {"gunicorn": "app", "nginx": "proxy"}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--client", type=int, help="the load generator's process id")
    args = parser.parse_args(argv)
    ticks = os.sysconf("SC_CLK_TCK")
    used = {"app": 0.0, "proxy": 0.0, "other": 0.0}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        # utime and stime: fields 14 and 15 of stat(5), 11 and 12 after the command.
        seconds = (int(fields[11]) + int(fields[12])) / ticks
        role = "client" if int(entry) == args.client else ROLES.get(comm, "other")
        used[role] = used.get(role, 0.0) + seconds
    if args.client is not None:
        used.setdefault("client", 0.0)
        own = resource.getrusage(resource.RUSAGE_SELF)
        used["self"] = own.ru_utime + own.ru_stime
    json.dump({role: round(seconds, 3) for role, seconds in used.items()}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
