"""Who logs in over SSH (plugins/filter/ssh_login.py): the login role's and the sshd guard's rules.

The guard itself runs for real in molecule/ssh, against servers sshd could lock out.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

import ssh_login  # noqa: E402

# getent passwd / getent group, as ansible.builtin.getent reports them.
PASSWD = {
    "root": ["x", "0", "0", "root", "/root", "/bin/bash"],
    "www-data": ["x", "33", "33", "www-data", "/var/www", "/usr/sbin/nologin"],
    "alice": ["x", "1000", "1000", "", "/home/alice", "/bin/bash"],
    "bob": ["x", "1001", "1001", "", "/home/bob", "/bin/bash"],
    "carol": ["x", "1002", "1100", "", "/home/carol", "/bin/bash"],
    "nobody": ["x", "65534", "65534", "nobody", "/nonexistent", "/usr/sbin/nologin"],
}
GROUPS = {
    "root": ["x", "0", ""],
    "sshusers": ["x", "1100", "alice,,bob"],
    "admins": ["x", "1200", ""],
}


@pytest.mark.parametrize(
    "connection",
    ["ssh", "ansible.builtin.ssh", "paramiko", "paramiko_ssh", "ansible.builtin.paramiko_ssh", "smart"],
)
def test_ssh_connections_log_in(connection):
    assert ssh_login.logs_in_over_ssh(connection) is True


@pytest.mark.parametrize("connection", ["local", "ansible.builtin.local", "community.docker.docker", "docker"])
def test_other_connections_log_in_to_nobody(connection):
    assert ssh_login.logs_in_over_ssh(connection) is False


def test_login_accounts_are_root_and_regular_accounts():
    assert ssh_login.login_accounts(PASSWD) == ["root", "alice", "bob", "carol"]


def test_group_members_listed_or_by_primary_group():
    assert ssh_login.group_members(["sshusers", "missing"], GROUPS, PASSWD) == ["alice", "bob", "carol"]


def test_group_without_members_has_none():
    assert ssh_login.group_members(["admins"], GROUPS, PASSWD) == []


@pytest.mark.parametrize(
    ("allow_users", "allow_groups", "root_login", "allowed"),
    [
        pytest.param([], [], "no", ["alice", "bob", "carol"], id="no-restriction-root-off"),
        pytest.param([], [], "prohibit-password", ["root", "alice", "bob", "carol"], id="root-with-a-key"),
        pytest.param(["bob", "root", "dave"], [], "prohibit-password", ["root", "bob"], id="allow-users"),
        pytest.param(["bob", "root"], [], "no", ["bob"], id="allow-users-root-off"),
        pytest.param([], ["sshusers"], "no", ["alice", "bob", "carol"], id="allow-groups"),
        pytest.param(["carol", "dave"], ["sshusers"], "no", ["carol"], id="users-and-groups"),
        pytest.param([], ["admins"], "yes", [], id="empty-group"),
    ],
)
def test_sshd_allowed_accounts(allow_users, allow_groups, root_login, allowed):
    assert ssh_login.sshd_allowed_accounts(PASSWD, GROUPS, allow_users, allow_groups, root_login) == allowed


# What the guard's one read (roles/sshd/tasks/guard.yml) prints on a server with the accounts above.
READ = """\
passwd:root:x:0:0:root:/root:/bin/bash
passwd:www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
passwd:alice:x:1000:1000::/home/alice:/bin/bash
passwd:bob:x:1001:1001::/home/bob:/bin/bash
passwd:carol:x:1002:1100::/home/carol:/bin/bash
passwd:nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
group:root:x:0:
group:sshusers:x:1100:alice,,bob
group:admins:x:1200:
key:root
key:bob
"""


def test_the_guards_read_gives_getents_tables_and_the_keyed_accounts():
    assert ssh_login.sshd_accounts(READ) == {"passwd": PASSWD, "group": GROUPS, "keyed": ["root", "bob"]}


def test_the_first_entry_of_a_name_wins_as_in_getent():
    # /etc/passwd, then another NSS source with the same name: getent passwd NAME gives the first.
    read = "passwd:alice:x:1000:1000::/home/alice:/bin/bash\npasswd:alice:*:5000:5000::/srv/alice:/bin/sh\n"
    assert ssh_login.sshd_accounts(read)["passwd"]["alice"][1] == "1000"


def test_the_guards_read_refuses_what_it_does_not_know():
    with pytest.raises(ValueError, match="neither passwd, group nor key"):
        ssh_login.sshd_accounts("passwd:root:x:0:0:root:/root:/bin/bash\nsh: 1: getent: not found\n")
    assert ssh_login.sshd_accounts("") == {"passwd": {}, "group": {}, "keyed": []}
