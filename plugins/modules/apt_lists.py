#!/usr/bin/python
"""Refresh apt's package lists when they need it, and tell which packages a role still needs:
the kit's one rule for both."""

import contextlib
import os
import re
import time

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: apt_lists
short_description: Refresh apt's package lists when they are missing or stale
description:
  - >-
    Runs C(apt-get update) when the host has no package lists at all, or when they
    are older than O(valid_time). Lists that are missing always count as stale, even
    when C(/var/lib/apt/lists) itself is new, as it is in an image built minutes ago
    whose lists were removed; a bare C(cache_valid_time) of M(ansible.builtin.apt)
    then skips the update the host needs.
  - >-
    Waits up to O(lock_timeout) seconds while another apt run (C(apt-daily),
    C(unattended-upgrades) on a freshly booted server) holds the lists lock, and says
    which process it waited for.
  - >-
    Package lists are a cache, not host state: the task never reports a change, and
    it refreshes them in check mode too, where M(ansible.builtin.apt) needs them to
    tell which packages it would install.
  - >-
    With O(packages), it first reads dpkg's database for the packages that are not
    installed yet, and returns them as RV(missing). Lists are only refreshed when
    something is missing: installed packages need no lists. A role then runs
    M(ansible.builtin.apt) only for RV(missing), so a server that has everything
    pays for one quick read instead of M(ansible.builtin.apt) opening its whole
    cache (about 0.7 s a role on a small server).
options:
  packages:
    description:
      - Package names to look up in dpkg's database.
      - >-
        A name with a version or a pattern (V(nginx=1.26*), V(foo>=2)), or a virtual
        package, cannot be told from dpkg's database: it always counts as missing, and
        M(ansible.builtin.apt) decides.
      - Without it, the lists are refreshed by age alone and RV(missing) is empty.
    type: list
    elements: str
  status_file:
    description: dpkg's database of installed packages (a different one only in tests).
    type: path
    default: /var/lib/dpkg/status
  valid_time:
    description: Lists younger than this many seconds are kept as they are.
    type: int
    default: 3600
  lock_timeout:
    description: How long to wait for another apt run to release the lists lock, in seconds.
    type: int
    default: 600
  lists_dir:
    description: apt's lists directory (a different one only in tests).
    type: path
    default: /var/lib/apt/lists
  report_installed:
    description:
      - >-
        Also return RV(installed), every package dpkg has installed. The kit's action plugin
        of the same name (plugins/action/apt_lists.py) asks for it, to answer a later call of
        the same run from it.
    type: bool
    default: false
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Refresh apt's package lists when they are missing or stale
  apt_lists:
    valid_time: 3600

- name: Find the packages nginx's role still needs, with fresh lists if it needs any
  apt_lists:
    packages: [nginx]
  register: nginx_packages

- name: Install nginx
  ansible.builtin.apt:
    name: "{{ nginx_packages.missing }}"
    state: present
  when: nginx_packages.missing | length > 0
"""

RETURN = r"""
updated:
  description: Whether C(apt-get update) ran.
  type: bool
  returned: always
reason:
  description: Why the lists were or were not refreshed.
  type: str
  returned: always
waited:
  description: Seconds spent waiting for another apt run's lock.
  type: int
  returned: always
missing:
  description: The packages of O(packages) that are not installed, in their order.
  type: list
  elements: str
  returned: always
versions:
  description: >-
    The version dpkg has installed of each package of O(packages) given by its plain name
    (C(1.22.1-9+deb12u2) for V(nginx)), before this task: a role that needs a program's
    version reads it here instead of running the program.
  type: dict
  returned: always
installed:
  description: >-
    Every package dpkg has installed, by its plain name, with its version, before this task
    (only with O(report_installed)).
  type: dict
  returned: when O(report_installed) is true
"""

# apt's periodic job touches this after each successful update, where it is set up.
UPDATE_STAMP = "/var/lib/apt/periodic/update-success-stamp"
LOCK_ERROR = re.compile(r"Could not get lock .*")
INSTALLED_STATES = (["installed"], ["triggers-pending"], ["triggers-awaited"])
# A plain package name, with an optional architecture (Debian policy 5.6.1).
PLAIN_NAME = re.compile(r"^(?P<name>[a-z0-9][a-z0-9+.-]+)(?::(?P<arch>[a-z0-9-]+))?$")
RETRY_SECONDS = 2


def lists_need_update(package_lists: int, refreshed_at: float | None, now: float, valid_time: int) -> tuple[bool, str]:
    """Decide whether apt's lists need ``apt-get update``, and say why.

    ``package_lists`` is how many ``*_Packages`` files apt has; ``refreshed_at`` is
    when the lists were last refreshed (None when nothing tells).
    """
    if package_lists == 0:
        return True, "no package lists"
    if refreshed_at is None:
        return True, "no record of the last refresh"
    age = now - refreshed_at
    if age >= valid_time:
        return True, f"lists are {int(age)} s old (valid for {valid_time} s)"
    return False, f"lists are {int(age)} s old (valid for {valid_time} s)"


def count_package_lists(lists_dir: str) -> int:
    try:
        return sum(1 for name in os.listdir(lists_dir) if "_Packages" in name)
    except FileNotFoundError:
        return 0


def last_refresh(lists_dir: str) -> float | None:
    """The newest of the lists directory's mtime and apt's update stamp."""
    times = []
    for path in (lists_dir, UPDATE_STAMP):
        with contextlib.suppress(FileNotFoundError):
            times.append(os.stat(path).st_mtime)
    return max(times, default=None)


def installed_packages(status: str) -> dict[tuple[str, str], str]:
    """The (name, architecture) pairs dpkg's database ``status`` says are installed, with their versions.

    A package is installed when its Status ends in "installed" (C(install ok installed),
    C(hold ok installed)) or only its triggers are pending; one that is half-installed,
    half-configured or only left with its configuration files
    (C(deinstall ok config-files)) is not.
    """
    installed = {}
    for stanza in status.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            key, sep, value = line.partition(":")
            if sep and not line.startswith((" ", "\t")):
                fields[key] = value.strip()
        if fields.get("Status", "").split()[-1:] in INSTALLED_STATES and "Package" in fields:
            installed[(fields["Package"], fields.get("Architecture", ""))] = fields.get("Version", "")
    return installed


def missing_packages(packages: list[str], installed: dict[tuple[str, str], str]) -> list[str]:
    """The packages, in their order, that ``installed`` does not have.

    A name without an architecture is installed in any architecture (as C(apt) reads it on
    a one-architecture server); anything but a plain name counts as missing.
    """
    names = {name for name, _ in installed}
    missing = []
    for package in packages:
        plain = PLAIN_NAME.match(package)
        if plain is None:
            found = False
        elif plain["arch"] is None:
            found = plain["name"] in names
        else:
            found = bool({(plain["name"], plain["arch"]), (plain["name"], "all")} & installed.keys())
        if not found:
            missing.append(package)
    return list(dict.fromkeys(missing))


def versions_by_name(installed: dict[tuple[str, str], str]) -> dict[str, str]:
    """The installed version of each package by its plain name, whatever its architecture (of a
    package installed for two, the one dpkg's database lists last)."""
    return {name: version for (name, _), version in installed.items()}


def installed_versions(packages: list[str], installed: dict[tuple[str, str], str]) -> dict[str, str]:
    """The installed version of each plain package name of packages that is installed (in any architecture)."""
    by_name = versions_by_name(installed)
    return {package: by_name[package] for package in packages if package in by_name}


def lock_holder(output: str) -> str | None:
    """apt's own words about a lock another process holds, or None."""
    match = LOCK_ERROR.search(output)
    return match.group(0).rstrip(".") if match else None


def update_lists(module: AnsibleModule, lock_timeout: int) -> tuple[int, str | None]:
    """Run ``apt-get update``, waiting out another run's lock.

    Returns the seconds waited and apt's words about the first lock it met.
    """
    started = time.monotonic()
    env = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    first_holder = None
    while True:
        attempt = time.monotonic()
        rc, out, err = module.run_command(["apt-get", "update", "-q"], environ_update=env)
        if rc == 0:
            return int(attempt - started), first_holder
        holder = lock_holder(err)
        first_holder = first_holder or holder
        waited = time.monotonic() - started
        if holder is None or waited >= lock_timeout:
            reason = f"after waiting {int(waited)} s for the lock ({holder})" if holder else f"with status {rc}"
            module.fail_json(msg=f"apt-get update failed {reason}", rc=rc, stdout=out, stderr=err)
        time.sleep(RETRY_SECONDS)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "valid_time": {"type": "int", "default": 3600},
            "lock_timeout": {"type": "int", "default": 600},
            "lists_dir": {"type": "path", "default": "/var/lib/apt/lists"},
            "packages": {"type": "list", "elements": "str"},
            "status_file": {"type": "path", "default": "/var/lib/dpkg/status"},
            "report_installed": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    lists_dir = module.params["lists_dir"]
    packages = module.params["packages"]
    missing, versions, installed = [], {}, {}
    if packages is not None:
        try:
            with open(module.params["status_file"], encoding="utf-8", errors="replace") as status:
                installed = installed_packages(status.read())
        except FileNotFoundError:
            installed = {}
        missing = missing_packages(packages, installed)
        versions = installed_versions(packages, installed)
    if packages is not None and not missing:
        needed, reason = False, "every package is installed: no lists needed"
    else:
        needed, reason = lists_need_update(
            count_package_lists(lists_dir), last_refresh(lists_dir), time.time(), module.params["valid_time"]
        )
    waited = 0
    if needed:
        waited, holder = update_lists(module, module.params["lock_timeout"])
        # The directory's mtime records this refresh, whether or not a list changed.
        os.utime(lists_dir)
        if holder:
            module.warn(f"apt-get update waited {waited} s for another apt run: {holder}")
    result = {
        "changed": False,
        "updated": needed,
        "reason": reason,
        "waited": waited,
        "missing": missing,
        "versions": versions,
    }
    if module.params["report_installed"]:
        result["installed"] = dict(sorted(versions_by_name(installed).items()))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
