#!/usr/bin/python
"""Bring ufw to the rules, policies, logging level and state asked for, in one task."""

import contextlib
import io
import re
import shlex
import sys

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: ufw_firewall
short_description: Bring ufw to a set of rules, default policies, a logging level and on
description:
  - >-
    Reads ufw's added rules, default policies, logging level and state once, and runs
    ufw only for what differs: a host that already matches costs one task and no
    firewall reload. C(community.general.ufw) takes one task per rule or setting, and
    its C(default) and C(logging) reload the whole firewall on every run.
  - >-
    Rules are compared in ufw's own words: each rule is put through ufw's parser
    (C(ufw.frontend.parse_command)) and printed the way C(ufw show added) prints it,
    so C(ssh), C(22) with O(rules[].proto=tcp) and C(22/tcp) are one rule, as they are
    to ufw.
  - >-
    Order: rules are added before ufw is switched on, so the SSH rule exists before
    the default policy can cut the connection this run uses. A rule that differs from
    an existing one only in its action or comment is updated in place by ufw.
  - >-
    Rules that are not listed stay as they are (a rule added by hand is kept until it
    is listed with O(rules[].delete=true)).
  - After a change, reads ufw's rules again and fails if they are not what was asked.
options:
  rules:
    description: Rules to have (or, with O(rules[].delete), not to have).
    type: list
    elements: dict
    default: []
    suboptions:
      rule:
        description: What to do with matching traffic.
        type: str
        choices: [allow, deny, reject, limit]
        default: allow
      port:
        description: Port, range (C(6000:6007)) or service name.
        type: str
        required: true
      proto:
        description: Protocol.
        type: str
        choices: [tcp, udp, any]
        default: tcp
      from:
        description: Source address or network.
        type: str
        default: any
      comment:
        description: Comment shown by C(ufw status).
        type: str
      delete:
        description: Remove the rule (its comment does not matter) instead of adding it.
        type: bool
        default: false
  default_incoming:
    description: Policy for incoming traffic no rule matches.
    type: str
    choices: [allow, deny, reject]
    default: deny
  default_outgoing:
    description: Policy for outgoing traffic no rule matches.
    type: str
    choices: [allow, deny, reject]
    default: allow
  logging:
    description: ufw's logging level.
    type: str
    choices: ["off", low, medium, high, full]
    default: low
  enabled:
    description: Switch ufw on (now and in its configuration) or leave it off.
    type: bool
    default: true
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Set the firewall
  ufw_firewall:
    rules:
      - {rule: limit, port: "22", comment: SSH}
      - {port: "80", comment: Web}
      - {port: "9100", from: 10.0.0.0/8, comment: Metrics}
      - {port: "8080", delete: true}
"""

RETURN = r"""
commands:
  description: The ufw commands run (in check mode, the ones that would run).
  type: list
  elements: str
  returned: always
rules:
  description: ufw's added rules after the task, as C(ufw show added) prints them.
  type: list
  elements: str
  returned: always
"""

UFW_PYTHON = "/usr/lib/python3/dist-packages"
DEFAULTS_FILE = "/etc/default/ufw"
CONF_FILE = "/etc/ufw/ufw.conf"
# /etc/default/ufw stores iptables targets; ufw's commands take these words.
POLICY_WORDS = {"ACCEPT": "allow", "DROP": "deny", "REJECT": "reject"}
POLICY_KEYS = {"incoming": "DEFAULT_INPUT_POLICY", "outgoing": "DEFAULT_OUTPUT_POLICY"}
COMMENT = re.compile(r" comment '.*'$")


def rule_args(rule: dict, with_comment: bool = True) -> list[str]:
    """ufw's extended command for one rule; ufw itself shortens it where it can."""
    args = [rule["rule"], "from", rule["from"], "to", "any", "port", rule["port"]]
    if rule["proto"] != "any":
        args += ["proto", rule["proto"]]
    if with_comment and rule.get("comment"):
        args += ["comment", rule["comment"]]
    return args


def read_assignments(text: str) -> dict[str, str]:
    """KEY=value lines of a shell-style configuration file, quotes removed."""
    values = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            values[key.strip()] = value.strip().strip("\"'")
    return values


def added_rules(show_added: str) -> list[str]:
    """The rules in ``ufw show added``'s output, without the leading ``ufw``."""
    return [line[len("ufw ") :] for line in show_added.splitlines() if line.startswith("ufw ")]


def without_comment(rule: str) -> str:
    return COMMENT.sub("", rule)


def unmet(wanted: list[tuple[str, list[str], bool]], current: list[str]) -> list[tuple[str, list[str], bool]]:
    """The wanted rules that ``current`` does not have as asked: present for one to add,
    present whatever its comment for one to delete."""
    present = set(current)
    present_bare = {without_comment(rule) for rule in current}
    return [rule for rule in wanted if (rule[0] in present_bare if rule[2] else rule[0] not in present)]


def plan(wanted: list[tuple[str, list[str], bool]], current: list[str], settings: dict, asked: dict) -> list[list[str]]:
    """The ufw commands that bring the host from ``current`` to what is asked.

    ``wanted`` holds, per rule, its canonical text (as ``ufw show added`` prints it),
    the arguments that set it, and whether it is to be deleted. ``settings`` and
    ``asked`` have the keys ``incoming``, ``outgoing``, ``logging`` and ``enabled``.
    """
    commands = [["delete", *args] if delete else args for _canonical, args, delete in unmet(wanted, current)]
    for direction in ("incoming", "outgoing"):
        if settings[direction] != asked[direction]:
            commands.append(["default", asked[direction], direction])
    if settings["logging"] != asked["logging"]:
        commands.append(["logging", asked["logging"]])
    if asked["enabled"] and not settings["enabled"]:
        commands.append(["--force", "enable"])
    elif not asked["enabled"] and settings["enabled"]:
        commands.append(["disable"])
    return commands


def canonical_rules(module: AnsibleModule, rules: list[dict]) -> list[tuple[str, list[str], bool]]:
    """Each rule in ufw's own words, by ufw's own parser."""
    if UFW_PYTHON not in sys.path:
        sys.path.append(UFW_PYTHON)
    try:
        import gettext

        gettext.install("ufw")
        import ufw.frontend
        import ufw.parser
    except ImportError as error:
        module.fail_json(msg=f"ufw's Python package is missing (is ufw installed?): {error}")
    wanted = []
    for rule in rules:
        args = rule_args(rule, with_comment=not rule["delete"])
        # ufw's parser reports some errors by printing them and exiting.
        # It writes bytes, so the stand-in stream has a binary buffer too.
        said = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
        try:
            with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
                parsed = ufw.frontend.parse_command(["ufw", *args]).data["rule"]
        except (Exception, SystemExit) as error:  # noqa: BLE001 - UFWError, ValueError, exit
            said.flush()
            printed = said.buffer.getvalue().decode("utf-8", "replace").strip()
            reason = printed or getattr(error, "value", None) or str(error)
            module.fail_json(msg=f"ufw does not accept the rule {' '.join(args)!r}: {reason}")
        wanted.append((ufw.parser.UFWCommandRule.get_command(parsed), args, rule["delete"]))
    return wanted


def read_file(module: AnsibleModule, path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except OSError as error:
        module.fail_json(msg=f"cannot read {path}: {error}")


def ufw(module: AnsibleModule, *args: str) -> str:
    rc, out, err = module.run_command(["ufw", *args], environ_update={"LC_ALL": "C"})
    if rc != 0:
        module.fail_json(msg=f"ufw {' '.join(args)} failed", rc=rc, stdout=out, stderr=err)
    return out


def current_settings(module: AnsibleModule) -> dict:
    defaults = read_assignments(read_file(module, DEFAULTS_FILE))
    conf = read_assignments(read_file(module, CONF_FILE))
    active = "Status: active" in ufw(module, "status")
    return {
        **{direction: POLICY_WORDS.get(defaults.get(key, ""), "") for direction, key in POLICY_KEYS.items()},
        "logging": conf.get("LOGLEVEL", "off"),
        # On only when it is both running and set to start at boot.
        "enabled": active and conf.get("ENABLED") == "yes",
    }


def main() -> None:
    rule_spec = {
        "rule": {"type": "str", "choices": ["allow", "deny", "reject", "limit"], "default": "allow"},
        "port": {"type": "str", "required": True},
        "proto": {"type": "str", "choices": ["tcp", "udp", "any"], "default": "tcp"},
        "from": {"type": "str", "default": "any"},
        "comment": {"type": "str"},
        "delete": {"type": "bool", "default": False},
    }
    policies = ["allow", "deny", "reject"]
    module = AnsibleModule(
        argument_spec={
            "rules": {"type": "list", "elements": "dict", "options": rule_spec, "default": []},
            "default_incoming": {"type": "str", "choices": policies, "default": "deny"},
            "default_outgoing": {"type": "str", "choices": policies, "default": "allow"},
            "logging": {"type": "str", "choices": ["off", "low", "medium", "high", "full"], "default": "low"},
            "enabled": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    if not module.get_bin_path("ufw"):
        module.fail_json(msg="ufw is not installed")
    wanted = canonical_rules(module, params["rules"])
    current = added_rules(ufw(module, "show", "added"))
    asked = {
        "incoming": params["default_incoming"],
        "outgoing": params["default_outgoing"],
        "logging": params["logging"],
        "enabled": params["enabled"],
    }
    commands = plan(wanted, current, current_settings(module), asked)
    result = {"changed": bool(commands), "commands": [shlex.join(["ufw", *command]) for command in commands]}
    if commands and not module.check_mode:
        for command in commands:
            ufw(module, *command)
        current = added_rules(ufw(module, "show", "added"))
        missed = [canonical for canonical, _args, _delete in unmet(wanted, current)]
        if missed:
            module.fail_json(msg=f"ufw's rules are still not as asked: {missed}", rules=current, **result)
    module.exit_json(rules=current, **result)


if __name__ == "__main__":
    main()
