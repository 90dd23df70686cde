"""apt_lists, the controller's side: a role whose packages an earlier apt_lists of the same
run found installed gets its answer without another look at the host.

site.yml has nine roles that each ask apt_lists for their packages. On a server that has
them all, the first call reads dpkg's database and the other eight only read it again, at
one module run each (0.2 to 0.5 s over SSH). This plugin runs the module as before and
remembers, as the host fact ``apt_lists_installed``, every package dpkg had installed and
which run read it. A later call of the same run whose packages are all there answers from
it: nothing missing, no lists needed. Anything else runs the module:

- a package the fact does not have (not installed then, or since: a role installed it);
- a name with a version, a pattern or an architecture (only the module can tell those);
- another option than ``packages``, ``valid_time`` and ``lock_timeout`` (a test's own
  ``status_file`` or ``lists_dir``);
- a fact from another run, which a persistent fact cache (``fact_caching = jsonfile``)
  can bring back a day later, or a controller that cannot tell its runs apart (no /proc:
  the fact is not used at all there).

The kit's roles only ever add packages within a run, so a package found installed stays
installed until the run ends.
"""

from __future__ import annotations

import os
from typing import Any

from ansible.plugins.action import ActionBase

FACT = "apt_lists_installed"
CACHEABLE_OPTIONS = frozenset({"packages", "valid_time", "lock_timeout"})
REASON = "every package was installed when this run last read dpkg's database: no lists needed"


def this_run(pid: int | None = None, proc: str = "/proc") -> str | None:
    """What tells this ansible-playbook run from any other: the boot, and the PID and start time
    of the process that forked this worker (ansible-playbook itself). None without /proc."""
    pid = os.getppid() if pid is None else pid
    try:
        with open(f"{proc}/sys/kernel/random/boot_id", encoding="ascii") as boot_file:
            boot = boot_file.read().strip()
        with open(f"{proc}/{pid}/stat", encoding="ascii", errors="replace") as stat_file:
            stat = stat_file.read()
    except OSError:
        return None
    # "pid (comm) state ppid ...": the name may hold spaces and parentheses, so count the
    # fields after its last ")". starttime is field 22 of proc(5), the 20th after the name.
    fields = stat.rpartition(")")[2].split()
    if len(fields) < 20:
        return None
    return f"{boot}:{pid}:{fields[19]}"


def asks_about_packages_only(args: dict[str, Any]) -> bool:
    """Whether a call asks about a list of packages, with nothing but the lists' options besides."""
    return isinstance(args.get("packages"), list) and set(args) <= CACHEABLE_OPTIONS


def remembered_answer(remembered: Any, run: str | None, args: dict[str, Any]) -> dict[str, Any] | None:
    """The module's answer for ``args``, from what this run's earlier call found installed,
    or None when only the module can answer."""
    if run is None or not isinstance(remembered, dict) or remembered.get("run") != run:
        return None
    if not asks_about_packages_only(args):
        return None
    packages = args["packages"]
    versions = remembered.get("versions")
    if not isinstance(versions, dict) or not all(isinstance(name, str) and name in versions for name in packages):
        return None
    return {
        "changed": False,
        "updated": False,
        "reason": REASON,
        "waited": 0,
        "missing": [],
        "versions": {name: versions[name] for name in packages},
    }


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _supports_check_mode = True

    def run(self, tmp: str | None = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = dict(self._task.args)
        run = this_run()
        remembered = task_vars.get("ansible_facts", {}).get(FACT)
        answer = remembered_answer(remembered, run, args)
        if answer is not None:
            result.update(answer)
            return result
        if run is not None and asks_about_packages_only(args):
            args["report_installed"] = True
        result.update(self._execute_module(module_name="apt_lists", module_args=args, task_vars=task_vars))
        installed = result.pop("installed", None)
        if isinstance(installed, dict) and not result.get("failed"):
            result["ansible_facts"] = {FACT: {"run": run, "versions": installed}}
        return result
