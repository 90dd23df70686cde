"""Who talks to whom in a multi-server inventory, from its groups: Jinja filters and plain functions.

The groups are the playbooks' (lb: the load balancers, web: the app servers, db:
PostgreSQL), never a role's; the playbooks hand what these filters work out to the roles
as plain inputs (addresses, rules). A host's private address is its `kit_private_address`,
else the address of its default route as Ansible's facts give it.

Without load balancers (an empty or missing `lb` group) every app server is its own HTTPS
front, as on a single server. With them, the load balancers are the fronts: each sends an
app's requests to every app server, whose nginx listens for them on its private address
(the backend port, a host's `kit_backend_port`, else 8080) and answers the load balancers
only. A host in both groups serves its own apps to itself through their sockets.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError

POSTGRESQL_PORT = 5432
BACKEND_PORT = 8080


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
    """The firewall rules `host`'s place in the inventory calls for.

    On an app server behind load balancers, its backend port from each of them; on a
    database server, PostgreSQL's port from each app server.
    """
    rules: list[dict[str, str]] = [
        {
            "port": str(backend_port(host, hostvars)),
            "from": private_address(lb, hostvars),
            "comment": f"the apps from {lb}",
        }
        for lb in backend_balancers(host, groups)
    ]
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


def load_balancers(groups: Mapping[str, Sequence[str]]) -> list[str]:
    """The hosts of the lb group, if any."""
    return list(groups.get("lb") or [])


def is_front(host: str, groups: Mapping[str, Sequence[str]]) -> bool:
    """Whether `host` serves the apps over HTTPS: a load balancer, else an app server when there is none."""
    return host in (load_balancers(groups) or groups.get("web", []))


def backend_port(host: str, hostvars: Mapping[str, Mapping[str, Any]]) -> int:
    """The port `host`'s nginx listens on for the load balancers."""
    return int(hostvars[host].get("kit_backend_port") or BACKEND_PORT)


def backend_balancers(host: str, groups: Mapping[str, Sequence[str]]) -> list[str]:
    """The load balancers that reach the app server `host` over the network (itself excluded)."""
    if host not in groups.get("web", []):
        return []
    return [lb for lb in load_balancers(groups) if lb != host]


def backend_address(host: str, hostvars: Mapping[str, Mapping[str, Any]]) -> str:
    """The app server `host`'s backend as nginx writes it: address:port, an IPv6 address in brackets."""
    address = private_address(host, hostvars)
    if ":" in address:
        address = f"[{address}]"
    return f"{address}:{backend_port(host, hostvars)}"


def backend_listen(host: str, groups: Mapping[str, Sequence[str]], hostvars: Mapping[str, Mapping[str, Any]]) -> str:
    """Where `host`'s nginx listens for the load balancers (address:port), or "" when none reaches it."""
    return backend_address(host, hostvars) if backend_balancers(host, groups) else ""


def backend_trusted(
    host: str, groups: Mapping[str, Sequence[str]], hostvars: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The addresses `host`'s backend answers, and whose X-Forwarded-For it believes: its load balancers'."""
    return private_addresses(backend_balancers(host, groups), hostvars)


def upstream_servers(
    host: str, groups: Mapping[str, Sequence[str]], hostvars: Mapping[str, Mapping[str, Any]]
) -> list[str]:
    """The other app servers a front sends the apps' requests to (address:port); [] on an app server's own front.

    A front that is an app server too reaches its own apps through their sockets (the nginx
    role's nginx_upstream_local), not through this list.
    """
    if host not in load_balancers(groups):
        return []
    return [backend_address(web, hostvars) for web in groups.get("web", []) if web != host]


class FilterModule:
    def filters(self):
        return {
            "kit_private_addresses": private_addresses,
            "kit_database_clients": database_clients,
            "kit_tier_firewall_rules": tier_firewall_rules,
            "kit_front": is_front,
            "kit_backend_listen": backend_listen,
            "kit_backend_trusted": backend_trusted,
            "kit_upstream_servers": upstream_servers,
        }
