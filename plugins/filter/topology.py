"""Who talks to whom in a multi-server inventory, from its groups: Jinja filters and plain functions.

The groups are the playbooks' (web: the app servers, db: PostgreSQL), never a role's; the
playbooks hand what these filters work out to the roles as plain inputs (addresses, rules).
A host's private address is its `kit_private_address`, else the address of its default
route as Ansible's facts give it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

POSTGRESQL_PORT = 5432


def private_address(host: str, hostvars: Mapping[str, Mapping[str, Any]]) -> str:
    """The address other servers of the inventory reach `host` at."""
    variables = hostvars[host]
    given = variables.get("kit_private_address")
    if given:
        return str(given)
    facts = variables.get("ansible_facts") or {}
    address = (facts.get("default_ipv4") or {}).get("address")
    if not address:
        raise AnsibleFilterError(
            f"the private address of {host} is unknown: its facts were not gathered in this run"
            " (it was left out with --limit?), so set kit_private_address for it in the inventory"
        )
    return str(address)


def private_addresses(hosts: Iterable[str], hostvars: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The private addresses of `hosts`, each once, in order."""
    addresses: list[str] = []
    for host in hosts:
        address = private_address(host, hostvars)
        if address not in addresses:
            addresses.append(address)
    return addresses


def database_clients(
    host: str, groups: Mapping[str, Sequence[str]], hostvars: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The app servers that reach the database server `host` over the network (itself excluded)."""
    return private_addresses([web for web in groups.get("web", []) if web != host], hostvars)


def tier_firewall_rules(
    host: str, groups: Mapping[str, Sequence[str]], hostvars: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, str]]:
    """The firewall rules `host`'s place in the inventory calls for: PostgreSQL from each app server."""
    rules: list[dict[str, str]] = []
    if host in groups.get("db", []):
        clients = [web for web in groups.get("web", []) if web != host]
        rules += [
            {
                "port": str(POSTGRESQL_PORT),
                "from": private_address(web, hostvars),
                "comment": f"PostgreSQL from {web}",
            }
            for web in clients
        ]
    return rules


class FilterModule:
    def filters(self):
        return {
            "kit_private_addresses": private_addresses,
            "kit_database_clients": database_clients,
            "kit_tier_firewall_rules": tier_firewall_rules,
        }
