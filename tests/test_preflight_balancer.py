"""playbooks/site.yml checks a load balancer and the app servers behind it, before any change.

The hosts point at a closed port on loopback: had the preflight let a broken inventory
through, the next play would report them unreachable.
"""

import subprocess
from pathlib import Path

import yaml
from test_preflight import VALID, run_site_on


def run_site(
    tmp_path: Path, web_vars: dict, lb_vars: dict | None = None, all_vars: dict = VALID
) -> subprocess.CompletedProcess[str]:
    unreachable = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"}
    inventory = tmp_path / "inventory"
    for group, variables in (("all", all_vars), ("web", web_vars), ("lb", lb_vars or {"firewall_web_enabled": True})):
        (inventory / "group_vars" / group).mkdir(parents=True)
        (inventory / "group_vars" / group / "vars.yml").write_text(yaml.safe_dump(variables))
    hosts = {
        "servers": {
            "children": {
                "lb": {"hosts": {"lb1": {**unreachable, "kit_private_address": "10.0.0.1"}}},
                "web": {
                    "hosts": {
                        "app1": {**unreachable, "kit_private_address": "10.0.0.11"},
                        "app2": {**unreachable, "kit_private_address": "10.0.0.12"},
                    }
                },
            },
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return run_site_on(inventory)


def test_a_load_balancer_and_two_app_servers_pass(tmp_path):
    result = run_site(tmp_path, {})
    output = result.stdout + result.stderr
    assert "problem(s)" not in output, output
    assert "UNREACHABLE" in output


def test_public_web_ports_on_an_app_server_behind_the_load_balancer_stop_every_host(tmp_path):
    result = run_site(tmp_path, {"firewall_web_enabled": True})
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "UNREACHABLE" not in output
    for host in ("app1", "app2"):
        assert f"firewall_web_enabled is true on {host}, an app server behind the load balancers" in output, output
    assert "on lb1" not in output


def test_a_load_balancer_without_the_apps_inputs_is_named(tmp_path):
    # The apps' inputs belong to every host that serves them (group_vars/all): here only web has the domains.
    without_domains = {key: value for key, value in VALID.items() if key != "nginx_domains"}
    result = run_site(tmp_path, {"nginx_domains": VALID["nginx_domains"]}, all_vars=without_domains)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "UNREACHABLE" not in output
    assert "lb1: app webapp: nginx_domains" in output, output
