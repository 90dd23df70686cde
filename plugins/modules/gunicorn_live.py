#!/usr/bin/python
"""What serves an app now: its live state file, its live color's state in Supervisor and the CPUs, in one call."""

import json
import os
import xmlrpc.client

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kit_supervisor import connect, group_state

DOCUMENTATION = r"""
module: gunicorn_live
short_description: Read what serves an app now, in one module call
description:
  - >-
    Reads the app's live state file (O(state_file), the JSON each blue/green switch
    writes: the live color, release and settings' fingerprint), asks Supervisor for the
    state of the live color's program (C(<app>-<color>)), and counts the CPUs this
    process may run on. A C(slurp), a C(supervisorctl status) and gathering the
    hardware facts cost three round trips to the server, about 2 s on a small one.
  - >-
    Before the first deploy there is no state file: RV(live) is empty and RV(state) too.
    A state file that is not a JSON object fails the task: a switch must not guess
    which color serves.
  - Changes nothing; runs in check mode as well.
options:
  state_file:
    description: The app's live state file.
    type: path
    required: true
  app:
    description: The app's name; its programs in Supervisor are C(<app>-blue) and C(<app>-green).
    type: str
    required: true
  supervisor_socket:
    description: Supervisor's control socket.
    type: path
    default: /run/supervisor.sock
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Read what serves now
  gunicorn_live:
    state_file: /var/lib/webapp/live.json
    app: webapp
  register: live
"""

RETURN = r"""
live:
  description: The live state file's content; empty before the first deploy.
  type: dict
  returned: always
state:
  description: >-
    The live color's program state as Supervisor names it (RUNNING when every process of
    it runs, FATAL, STOPPED...; UNKNOWN when Supervisor has no such program); empty when
    nothing is live yet or Supervisor did not answer (RV(supervisor_error) says why).
  type: str
  returned: always
supervisor_error:
  description: Why Supervisor could not be asked; empty when it answered.
  type: str
  returned: always
cpus:
  description: >-
    How many CPUs this process may run on (its affinity: a container's or a cgroup's
    cpuset counts, not the host's CPUs).
  type: int
  returned: always
"""


def read_live(path: str) -> dict:
    """The state file's object, {} when there is none; ValueError when it is not a JSON object."""
    try:
        with open(path, encoding="utf-8") as stream:
            live = json.load(stream)
    except FileNotFoundError:
        return {}
    if not isinstance(live, dict):
        raise ValueError(f"{path} holds {type(live).__name__}, not a JSON object")
    return live


def live_state(live: dict, app: str, socket: str) -> tuple[str, str]:
    """The live color's program state, and why it could not be read ("" when it could)."""
    color = live.get("color")
    if not color:
        return "", ""
    try:
        processes = connect(socket).supervisor.getAllProcessInfo()
    except ImportError as error:
        return "", str(error)
    except (OSError, xmlrpc.client.Error) as error:
        return "", f"cannot talk to Supervisor on {socket}: {error}"
    return group_state(processes, f"{app}-{color}"), ""


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "state_file": {"type": "path", "required": True},
            "app": {"type": "str", "required": True},
            "supervisor_socket": {"type": "path", "default": "/run/supervisor.sock"},
        },
        supports_check_mode=True,
    )
    try:
        live = read_live(module.params["state_file"])
    except ValueError as error:
        module.fail_json(msg=f"the live state is unreadable, so the color serving now is unknown: {error}")
    state, error = live_state(live, module.params["app"], module.params["supervisor_socket"])
    module.exit_json(changed=False, live=live, state=state, supervisor_error=error, cpus=len(os.sched_getaffinity(0)))


if __name__ == "__main__":
    main()
