#!/usr/bin/python
"""Stop Supervisor program groups gracefully and remove them, as soon as they have stopped."""

import os
import time
import xmlrpc.client

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kit_supervisor import connect

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
  - >-
    Before that, when asked, it waits until no connection to a unix socket is left
    (O(drain_socket), at most O(drain_seconds)), and removes the groups' program files
    (O(program_files)), so that a blue/green switch's end is one module call.
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
  drain_socket:
    description: >-
      A unix socket the groups listen on: wait until no connection to it is left
      (the clients that sent their last request have gone) before stopping them.
      Connections are counted in C(/proc/net/unix), as C(ss -x state established) counts them.
    type: path
  drain_seconds:
    description: The longest wait for O(drain_socket); a WebSocket keeps its connection until the group stops.
    type: float
    default: 0
  program_files:
    description: Files to remove (the groups' program files) before the groups stop; missing ones count as no change.
    type: list
    elements: path
    default: []
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
removed_files:
  description: The program files removed (in check mode, that would be).
  type: list
  elements: str
  returned: always
drain:
  description: >-
    The seconds waited for O(drain_socket) and the connections left when the wait ended
    (0 unless O(drain_seconds) ran out); empty without a wait.
  type: dict
  returned: always
"""

STOPPED = {"STOPPED", "EXITED", "FATAL"}
POLL_SECONDS = 0.02


def running_in(processes: list[dict], group: str) -> list[str]:
    """The names of a group's processes that have not stopped yet."""
    return [p["name"] for p in processes if p["group"] == group and p["statename"] not in STOPPED]


# /proc/net/unix's state column: 03 is a connected socket (SS_CONNECTED). A server's
# accepted connections carry the path of the socket they were accepted on.
CONNECTED = "03"


def connections_to(socket: str, table: str = "/proc/net/unix") -> int:
    """The connections accepted on the unix socket at path socket that are still open."""
    with open(table, encoding="utf-8", errors="replace") as stream:
        next(stream)
        rows = [line.split(None, 7) for line in stream]
    return sum(1 for row in rows if len(row) == 8 and row[5] == CONNECTED and row[7].rstrip("\n") == socket)


def drain(socket: str, seconds: float) -> dict:
    """Wait until socket has no connection left, at most seconds; what was waited and what is left."""
    started = time.monotonic()
    left = connections_to(socket)
    while left and time.monotonic() - started < seconds:
        time.sleep(POLL_SECONDS)
        left = connections_to(socket)
    return {"seconds": round(time.monotonic() - started, 2), "connections_left": left}


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
            "drain_socket": {"type": "path"},
            "drain_seconds": {"type": "float", "default": 0},
            "program_files": {"type": "list", "elements": "path", "default": []},
        },
        supports_check_mode=True,
    )
    try:
        server = connect(module.params["socket"])
        groups = {p["group"] for p in server.supervisor.getAllProcessInfo()}
    except ImportError as error:
        module.fail_json(msg=str(error))
    except (OSError, xmlrpc.client.Error) as error:
        module.fail_json(msg=f"cannot talk to Supervisor on {module.params['socket']}: {error}")
    removed = [name for name in module.params["names"] if name in groups]
    files = [path for path in module.params["program_files"] if os.path.lexists(path)]
    seconds: dict = {}
    waited: dict = {}
    if not module.check_mode:
        if module.params["drain_socket"] and removed:
            waited = drain(module.params["drain_socket"], module.params["drain_seconds"])
        for path in files:
            os.unlink(path)
        for name in removed:
            try:
                seconds[name] = stop_and_remove(server, name, module.params["timeout"])
            except (TimeoutError, OSError, xmlrpc.client.Error) as error:
                module.fail_json(
                    msg=f"could not stop and remove {name}: {error}", removed=list(seconds), seconds=seconds
                )
    module.exit_json(
        changed=bool(removed or files), removed=removed, removed_files=files, seconds=seconds, drain=waited
    )


if __name__ == "__main__":
    main()
