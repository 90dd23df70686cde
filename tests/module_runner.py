"""Run one of the kit's modules (plugins/modules/) as Ansible runs it: a Python process given its
arguments in a JSON file, answering with JSON on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODULES = Path(__file__).resolve().parents[1] / "plugins" / "modules"


def run_module(
    name: str, directory: Path, arguments: dict, *, check: bool = False, diff: bool = False, timeout: float = 60
) -> dict:
    """The result of module name (plugins/modules/<name>.py) run with arguments, in check and diff mode
    when asked; its arguments file is written in directory."""
    args = directory / "args.json"
    flags = {"_ansible_check_mode": check, "_ansible_diff": diff}
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments | flags}))
    result = subprocess.run(
        [sys.executable, str(MODULES / f"{name}.py"), str(args)], capture_output=True, text=True, timeout=timeout
    )
    return json.loads(result.stdout)
