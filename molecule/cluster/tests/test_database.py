"""The database server, as the app server, an outsider and an operator see it (roles/postgresql)."""

import json
import re

import pytest
from conftest import DATABASE, PASSWORD, TRUST_FILE, address_of, connect_from, psql

VERIFIED = f"host=kit-cluster-db dbname={DATABASE} user={DATABASE} sslmode=verify-full sslrootcert={TRUST_FILE}"


def test_the_releases_own_postgresql_runs_and_starts_at_boot(db):
    service = db.service("postgresql@17-main")
    assert service.is_running
    assert service.is_enabled
    assert psql(db, "SHOW server_version").startswith("17.")


def test_it_listens_for_the_app_servers(db):
    assert db.socket("tcp://0.0.0.0:5432").is_listening


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("ssl", "on"),
        ("ssl_min_protocol_version", "TLSv1.2"),
        ("password_encryption", "scram-sha-256"),
        # From postgresql_memory_mb: 1024 (plugins/filter/postgresql_config.py).
        ("shared_buffers", "256MB"),
        ("effective_cache_size", "768MB"),
        ("maintenance_work_mem", "64MB"),
        ("work_mem", "4MB"),
    ],
)
def test_the_kits_settings_are_live(db, setting, value):
    assert psql(db, f"SHOW {setting}") == value


def test_the_apps_role_has_a_scram_password_and_no_power(db):
    row = psql(
        db,
        f"SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, left(rolpassword, 14)"
        f" FROM pg_authid WHERE rolname = '{DATABASE}'",
    )
    assert row == "f|f|f|f|SCRAM-SHA-256$"


def test_only_the_owner_may_connect_to_its_database(db):
    assert (
        psql(db, f"SELECT pg_get_userbyid(datdba), encoding FROM pg_database WHERE datname = '{DATABASE}'")
        == f"{DATABASE}|6"
    )
    acl = psql(db, f"SELECT datacl FROM pg_database WHERE datname = '{DATABASE}'")
    # No entry for PUBLIC ("=...") grants CONNECT (c).
    assert not re.search(r"(^|[{,])=[A-Za-z]*c", acl), acl


def test_the_app_servers_are_the_only_network_clients(db, webs):
    rules = psql(
        db,
        "SELECT type, database[1], user_name[1], address, netmask, auth_method FROM pg_hba_file_rules"
        " WHERE type LIKE 'host%' AND address NOT IN ('127.0.0.1', '::1') ORDER BY line_number",
    )
    assert rules.splitlines() == [
        f"hostssl|{DATABASE}|{DATABASE}|{address_of(server.host)}|255.255.255.255|scram-sha-256" for server in webs
    ]


def test_the_app_server_connects_over_tls_verifying_the_server(web):
    result = connect_from(web.host, f"{VERIFIED} password={PASSWORD}")
    assert result.rc == 0, result.stderr
    assert ", True)" in result.stdout


def test_a_connection_without_tls_is_refused(web):
    result = connect_from(
        web.host, f"host=kit-cluster-db dbname={DATABASE} user={DATABASE} sslmode=disable password={PASSWORD}"
    )
    assert result.rc != 0
    assert "no pg_hba.conf entry" in result.stderr


def test_a_wrong_password_is_refused(web):
    result = connect_from(web.host, f"{VERIFIED} password=not-the-password-at-all")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def test_a_server_with_another_name_fails_verification(db, web):
    # The same server at its address, under a name its certificate does not have.
    other = VERIFIED.replace("host=kit-cluster-db", f"hostaddr={address_of(db)} host=elsewhere.example.test")
    result = connect_from(web.host, f"{other} password={PASSWORD}")
    assert result.rc != 0
    assert "does not match host name" in result.stderr


def test_the_firewall_opens_postgresql_to_the_app_servers_only(db, webs):
    rules = db.check_output("ufw show added")
    for server in webs:
        assert f"ufw allow from {address_of(server.host)} to any port 5432 proto tcp" in rules
    assert rules.count("5432") == len(webs)


@pytest.mark.parametrize("who", ["outsider", "lb"])
def test_neither_an_outsider_nor_the_load_balancer_can_reach_postgresql(request, who):
    # ufw drops the packets: the connection times out rather than being refused.
    result = request.getfixturevalue(who).run("timeout 5 bash -c '</dev/tcp/kit-cluster-db/5432'")
    assert result.rc != 0


def test_the_app_servers_reach_it_through_the_firewall(webs):
    for server in webs:
        assert server.host.run("timeout 5 bash -c '</dev/tcp/kit-cluster-db/5432'").rc == 0


def backups(db) -> list[dict]:
    info = db.check_output("runuser -u postgres -- pgbackrest --stanza=main --output=json info")
    return json.loads(info)[0]["backup"]


@pytest.mark.parametrize("kind", ["full", "incr"])
def test_the_backup_timers_are_on(db, kind):
    timer = db.service(f"pgbackrest-backup-{kind}.timer")
    assert timer.is_enabled
    assert timer.is_running


def test_the_first_run_took_a_full_backup(db):
    assert [backup["type"] for backup in backups(db)][:1] == ["full"]


def test_wal_reaches_the_repository(db):
    # pgBackRest's own check: a WAL segment is switched and must arrive in the repository.
    assert db.run("runuser -u postgres -- pgbackrest --stanza=main check").rc == 0
    assert psql(db, "SELECT failed_count FROM pg_stat_archiver") == "0"


def test_the_timers_service_takes_an_incremental_backup(db):
    before = len(backups(db))
    db.check_output("systemctl start pgbackrest-backup@incr.service")
    after = backups(db)
    assert len(after) == before + 1
    assert after[-1]["type"] == "incr"
