#!/usr/bin/env python3
"""CPU seconds used so far by the sandbox's running processes, by role: the app
(Gunicorn), the proxy (nginx) and the rest.

The bench reads it before and after a measurement: the difference divided by the
requests served says where each request's CPU went (the load generator's own CPU
comes from the shell that ran it, `times`, as it has exited by then). Prints one
JSON object.
"""

from __future__ import annotations

import json
import os
import sys

ROLES = {"gunicorn": "app", "nginx": "proxy"}


def main() -> int:
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
        used[ROLES.get(comm, "other")] += (int(fields[11]) + int(fields[12])) / ticks
    json.dump({role: round(seconds, 2) for role, seconds in used.items()}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
