"""Supervisor over its control socket (XML-RPC), for the kit's modules: one way to connect and one
reading of a program group's state, where each module had its own."""

import sys
import xmlrpc.client

# Debian's supervisor package keeps its Python package here, outside a virtualenv's path.
DEBIAN_PYTHON = "/usr/lib/python3/dist-packages"
# The states that say most about a group, worst first: a group in any of them is not simply running.
WORST_FIRST = ("FATAL", "STOPPED", "EXITED", "BACKOFF", "STARTING")


def connect(socket_path: str) -> xmlrpc.client.ServerProxy:
    """An XML-RPC proxy over Supervisor's unix socket, with Supervisor's own transport.

    Raises ImportError, saying so, when Supervisor's Python package is not there (Supervisor not installed).
    """
    if DEBIAN_PYTHON not in sys.path:
        sys.path.append(DEBIAN_PYTHON)
    try:
        from supervisor.xmlrpc import SupervisorTransport
    except ImportError as error:
        raise ImportError(f"Supervisor's Python package is missing (is supervisor installed?): {error}") from error

    transport = SupervisorTransport(None, None, f"unix://{socket_path}")
    return xmlrpc.client.ServerProxy("http://127.0.0.1", transport=transport)


def group_state(processes: list[dict], group: str) -> str:
    """The worst state among a group's processes (getAllProcessInfo's), as Supervisor names it:
    RUNNING only when all of them run; UNKNOWN when Supervisor has no such group."""
    states = [process["statename"] for process in processes if process["group"] == group]
    for state in WORST_FIRST:
        if state in states:
            return state
    return states[0] if states else "UNKNOWN"
