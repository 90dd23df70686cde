#!/usr/bin/env python3
"""Memory of the serving stack on the sandbox: Supervisor, the live Gunicorn master
and its workers, nginx. RSS counts pages shared after fork once per process; PSS
splits them among the sharers, so PSS adds up to what the stack really holds.

Usage: procmem.py MASTER_PID   (prints one JSON object)
"""

from __future__ import annotations

import json
import os
import sys


def memory(pid: int) -> dict[str, int]:
    """RSS and PSS in KiB, from /proc/PID/smaps_rollup."""
    values = {"rss_kib": 0, "pss_kib": 0}
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                name, _, rest = line.partition(":")
                if name in ("Rss", "Pss"):
                    values[f"{name.lower()}_kib"] = int(rest.split()[0])
    except OSError:
        pass
    return values


def command(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def main(master: int) -> int:
    groups: dict[str, list[int]] = {"gunicorn master": [master], "gunicorn workers": children(master)}
    groups["supervisord"] = [int(p) for p in os.listdir("/proc") if p.isdigit() and "/supervisord" in command(int(p))]
    groups["nginx"] = [int(p) for p in os.listdir("/proc") if p.isdigit() and command(int(p)).startswith("nginx:")]
    report = {}
    for name, pids in groups.items():
        per_process = [memory(pid) for pid in pids]
        report[name] = {
            "processes": len(pids),
            "rss_kib": sum(m["rss_kib"] for m in per_process),
            "pss_kib": sum(m["pss_kib"] for m in per_process),
        }
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
