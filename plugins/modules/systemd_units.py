#!/usr/bin/python
"""Several systemd units enabled and started (or stopped) in one task: one systemctl read for all."""

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: systemd_units
short_description: Enable, start or stop several systemd units in one task
description:
  - >-
    What M(ansible.builtin.systemd_service) does with O(units[].enabled) and
    O(units[].state), for a list of units, in one module call: the state of every unit
    comes from one C(systemctl show), and the units that need it are enabled, disabled,
    stopped, started, restarted or reloaded with one C(systemctl) command each. A server
    whose units are all as asked costs one round trip and one C(systemctl) run, where
    M(ansible.builtin.systemd_service) costs a round trip and several runs per unit.
  - >-
    A unit that systemd does not know (its package not installed, a name mistyped) or
    that is masked fails the task before any unit is changed, and says which.
  - >-
    A unit counts as enabled when C(systemctl is-enabled) would say so with status 0:
    C(enabled), C(enabled-runtime), C(static), C(indirect), C(alias), C(generated),
    C(transient). Disabling touches only C(enabled) and C(enabled-runtime) units: the
    others have no install links of their own to remove.
  - An entry whose O(units[].name) is empty is left out, so an optional one can be written inline.
  - Supports check mode.
options:
  units:
    description: The units, in the order their commands list them.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: >-
          The unit's name, with its suffix (C(nginx.service), C(certbot.timer)); empty to
          leave the entry out.
        type: str
        required: true
      enabled:
        description: Whether it starts at boot; left as it is when not given.
        type: bool
      state:
        description: >-
          C(started) and C(stopped) change the unit only when it is not so already;
          C(restarted) always restarts it; C(reloaded) reloads it when it runs and starts
          it when it does not. Left as it is when not given.
        type: str
        choices: [started, stopped, restarted, reloaded]
  daemon_reload:
    description: Run C(systemctl daemon-reload) first (not in check mode), after unit files changed.
    type: bool
    default: false
  systemctl:
    description: The systemctl command (a different one only in tests).
    type: str
    default: systemctl
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Keep the clock and the automatic updates running
  systemd_units:
    units:
      - {name: systemd-timesyncd.service, enabled: true, state: started}
      - {name: apt-daily.timer, enabled: true, state: started}
      - {name: apt-daily-upgrade.timer, enabled: true, state: started}
      - {name: unattended-upgrades.service, enabled: true}
"""

RETURN = r"""
units:
  description: Each unit as it was found, and what was done to it (in check mode, would be).
  type: list
  elements: dict
  returned: always
  sample:
    - {name: nginx.service, unit_file_state: enabled, active_state: active, actions: []}
    - {name: certbot.timer, unit_file_state: disabled, active_state: inactive, actions: [enable, start]}
"""

PROPERTIES = ("LoadState", "ActiveState", "UnitFileState")
# The unit file states `systemctl is-enabled` answers with status 0 (systemctl(1)).
ENABLED = frozenset({"enabled", "enabled-runtime", "static", "indirect", "alias", "generated", "transient"})
# The ones `systemctl disable` has install links to remove from.
DISABLEABLE = frozenset({"enabled", "enabled-runtime"})
RUNNING = frozenset({"active", "activating", "reloading"})
# The order the commands run in: boot links first, then what runs now.
VERBS = ("enable", "disable", "stop", "start", "restart", "reload")


def parse_show(output: str, count: int) -> list[dict[str, str]]:
    """``systemctl show --property=...`` for count units: one dict of properties per unit, in order.

    systemctl prints one block of KEY=value lines per unit, the blocks parted by an empty line.
    """
    if count == 0:
        return []
    blocks = output.strip("\n").split("\n\n")
    if len(blocks) != count:
        raise ValueError(f"systemctl show gave {len(blocks)} blocks for {count} units:\n{output}")
    return [dict(line.partition("=")[::2] for line in block.splitlines() if "=" in line) for block in blocks]


def unit_actions(unit: dict, found: dict[str, str]) -> list[str]:
    """What unit (its wanted enabled and state) needs done, given what systemctl show found."""
    file_state = found.get("UnitFileState", "")
    running = found.get("ActiveState", "") in RUNNING
    actions = []
    if unit.get("enabled") is True and file_state not in ENABLED:
        actions.append("enable")
    elif unit.get("enabled") is False and file_state in DISABLEABLE:
        actions.append("disable")
    state = unit.get("state")
    if state == "started" and not running:
        actions.append("start")
    elif state == "stopped" and running:
        actions.append("stop")
    elif state == "restarted":
        actions.append("restart")
    elif state == "reloaded":
        actions.append("reload" if running else "start")
    return actions


def refusal(unit: dict, found: dict[str, str]) -> str | None:
    """Why a unit cannot be settled at all, or None."""
    name = unit["name"]
    load_state = found.get("LoadState", "")
    if load_state == "not-found":
        return f"{name}: systemd has no such unit (is its package installed, is the name right?)"
    if load_state == "masked" and (unit.get("enabled") or unit.get("state") in ("started", "restarted", "reloaded")):
        return f"{name} is masked: systemd will neither enable nor start it (systemctl unmask {name})"
    if load_state not in ("loaded", "masked"):
        return f"{name}: systemd could not load it (LoadState={load_state or 'none'}; systemctl status {name})"
    return None


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "units": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "enabled": {"type": "bool"},
                    "state": {"type": "str", "choices": ["started", "stopped", "restarted", "reloaded"]},
                },
            },
            "daemon_reload": {"type": "bool", "default": False},
            "systemctl": {"type": "str", "default": "systemctl"},
        },
        supports_check_mode=True,
    )
    systemctl = module.params["systemctl"]
    units = [unit for unit in module.params["units"] if unit["name"]]

    def run(*args: str) -> str:
        rc, out, err = module.run_command([systemctl, *args], environ_update={"LC_ALL": "C", "SYSTEMD_PAGER": ""})
        if rc != 0:
            module.fail_json(
                msg=f"systemctl {' '.join(args)} failed with status {rc}: {err.strip() or out.strip()}",
                rc=rc,
                stdout=out,
                stderr=err,
            )
        return out

    if module.params["daemon_reload"] and not module.check_mode:
        run("daemon-reload")
    names = [unit["name"] for unit in units]
    try:
        found = parse_show(run("show", "--property=" + ",".join(PROPERTIES), "--", *names), len(units)) if units else []
    except ValueError as error:
        module.fail_json(msg=str(error))
    refusals = [reason for unit, state in zip(units, found, strict=True) if (reason := refusal(unit, state))]
    if refusals:
        module.fail_json(msg="; ".join(refusals))

    report = []
    by_verb: dict[str, list[str]] = {verb: [] for verb in VERBS}
    for unit, state in zip(units, found, strict=True):
        actions = unit_actions(unit, state)
        for action in actions:
            by_verb[action].append(unit["name"])
        report.append(
            {
                "name": unit["name"],
                "unit_file_state": state.get("UnitFileState", ""),
                "active_state": state.get("ActiveState", ""),
                "actions": actions,
            }
        )
    if not module.check_mode:
        for verb in VERBS:
            if by_verb[verb]:
                run(verb, "--", *by_verb[verb])
    module.exit_json(changed=any(entry["actions"] for entry in report), units=report)


if __name__ == "__main__":
    main()
