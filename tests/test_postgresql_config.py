"""plugins/filter/postgresql_config.py: the postgresql role's input rules and what it writes.

molecule/cluster runs the role on a real server and connects to it from the app servers.
"""

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

from postgresql_config import (  # noqa: E402
    backup_timer_units,
    conf_value,
    hba_rules,
    host_problems,
    input_problems,
    memory,
    roles,
    settings,
)

PASSWORD = "a-vault-password-of-some-length"
GOOD = [{"name": "webapp", "owner": "webapp", "password": PASSWORD}]


def test_good_inputs_have_no_problem():
    assert input_problems(GOOD, ["10.0.0.5", "10.1.0.0/16", "fd00::/64"], [], {"log_min_duration_statement": 500}) == []


@pytest.mark.parametrize(
    ("databases", "expected"),
    [
        pytest.param("webapp", "must be a list", id="not-a-list"),
        pytest.param(["webapp"], "must be a mapping", id="item-not-a-mapping"),
        pytest.param([{"name": "Web-App", "owner": "webapp", "password": PASSWORD}], "[0].name", id="bad-name"),
        pytest.param([{"name": "webapp", "owner": "1st", "password": PASSWORD}], "[0].owner", id="bad-owner"),
        pytest.param(
            [{"name": "postgres", "owner": "webapp", "password": PASSWORD}], "PostgreSQL's own", id="reserved"
        ),
        pytest.param(
            [{"name": "webapp", "owner": "pg_monitor", "password": PASSWORD}], "PostgreSQL's own", id="pg-role"
        ),
        pytest.param([{"name": "webapp", "owner": "webapp", "password": "short"}], "at least 16", id="short-password"),
        pytest.param([{"name": "webapp", "owner": "webapp"}], "password: must be", id="no-password"),
        pytest.param(
            [{"name": "webapp", "owner": "webapp", "password": PASSWORD, "encoding": "x"}], "unknown key", id="typo"
        ),
        pytest.param(GOOD + GOOD, "listed twice", id="twice"),
        pytest.param(
            [*GOOD, {"name": "other", "owner": "webapp", "password": PASSWORD + "2"}],
            "two different passwords",
            id="owner-two-passwords",
        ),
    ],
)
def test_bad_databases_are_refused(databases, expected):
    problems = input_problems(databases, [], [], {})
    assert any(expected in problem for problem in problems), problems


def test_a_bad_password_is_never_echoed():
    secret = "tiny-secret"
    problems = input_problems([{"name": "webapp", "owner": "webapp", "password": secret}], [], [], {})
    assert problems
    assert not any(secret in problem for problem in problems)


@pytest.mark.parametrize(
    "client",
    ["10.0.0.300", "10.0.0.1/24", "db.example.test", "", 42, "any"],
    ids=["octet", "host-bits", "a-name", "empty", "a-number", "any"],
)
def test_bad_clients_are_refused(client):
    assert input_problems(GOOD, [client], [], {}) != []
    assert input_problems(GOOD, [], [client], {}) != []


@pytest.mark.parametrize("name", ["listen_addresses", "port", "ssl", "hba_file", "password_encryption"])
def test_settings_the_role_owns_are_refused_as_extras(name):
    assert any("set by the role itself" in p for p in input_problems(GOOD, [], [], {name: "x"}))


@pytest.mark.parametrize(
    ("extra", "expected"),
    [({"Work Mem": "1"}, "not a setting name"), ({"work_mem": ["1"]}, "string, number or boolean"), ([], "mapping")],
    ids=["bad-name", "list-value", "not-a-mapping"],
)
def test_bad_extra_settings_are_refused(extra, expected):
    assert any(expected in p for p in input_problems(GOOD, [], [], extra))


@pytest.mark.parametrize(
    ("total_mb", "max_connections", "expected"),
    [
        # A 1 GB server: maintenance_work_mem at its floor.
        (
            1024,
            100,
            {
                "shared_buffers": "256MB",
                "effective_cache_size": "768MB",
                "maintenance_work_mem": "64MB",
                "work_mem": "4MB",
            },
        ),
        # 8 GB: (8192 - 2048) / 300 = 20 MB per sort.
        (
            8192,
            100,
            {
                "shared_buffers": "2048MB",
                "effective_cache_size": "6144MB",
                "maintenance_work_mem": "512MB",
                "work_mem": "20MB",
            },
        ),
        # 64 GB with few connections: the ceilings.
        (65536, 20, {"shared_buffers": "16384MB", "maintenance_work_mem": "2048MB", "work_mem": "64MB"}),
    ],
    ids=["1GB", "8GB", "64GB"],
)
def test_memory_follows_the_host(total_mb, max_connections, expected):
    derived = memory(total_mb, max_connections)
    assert derived["max_connections"] == max_connections
    assert {key: derived[key] for key in expected} == expected


@pytest.mark.parametrize(("total_mb", "max_connections"), [(128, 100), ("1024", 100), (1024, 0), (1024, True)])
def test_memory_refuses_nonsense(total_mb, max_connections):
    with pytest.raises(AnsibleFilterError):
        memory(total_mb, max_connections)


@pytest.mark.parametrize(
    ("value", "written"),
    [
        (True, "on"),
        (False, "off"),
        (500, "500"),
        (0.5, "0.5"),
        ("256MB", "'256MB'"),
        ("it's", "'it''s'"),
        ("a\\b", "'a\\\\b'"),
    ],
)
def test_values_are_written_as_postgresql_reads_them(value, written):
    assert conf_value(value) == written


def test_extra_settings_override_the_derived_ones_but_never_the_owned_ones():
    lines = settings({"ssl": True}, {"work_mem": "4MB", "shared_buffers": "256MB"}, {"work_mem": "16MB"})
    assert lines == ["shared_buffers = '256MB'", "ssl = on", "work_mem = '16MB'"]
    with pytest.raises(AnsibleFilterError, match="set by the role itself"):
        settings({"ssl": True}, {}, {"ssl": False})


def test_one_rule_per_database_and_client_network():
    databases = [*GOOD, {"name": "reports", "owner": "reporter", "password": PASSWORD}]
    rules = hba_rules(databases, ["10.0.0.5", "10.0.0.5/32", "fd00::/64"])
    assert [(r["database"], r["user"], r["address"]) for r in rules] == [
        ("webapp", "webapp", "10.0.0.5/32"),
        ("webapp", "webapp", "fd00::/64"),
        ("reports", "reporter", "10.0.0.5/32"),
        ("reports", "reporter", "fd00::/64"),
    ]
    assert {(r["type"], r["method"]) for r in rules} == {("hostssl", "scram-sha-256")}


def test_no_client_means_no_network_rule():
    assert hba_rules(GOOD, []) == []


def test_a_bad_client_is_refused_when_rendering():
    with pytest.raises(AnsibleFilterError, match="not an address or network"):
        hba_rules(GOOD, ["10.0.0.0/8", "everyone"])


def test_each_owner_is_one_role():
    databases = [*GOOD, {"name": "webapp_jobs", "owner": "webapp", "password": PASSWORD}]
    assert roles(databases) == [{"name": "webapp", "password": PASSWORD}]


def test_a_hosts_variables_are_read_over_the_roles_defaults():
    defaults = {
        "postgresql_databases": [],
        "postgresql_clients": [],
        "postgresql_extra_clients": [],
        "postgresql_settings_extra": {},
    }
    assert host_problems({"other": 1}, defaults) == []
    assert host_problems({"postgresql_databases": GOOD, "postgresql_extra_clients": ["x"]}, defaults) != []


def test_each_backup_type_has_its_timer_enabled_and_started():
    assert backup_timer_units(["full", "incr"]) == [
        {"name": "pgbackrest-backup-full.timer", "enabled": True, "state": "started"},
        {"name": "pgbackrest-backup-incr.timer", "enabled": True, "state": "started"},
    ]
