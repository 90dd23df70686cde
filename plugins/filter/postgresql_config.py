"""What the postgresql role writes, worked out from its inputs: Jinja filters and plain functions.

- `postgresql_input_problems`: the databases, clients and extra settings of the inventory,
  checked before anything changes (the role asserts none; the preflight reports them).
- `postgresql_memory`: memory settings derived from the host's RAM and connection limit.
- `postgresql_settings`: the kit's settings, the memory ones and the operator's extra ones,
  rendered as `name = value` lines of postgresql.conf.
- `postgresql_hba_rules`: one `hostssl` line per database and client network.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

# An unquoted SQL identifier the kit can write without quoting: lowercase, as PostgreSQL folds it.
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Roles and databases PostgreSQL or Debian already have.
RESERVED_NAMES = frozenset({"postgres", "template0", "template1", "public", "pg_signal_backend"})
MIN_PASSWORD_LENGTH = 16
# Settings the kit owns: where the server listens, its TLS and its authentication.
# Changing them through postgresql_settings_extra would silently undo what the role checks.
OWNED_SETTINGS = frozenset(
    {
        "listen_addresses",
        "port",
        "ssl",
        "ssl_cert_file",
        "ssl_key_file",
        "ssl_min_protocol_version",
        "password_encryption",
        "archive_mode",
        "archive_command",
        "hba_file",
        "ident_file",
        "data_directory",
        "config_file",
        "external_pid_file",
        "unix_socket_directories",
        "include",
        "include_dir",
        "include_if_exists",
    }
)
SETTING_NAME = re.compile(r"^[a-z_][a-z0-9_.]*$")
MB = 1
GB = 1024 * MB


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _network(client: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """A client address or network (10.0.0.5, 10.0.0.0/24, fd00::/64), or None if it is not one."""
    if not isinstance(client, str):
        return None
    try:
        return ipaddress.ip_network(client, strict=True)
    except ValueError:
        return None


def database_problems(databases: Any) -> list[str]:
    """The problems of postgresql_databases: a list of {name, owner, password}."""
    if not isinstance(databases, Sequence) or isinstance(databases, str):
        return [f"postgresql_databases: must be a list of {{name, owner, password}}, not {_json(databases)}"]
    problems: list[str] = []
    names: set[str] = set()
    for index, database in enumerate(databases):
        where = f"postgresql_databases[{index}]"
        if not isinstance(database, Mapping):
            problems.append(f"{where}: must be a mapping with name, owner and password")
            continue
        unknown = sorted(set(database) - {"name", "owner", "password"})
        if unknown:
            problems.append(f"{where}: unknown key(s) {', '.join(unknown)} (known: name, owner, password)")
        for key in ("name", "owner"):
            value = database.get(key)
            if not (isinstance(value, str) and IDENTIFIER.match(value)):
                problems.append(
                    f"{where}.{key}: {_json(value)} is not a name of lowercase letters, digits and _"
                    " (at most 63, not starting with a digit)"
                )
            elif value in RESERVED_NAMES or value.startswith("pg_"):
                problems.append(f"{where}.{key}: {_json(value)} is PostgreSQL's own; choose another")
        name = database.get("name")
        if isinstance(name, str):
            if name in names:
                problems.append(f"{where}.name: {_json(name)} is listed twice")
            names.add(name)
        password = database.get("password")
        # Never echo the password, even a bad one.
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            problems.append(
                f"{where}.password: must be a string of at least {MIN_PASSWORD_LENGTH} characters"
                " (keep it in the vault)"
            )
    owners: dict[str, str] = {}
    for database in databases:
        if isinstance(database, Mapping) and isinstance(database.get("owner"), str):
            owner, password = database["owner"], database.get("password")
            if owner in owners and owners[owner] != password:
                problems.append(
                    f"postgresql_databases: the owner {_json(owner)} is given two different passwords;"
                    " a role has one password"
                )
            owners.setdefault(owner, password)
    return problems


def client_problems(clients: Any, var: str) -> list[str]:
    """The problems of a list of client addresses or networks."""
    if not isinstance(clients, Sequence) or isinstance(clients, str):
        return [f"{var}: must be a list of addresses or networks, not {_json(clients)}"]
    return [
        f"{var}: {_json(client)} is not an address or network such as 10.0.0.5 or 10.0.0.0/24"
        " (with no host bits set after the /)"
        for client in clients
        if _network(client) is None
    ]


def settings_problems(extra: Any) -> list[str]:
    """The problems of postgresql_settings_extra: a mapping of setting names to values."""
    if not isinstance(extra, Mapping):
        return [f"postgresql_settings_extra: must be a mapping of settings, not {_json(extra)}"]
    problems = []
    for name, value in extra.items():
        if not (isinstance(name, str) and SETTING_NAME.match(name)):
            problems.append(f"postgresql_settings_extra: {_json(name)} is not a setting name")
        elif name in OWNED_SETTINGS:
            problems.append(
                f"postgresql_settings_extra: {name} is set by the role itself"
                " (listen addresses, TLS, authentication, paths); see the role's inputs"
            )
        if not isinstance(value, (str, int, float, bool)):
            problems.append(f"postgresql_settings_extra.{name}: must be a string, number or boolean")
    return problems


def input_problems(databases: Any, clients: Any, extra_clients: Any, extra_settings: Any) -> list[str]:
    """Every problem of the postgresql role's inputs, one sentence each."""
    return (
        database_problems(databases)
        + client_problems(clients, "postgresql_clients")
        + client_problems(extra_clients, "postgresql_extra_clients")
        + settings_problems(extra_settings)
    )


def host_problems(host: Mapping[str, Any], defaults: Mapping[str, Any]) -> list[str]:
    """input_problems of a host's variables laid over the role's defaults (the preflight's view)."""
    # Not copied: hostvars are templated as they are read, and only these four are needed.
    v = ChainMap(host, defaults)
    return input_problems(
        v["postgresql_databases"],
        v["postgresql_clients"],
        v["postgresql_extra_clients"],
        v["postgresql_settings_extra"],
    )


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def memory(total_mb: int, max_connections: int) -> dict[str, str | int]:
    """Memory settings for a server PostgreSQL has mostly to itself, as postgresql.conf values.

    The usual starting points (PostgreSQL's wiki "Tuning Your PostgreSQL Server", PGTune's
    web profile): shared_buffers a quarter of RAM, effective_cache_size three quarters,
    maintenance_work_mem a sixteenth (64 MB to 2 GB), work_mem what is left after
    shared_buffers over three sorts per connection (4 MB to 64 MB).
    """
    if not isinstance(total_mb, int) or isinstance(total_mb, bool) or total_mb < 256:
        raise AnsibleFilterError(f"the host's memory must be at least 256 MB, not {_json(total_mb)}")
    if not isinstance(max_connections, int) or isinstance(max_connections, bool) or max_connections < 1:
        raise AnsibleFilterError(f"max_connections must be a positive number, not {_json(max_connections)}")
    shared_buffers = total_mb // 4
    return {
        "max_connections": max_connections,
        "shared_buffers": f"{shared_buffers}MB",
        "effective_cache_size": f"{total_mb * 3 // 4}MB",
        "maintenance_work_mem": f"{_clamp(total_mb // 16, 64 * MB, 2 * GB)}MB",
        "work_mem": f"{_clamp((total_mb - shared_buffers) // (max_connections * 3), 4 * MB, 64 * MB)}MB",
    }


def conf_value(value: Any) -> str:
    """A value as postgresql.conf writes it: numbers bare, booleans on/off, the rest quoted."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, (int, float)):
        return str(value)
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def settings(owned: Mapping[str, Any], tuned: Mapping[str, Any], extra: Mapping[str, Any]) -> list[str]:
    """The `name = value` lines of the kit's postgresql.conf file, sorted by name.

    owned: what the role sets and nobody overrides; tuned: derived values (memory) the
    operator's extra settings may override; extra: postgresql_settings_extra.
    """
    problems = settings_problems(extra)
    if problems:
        raise AnsibleFilterError("; ".join(problems))
    merged = {**tuned, **extra, **owned}
    return [f"{name} = {conf_value(merged[name])}" for name in sorted(merged)]


def hba_rules(databases: Sequence[Mapping[str, Any]], clients: Iterable[str]) -> list[dict[str, str]]:
    """One rule per database and client: its owner, over TLS, with a SCRAM password.

    A bare address becomes a one-host network (10.0.0.5/32). Clients listed twice are kept once.
    """
    networks: list[str] = []
    for client in clients:
        network = _network(client)
        if network is None:
            raise AnsibleFilterError(client_problems([client], "postgresql_clients")[0])
        if str(network) not in networks:
            networks.append(str(network))
    return [
        {"type": "hostssl", "database": db["name"], "user": db["owner"], "address": network, "method": "scram-sha-256"}
        for db in databases
        for network in networks
    ]


def roles(databases: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Each owner once, with its password: the login roles to create."""
    seen: dict[str, dict[str, str]] = {}
    for db in databases:
        seen.setdefault(db["owner"], {"name": db["owner"], "password": db["password"]})
    return list(seen.values())


def backup_timer_units(types: Iterable[str]) -> list[dict[str, Any]]:
    """pgBackRest's backup timers, one per backup type, enabled and started: systemd_units' ``units``."""
    return [{"name": f"pgbackrest-backup-{kind}.timer", "enabled": True, "state": "started"} for kind in types]


class FilterModule:
    def filters(self):
        return {
            "postgresql_input_problems": input_problems,
            "postgresql_host_problems": host_problems,
            "postgresql_memory": memory,
            "postgresql_settings": settings,
            "postgresql_hba_rules": hba_rules,
            "postgresql_roles": roles,
            "postgresql_backup_timer_units": backup_timer_units,
        }
