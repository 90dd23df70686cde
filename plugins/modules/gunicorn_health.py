#!/usr/bin/python
"""Wait until a new Gunicorn answers its health check on its unix socket, or say why not, in one call."""

import http.client
import json
import socket as sockets
import time
import xmlrpc.client

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.kit_supervisor import connect, group_state

DOCUMENTATION = r"""
module: gunicorn_health
short_description: Wait for a release's health answer on its unix socket, and stop waiting when Supervisor gives up
description:
  - >-
    GETs O(path) over the unix socket O(socket) until the answer is a 2xx and, with
    O(release_key), JSON whose O(release_key) is O(release); every O(interval) seconds,
    O(timeout) seconds at most. One module call: a C(uri) task with C(until) costs a round
    trip to the server per try.
  - >-
    Between tries it asks Supervisor for the state of O(program). When Supervisor has
    given up on it (C(FATAL): it kept exiting before C(startsecs), C(startretries) times)
    or it was stopped, the wait ends at once: a release that fails at import is reported
    when Supervisor gives up, not after the whole timeout.
  - >-
    With O(load), it first does what C(supervisorctl update PROGRAM) then C(supervisorctl
    start PROGRAM) do, for that one group: reads Supervisor's configuration again, adds the
    group when it is new, stops and re-adds it when its settings changed, and starts it
    unless it runs. Two C(supervisorctl) calls cost two round trips more.
  - Changes nothing without O(load). In check mode it does not wait (the release was not started).
options:
  socket:
    description: The Gunicorn's unix socket.
    type: path
    required: true
  path:
    description: The health check's path (and query).
    type: str
    default: /health
  release_key:
    description: A key the JSON answer must have, with the value O(release); empty for any 2xx.
    type: str
    default: ""
  release:
    description: The release the answer must name under O(release_key).
    type: str
    default: ""
  program:
    description: The Supervisor program (group) whose state ends the wait when it fails.
    type: str
    required: true
  supervisor_socket:
    description: Supervisor's control socket.
    type: path
    default: /run/supervisor.sock
  timeout:
    description: Seconds to wait for a healthy answer.
    type: int
    default: 60
  interval:
    description: Seconds between tries.
    type: float
    default: 0.5
  load:
    description: Load O(program)'s (changed) configuration into Supervisor and start it first.
    type: bool
    default: false
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Wait until the new release answers on its own socket
  gunicorn_health:
    socket: /run/webapp/green.sock
    path: /health
    release_key: release
    release: 1a2b3c4d5e6f
    program: webapp-green
    timeout: 60
"""

RETURN = r"""
healthy:
  description: Whether the answer was healthy in time.
  type: bool
  returned: always
status:
  description: The last answer's HTTP status; 0 when nothing answered.
  type: int
  returned: always
content:
  description: The start of the last answer's body, or why nothing answered.
  type: str
  returned: always
state:
  description: The program's last state as Supervisor reported it (RUNNING, BACKOFF, FATAL...).
  type: str
  returned: always
tries:
  description: How many requests were sent.
  type: int
  returned: always
seconds:
  description: How long the wait took.
  type: float
  returned: always
loaded:
  description: What O(load) did to the group, in order (C(removed), C(added), C(started)); empty when nothing.
  type: list
  elements: str
  returned: always
"""

# Supervisor will not start the program again by itself: waiting longer cannot help.
# (EXITED is not: with autorestart, Supervisor starts it again.)
GAVE_UP = {"FATAL", "STOPPED"}
CONTENT_CHARS = 1000


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP over a unix socket, the Host header localhost."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        self.sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def get(socket_path: str, path: str, timeout: float = 5) -> tuple[int, str]:
    """One GET over the unix socket: the status and body, or (0, why nothing answered)."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException) as error:
        return 0, f"no answer: {error}"
    finally:
        connection.close()


def healthy(status: int, content: str, release_key: str, release: str) -> bool:
    """A 2xx, and with release_key, JSON naming the release under it."""
    if not 200 <= status < 300:
        return False
    if not release_key:
        return True
    try:
        answer = json.loads(content)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get(release_key) == release


def program_state(server, program: str) -> str:
    """The worst state among the group's processes, as Supervisor names it ("" when Supervisor does not answer)."""
    try:
        return group_state(server.supervisor.getAllProcessInfo(), program)
    except (OSError, xmlrpc.client.Error):
        return ""


# Supervisor's fault for a start of a process that runs (supervisor.xmlrpc.Faults.ALREADY_STARTED).
ALREADY_STARTED = 60
# A group with a process in one of these states is started; one starting or running is not.
NOT_STARTED = {"STOPPED", "EXITED", "FATAL"}


def load(server, program: str) -> list[str]:
    """supervisorctl update PROGRAM, then supervisorctl start PROGRAM: what was done, in order."""
    done = []
    added, changed, removed = server.supervisor.reloadConfig()[0]
    if program in changed or program in removed:
        server.supervisor.stopProcessGroup(program)
        server.supervisor.removeProcessGroup(program)
        done.append("removed")
    if program in changed or program in added:
        server.supervisor.addProcessGroup(program)
        done.append("added")
    states = [p["statename"] for p in server.supervisor.getAllProcessInfo() if p["group"] == program]
    if states and NOT_STARTED.intersection(states):
        try:
            server.supervisor.startProcessGroup(program, False)
            done.append("started")
        except xmlrpc.client.Fault as fault:
            # Supervisor started it between the two calls (autostart, on its next round).
            if fault.faultCode != ALREADY_STARTED:
                raise
    return done


def wait(params: dict, server) -> dict:
    """Try until healthy, the program given up on (or unknown to Supervisor), or the timeout; the last of
    each figure."""
    started = time.monotonic()
    tries, status, content, state = 0, 0, "", ""
    while True:
        tries += 1
        status, content = get(params["socket"], params["path"])
        if healthy(status, content, params["release_key"], params["release"]):
            state = program_state(server, params["program"])
            return result(True, status, content, state, tries, time.monotonic() - started)
        state = program_state(server, params["program"])
        if state in GAVE_UP or state == "UNKNOWN" or time.monotonic() - started >= params["timeout"]:
            return result(False, status, content, state, tries, time.monotonic() - started)
        time.sleep(params["interval"])


def result(ok: bool, status: int, content: str, state: str, tries: int, seconds: float) -> dict:
    return {
        "healthy": ok,
        "status": status,
        "content": content[:CONTENT_CHARS],
        "state": state,
        "tries": tries,
        "seconds": round(seconds, 2),
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "path", "required": True},
            "path": {"type": "str", "default": "/health"},
            "release_key": {"type": "str", "default": ""},
            "release": {"type": "str", "default": ""},
            "program": {"type": "str", "required": True},
            "supervisor_socket": {"type": "path", "default": "/run/supervisor.sock"},
            "timeout": {"type": "int", "default": 60},
            "interval": {"type": "float", "default": 0.5},
            "load": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if module.check_mode:
        module.exit_json(
            changed=module.params["load"], healthy=True, status=0, content="", state="", tries=0, seconds=0.0, loaded=[]
        )
    program = module.params["program"]
    try:
        server = connect(module.params["supervisor_socket"])
        loaded = load(server, program) if module.params["load"] else []
    except ImportError as error:
        module.fail_json(msg=str(error))
    except (OSError, xmlrpc.client.Error) as error:
        module.fail_json(msg=f"could not load and start {program} in Supervisor: {error}", loaded=[])
    outcome = wait(module.params, server) | {"loaded": loaded}
    if not outcome["healthy"]:
        why = "the program " + outcome["state"] if outcome["state"] in GAVE_UP else f"{module.params['timeout']} s"
        module.fail_json(msg=f"no healthy answer on {module.params['socket']} ({why})", changed=bool(loaded), **outcome)
    module.exit_json(changed=bool(loaded), **outcome)


if __name__ == "__main__":
    main()
