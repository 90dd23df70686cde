#!/usr/bin/env python3
"""Remove old releases of an app, and the virtualenvs no kept release uses.

Keeps the newest --keep complete releases (by export time), the release the
`current` link points at, and every --protect release. Leftovers of interrupted
exports (*.tmp) go too. Prints {"removed": [...], "kept": [...]} as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path


def release_time(release: Path) -> float:
    return (release / "REVISION").stat().st_mtime


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--base", type=Path, required=True, help="the app's base directory")
    parser.add_argument("--keep", type=int, required=True, help="newest releases to keep")
    parser.add_argument("--protect", action="append", default=[], help="a release id never to remove")
    parser.add_argument("--dry-run", action="store_true", help="say what would go, remove nothing")
    args = parser.parse_args(argv)

    releases_dir, venvs_dir = args.base / "releases", args.base / "venvs"
    releases = sorted(
        (p for p in releases_dir.iterdir() if p.is_dir() and (p / "REVISION").is_file()),
        key=release_time,
        reverse=True,
    )
    protected = set(args.protect)
    current = args.base / "current"
    if current.is_symlink():
        protected.add(current.resolve().name)

    kept = [r for i, r in enumerate(releases) if i < max(args.keep, 1) or r.name in protected]
    doomed = [r for r in releases if r not in kept]
    doomed += [p for p in releases_dir.glob("*.tmp") if p.is_dir()]

    used_venvs = {(r / ".venv").resolve() for r in kept if (r / ".venv").is_symlink()}
    if venvs_dir.is_dir():
        doomed += [v for v in venvs_dir.iterdir() if v.is_dir() and v.resolve() not in used_venvs]

    if not args.dry_run:
        for path in doomed:
            shutil.rmtree(path)
    json.dump({"removed": [str(p) for p in doomed], "kept": [r.name for r in kept]}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
