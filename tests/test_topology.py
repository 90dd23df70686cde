"""plugins/filter/topology.py: who may reach whom, from the inventory's groups.

molecule/cluster checks the rules on real servers: PostgreSQL answers the app servers
and refuses the load balancer.
"""

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

from topology import (  # noqa: E402
    backend_listen,
    backend_trusted,
    database_clients,
    is_front,
    private_addresses,
    tier_firewall_rules,
    upstream_servers,
)

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


def test_the_load_balancer_gets_no_tier_rule():
    assert tier_firewall_rules("lb1", GROUPS, HOSTVARS) == []


def test_an_app_server_opens_its_backend_port_to_each_load_balancer_only():
    groups = {**GROUPS, "lb": ["lb1", "lb2"]}
    hostvars = {
        **HOSTVARS,
        "lb2": {"kit_private_address": "10.0.0.2"},
        "web1": {**HOSTVARS["web1"], "kit_backend_port": 9000},
    }
    rules = tier_firewall_rules("web1", groups, hostvars)
    assert [(r["port"], r["from"]) for r in rules] == [("9000", "10.0.0.1"), ("9000", "10.0.0.2")]


def test_without_load_balancers_each_app_server_is_its_own_front():
    groups = {"web": ["web1", "web2"], "db": ["db1"]}
    assert is_front("web1", groups) and is_front("web2", groups) and not is_front("db1", groups)
    assert upstream_servers("web1", groups, HOSTVARS) == []
    assert backend_listen("web1", groups, HOSTVARS) == ""
    assert tier_firewall_rules("web1", groups, HOSTVARS) == []


def test_an_empty_lb_group_is_no_load_balancer():
    groups = {"web": ["web1"], "lb": []}
    assert is_front("web1", groups)
    assert backend_listen("web1", groups, HOSTVARS) == ""


def test_with_a_load_balancer_it_alone_is_the_front():
    assert is_front("lb1", GROUPS)
    assert not is_front("web1", GROUPS)


def test_the_load_balancer_sends_to_each_app_servers_backend():
    assert upstream_servers("lb1", GROUPS, HOSTVARS) == ["10.0.0.11:8080", "192.168.1.12:8080"]
    assert upstream_servers("web1", GROUPS, HOSTVARS) == []


def test_a_load_balancer_that_is_an_app_server_too_lists_only_the_others():
    groups = {"lb": ["web1"], "web": ["web1", "web2"]}
    assert upstream_servers("web1", groups, HOSTVARS) == ["192.168.1.12:8080"]
    # It reaches its own apps through their sockets: no backend of its own.
    assert backend_listen("web1", groups, HOSTVARS) == ""
    assert backend_listen("web2", groups, HOSTVARS) == "192.168.1.12:8080"


def test_one_server_in_every_group_is_todays_single_server():
    groups = {"lb": ["web1"], "web": ["web1"], "db": ["web1"]}
    assert is_front("web1", groups)
    assert upstream_servers("web1", groups, HOSTVARS) == []
    assert backend_listen("web1", groups, HOSTVARS) == ""
    assert tier_firewall_rules("web1", groups, HOSTVARS) == []


def test_the_backend_answers_and_believes_the_load_balancers_only():
    assert backend_listen("web2", GROUPS, HOSTVARS) == "192.168.1.12:8080"
    assert backend_trusted("web2", GROUPS, HOSTVARS) == ["10.0.0.1"]
    assert backend_trusted("db1", GROUPS, HOSTVARS) == []


def test_ipv6_private_addresses_are_bracketed():
    hostvars = {**HOSTVARS, "web1": {"kit_private_address": "fd00::11"}}
    assert upstream_servers("lb1", GROUPS, hostvars)[0] == "[fd00::11]:8080"
    assert backend_listen("web1", GROUPS, hostvars) == "[fd00::11]:8080"


def test_a_single_server_opens_nothing():
    groups = {"web": ["web1"], "db": ["web1"]}
    assert tier_firewall_rules("web1", groups, HOSTVARS) == []
