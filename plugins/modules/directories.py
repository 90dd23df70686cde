#!/usr/bin/python
"""Directories with their owner, group and mode, all in one task."""

import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: directories
short_description: Make directories and set their owner, group and mode, in one task
description:
  - >-
    The same as M(ansible.builtin.file) with C(state=directory) in a loop, in one
    module call: a loop of six directories costs six round trips to the host, this
    one. Missing parents are made as M(ansible.builtin.file) makes them (the
    module's umask, owned by the user Ansible becomes).
  - Supports check mode and diff mode.
options:
  directories:
    description: The directories, in the order to make them.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path.
        type: path
      paths:
        description: Absolute paths that share the owner, group and mode given (instead of O(directories[].path)).
        type: list
        elements: path
      owner:
        description: Owner (name or id).
        type: str
        default: root
      group:
        description: Group (name or id).
        type: str
        default: root
      mode:
        description: Mode, in octal (C("0750")).
        type: raw
        default: "0755"
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Create the layout
  directories:
    directories:
      - {path: /srv/app}
      - paths: [/srv/app/shared, /srv/app/shared/data]
        owner: app
        group: app
        mode: "0750"
"""

RETURN = r"""
changed_paths:
  description: The directories made or changed (in check mode, that would be).
  type: list
  elements: str
  returned: always
"""


def settle(module: AnsibleModule, wanted: dict, diffs: list[dict]) -> bool:
    """Make one directory as wanted; True when anything changed (or would). Its diff joins diffs."""
    path = wanted["path"]
    if not os.path.isabs(path):
        module.fail_json(msg=f"{path}: not an absolute path")
    if os.path.lexists(path) and not os.path.isdir(path):
        module.fail_json(msg=f"{path}: exists and is not a directory")
    made = False
    if not os.path.isdir(path):
        made = True
        if module.check_mode:
            diffs.append({"before": {"path": path, "state": "absent"}, "after": {"path": path, "state": "directory"}})
            return True
        os.makedirs(path)
    attributes = {
        "path": path,
        "owner": wanted["owner"],
        "group": wanted["group"],
        "mode": wanted["mode"],
        "attributes": None,
        # SELinux's user, role, type and level: left as they are.
        "secontext": [None, None, None, None],
    }
    diff = {"before": {"path": path, "state": "directory" if not made else "absent"}, "after": {"path": path}}
    changed = module.set_fs_attributes_if_different(attributes, made, diff) or made
    if changed:
        diff["after"]["state"] = "directory"
        diffs.append(diff)
    return changed


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "directories": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "path"},
                    "paths": {"type": "list", "elements": "path"},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "mode": {"type": "raw", "default": "0755"},
                },
                "mutually_exclusive": [["path", "paths"]],
                "required_one_of": [["path", "paths"]],
            },
        },
        supports_check_mode=True,
    )
    wanted = [
        entry | {"path": path}
        for entry in module.params["directories"]
        for path in ([entry["path"]] if entry["path"] else entry["paths"])
    ]
    diffs: list[dict] = []
    changed_paths = [d["path"] for d in wanted if settle(module, d, diffs)]
    result = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
