"""Run one of the kit's modules (plugins/modules/) as Ansible runs it: a Python process given its
arguments in a JSON file, answering with JSON on stdout."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODULES = Path(__file__).resolve().parents[1] / "plugins" / "modules"
MODULE_UTILS = MODULES.parent / "module_utils"
# What Ansible's module wrapper does for the kit's shared code: ansible.module_utils.kit_* is found in
# plugins/module_utils/. Then the module runs as a script, given its arguments file (sys.argv[1]).
BOOTSTRAP = (
    "import runpy, sys, ansible.module_utils as utils; "
    "utils.__path__.append(sys.argv.pop(1)); "
    "runpy.run_path(sys.argv.pop(1), run_name='__main__')"
)


def run_module(
    name: str, directory: Path, arguments: dict, *, check: bool = False, diff: bool = False, timeout: float = 60
) -> dict:
    """The result of module name (plugins/modules/<name>.py) run with arguments, in check and diff mode
    when asked; its arguments file is written in directory."""
    args = directory / "args.json"
    flags = {"_ansible_check_mode": check, "_ansible_diff": diff}
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments | flags}))
    result = subprocess.run(
        [sys.executable, "-c", BOOTSTRAP, str(MODULE_UTILS), str(MODULES / f"{name}.py"), str(args)],
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    return json.loads(result.stdout)
