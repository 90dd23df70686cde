#!/usr/bin/env python3
"""Latency percentiles from h2load's --log-file (start µs, status, duration µs per request).

h2load prints only min/mean/max; its per-request log has every latency, so the bench
reads p50 and p99 from it, on the sandbox, and gets one JSON line back.
"""

from __future__ import annotations

import json
import sys


def main(path: str) -> int:
    durations: list[int] = []
    non_2xx = 0
    with open(path) as handle:
        for line in handle:
            fields = line.split("\t")
            if len(fields) < 3:
                continue
            if not fields[1].startswith("2"):
                non_2xx += 1
            durations.append(int(fields[2]))
    durations.sort()

    def pick(fraction: float) -> float:
        if not durations:
            return 0.0
        return round(durations[min(len(durations) - 1, int(fraction * len(durations)))] / 1000, 2)

    json.dump({"count": len(durations), "non_2xx": non_2xx, "p50_ms": pick(0.50), "p99_ms": pick(0.99)}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
