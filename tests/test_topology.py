"""plugins/filter/topology.py: who may reach whom, from the inventory's groups.

molecule/cluster checks the rules on real servers: PostgreSQL answers the app servers
and refuses the load balancer.
"""

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

from topology import database_clients, private_addresses, tier_firewall_rules  # noqa: E402

HOSTVARS = {
    "web1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.11"}}},
    "web2": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.12"}}, "kit_private_address": "192.168.1.12"},
    "db1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.21"}}},
    "lb1": {"ansible_facts": {"default_ipv4": {"address": "10.0.0.1"}}},
    "unknown": {},
}
GROUPS = {"web": ["web1", "web2"], "db": ["db1"], "lb": ["lb1"]}


def test_the_inventorys_address_wins_over_the_facts():
    assert private_addresses(["web1", "web2"], HOSTVARS) == ["10.0.0.11", "192.168.1.12"]


def test_a_host_with_no_known_address_is_named():
    with pytest.raises(AnsibleFilterError, match="private address of unknown is unknown.*kit_private_address"):
        private_addresses(["web1", "unknown"], HOSTVARS)


def test_the_database_clients_are_the_app_servers():
    assert database_clients("db1", GROUPS, HOSTVARS) == ["10.0.0.11", "192.168.1.12"]


def test_a_database_on_an_app_server_does_not_list_itself():
    groups = {"web": ["web1", "web2"], "db": ["web1"]}
    assert database_clients("web1", groups, HOSTVARS) == ["192.168.1.12"]


def test_the_database_port_is_opened_to_each_app_server_only():
    rules = tier_firewall_rules("db1", GROUPS, HOSTVARS)
    assert [(r["port"], r["from"]) for r in rules] == [("5432", "10.0.0.11"), ("5432", "192.168.1.12")]


@pytest.mark.parametrize("host", ["web1", "lb1"])
def test_other_tiers_get_no_database_rule(host):
    assert tier_firewall_rules(host, GROUPS, HOSTVARS) == []


def test_a_single_server_opens_nothing():
    groups = {"web": ["web1"], "db": ["web1"]}
    assert tier_firewall_rules("web1", groups, HOSTVARS) == []
