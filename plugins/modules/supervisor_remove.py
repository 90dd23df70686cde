#!/usr/bin/python
"""Stop Supervisor program groups gracefully and remove them, as soon as they have stopped."""

import sys
import time
import xmlrpc.client

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: supervisor_remove
short_description: Stop Supervisor program groups gracefully and remove them
description:
  - >-
    Does what C(supervisorctl update NAME) does for a group whose program file is
    gone: stops the group's processes the way Supervisor stops them (the program's
    C(stopsignal), then C(SIGKILL) after C(stopwaitsecs)) and removes the group.
  - >-
    It asks Supervisor to stop without waiting, and watches the processes itself,
    every 20 ms. C(supervisorctl) asks Supervisor to wait, and Supervisor answers
    such a request on its next round, up to a second after the process exited: a
    Gunicorn that exits in 0.3 s took 1.2 to 1.7 s to stop in a deploy.
  - Groups Supervisor does not have are left alone, and count as no change.
options:
  names:
    description: The program groups to stop and remove.
    type: list
    elements: str
    required: true
  socket:
    description: Supervisor's control socket.
    type: path
    default: /run/supervisor.sock
  timeout:
    description: >-
      Seconds to wait for a group's processes to stop before failing; longer than
      the programs' C(stopwaitsecs), after which Supervisor kills them.
    type: int
    default: 120
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Stop the old color gracefully
  supervisor_remove:
    names: [webapp-blue]
"""

RETURN = r"""
removed:
  description: The groups stopped and removed (in check mode, that would be).
  type: list
  elements: str
  returned: always
seconds:
  description: How long each removed group took to stop, by name.
  type: dict
  returned: always
"""

DEBIAN_PYTHON = "/usr/lib/python3/dist-packages"
STOPPED = {"STOPPED", "EXITED", "FATAL"}
POLL_SECONDS = 0.02


def connect(socket: str):
    """An XML-RPC proxy over Supervisor's unix socket, with Supervisor's own transport."""
    if DEBIAN_PYTHON not in sys.path:
        sys.path.append(DEBIAN_PYTHON)
    from supervisor.xmlrpc import SupervisorTransport

    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=SupervisorTransport(None, None, f"unix://{socket}"))


def running_in(processes: list[dict], group: str) -> list[str]:
    """The names of a group's processes that have not stopped yet."""
    return [p["name"] for p in processes if p["group"] == group and p["statename"] not in STOPPED]


def stop_and_remove(server, group: str, timeout: float) -> float:
    """Stop one group without Supervisor's wait, watch it stop, remove it; the seconds it took."""
    started = time.monotonic()
    server.supervisor.stopProcessGroup(group, False)
    while running_in(server.supervisor.getAllProcessInfo(), group):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{group} did not stop in {timeout} s")
        time.sleep(POLL_SECONDS)
    server.supervisor.removeProcessGroup(group)
    return round(time.monotonic() - started, 2)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "names": {"type": "list", "elements": "str", "required": True},
            "socket": {"type": "path", "default": "/run/supervisor.sock"},
            "timeout": {"type": "int", "default": 120},
        },
        supports_check_mode=True,
    )
    try:
        server = connect(module.params["socket"])
        groups = {p["group"] for p in server.supervisor.getAllProcessInfo()}
    except ImportError as error:
        module.fail_json(msg=f"Supervisor's Python package is missing (is supervisor installed?): {error}")
    except (OSError, xmlrpc.client.Error) as error:
        module.fail_json(msg=f"cannot talk to Supervisor on {module.params['socket']}: {error}")
    removed = [name for name in module.params["names"] if name in groups]
    seconds = {}
    if not module.check_mode:
        for name in removed:
            try:
                seconds[name] = stop_and_remove(server, name, module.params["timeout"])
            except (TimeoutError, OSError, xmlrpc.client.Error) as error:
                module.fail_json(
                    msg=f"could not stop and remove {name}: {error}", removed=list(seconds), seconds=seconds
                )
    module.exit_json(changed=bool(removed), removed=removed, seconds=seconds)


if __name__ == "__main__":
    main()
