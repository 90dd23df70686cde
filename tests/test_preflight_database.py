"""playbooks/site.yml checks a database server's inputs with every other host's, before any change.

The hosts point at a closed port on loopback: had the preflight let a broken inventory
through, the next play would report them unreachable.
"""

import subprocess
from pathlib import Path

import pytest
import yaml
from test_preflight import VALID, run_site_on

PASSWORD = "a-password-from-the-vault"
GOOD_DB = {"postgresql_databases": [{"name": "webapp", "owner": "webapp", "password": PASSWORD}]}


def run_site(tmp_path: Path, db_vars: dict) -> subprocess.CompletedProcess[str]:
    unreachable = {"ansible_host": "127.0.0.1", "ansible_port": 9, "ansible_connection": "ssh"}
    inventory = tmp_path / "inventory"
    for group, variables in (("all", VALID), ("db", db_vars)):
        (inventory / "group_vars" / group).mkdir(parents=True)
        (inventory / "group_vars" / group / "vars.yml").write_text(yaml.safe_dump(variables))
    hosts = {
        "servers": {
            "children": {"web": {"hosts": {"app1": unreachable}}, "db": {"hosts": {"db1": unreachable}}},
        }
    }
    (inventory / "hosts.yml").write_text(yaml.safe_dump(hosts))
    return run_site_on(inventory)


def test_a_valid_database_server_passes(tmp_path):
    result = run_site(tmp_path, GOOD_DB)
    output = result.stdout + result.stderr
    assert "problem(s)" not in output, output
    assert "UNREACHABLE" in output


@pytest.mark.parametrize(
    ("db_vars", "expected"),
    [
        (
            {"postgresql_databases": [{"name": "web-app", "owner": "webapp", "password": PASSWORD}]},
            "db1: postgresql_databases[0].name",
        ),
        (
            {"postgresql_databases": [{"name": "webapp", "owner": "webapp", "password": "short"}]},
            "db1: postgresql_databases[0].password: must be a string of at least 16",
        ),
        ({**GOOD_DB, "postgresql_extra_clients": ["10.0.0.0/33"]}, 'db1: postgresql_extra_clients: "10.0.0.0/33"'),
        ({**GOOD_DB, "postgresql_settings_extra": {"port": 6432}}, "db1: postgresql_settings_extra: port is set by"),
        ({**GOOD_DB, "postgresql_max_connections": "many"}, "db1: role postgresql:"),
    ],
    ids=["database-name", "short-password", "client", "owned-setting", "spec-type"],
)
def test_a_broken_database_server_stops_every_host(tmp_path, db_vars, expected):
    result = run_site(tmp_path, db_vars)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nothing was changed on any host" in output
    assert expected in output, output
    assert 'short"' not in output and "UNREACHABLE" not in output
