"""Who logs in over SSH: the connections over which somebody logs in, and the accounts sshd lets in.

The login role picks an account only over such a connection; the sshd role's guard
(roles/sshd/tasks/guard.yml) refuses a configuration that would let nobody in, or not
the account this run logs in as.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

# Connection plugins that log in to an account over SSH, by short name; smart picks ssh.
# Others (docker, local) log in to nobody, so there is no account to pick or to lock out.
SSH_CONNECTIONS = frozenset({"ssh", "paramiko", "paramiko_ssh", "smart"})

# Regular accounts: UID 1000 up to, not including, nobody (getent passwd: name -> [password, uid, gid, ...]).
FIRST_UID, NOBODY_UID = 1000, 65534


def logs_in_over_ssh(connection: str) -> bool:
    """Whether ansible_connection logs in over SSH, by short name or as ansible.builtin.* / ansible.legacy.*."""
    name = str(connection).removeprefix("ansible.builtin.").removeprefix("ansible.legacy.")
    return name in SSH_CONNECTIONS


def _uid(text: str) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return 0


def login_accounts(passwd: Mapping[str, Sequence[str]]) -> list[str]:
    """Accounts people log in to: root and the regular accounts."""
    return ["root"] + [name for name, account in passwd.items() if FIRST_UID <= _uid(account[1]) < NOBODY_UID]


def group_members(
    groups: Iterable[str], group_db: Mapping[str, Sequence[str]], passwd: Mapping[str, Sequence[str]]
) -> list[str]:
    """Members of the groups, listed in the group (getent group: name -> [password, gid, members]) or by primary
    group."""
    members: list[str] = []
    for group in groups:
        if group not in group_db:
            continue
        _, gid, listed = group_db[group][:3]
        members += [name for name in listed.split(",") if name]
        members += [name for name, account in passwd.items() if account[2] == gid]
    return list(dict.fromkeys(members))


def sshd_accounts(output: str) -> dict[str, object]:
    """The sshd guard's one read of the server (roles/sshd/tasks/guard.yml), as tables.

    Each line of ``output`` is ``passwd:<a getent passwd line>``, ``group:<a getent group line>``
    or ``key:<account>`` for an account whose ``~/.ssh/authorized_keys`` is not empty. The result
    has ``passwd`` and ``group`` as ansible.builtin.getent reports them (name -> the other
    fields) and ``keyed``, the accounts with a key, in their order.
    """
    tables: dict[str, dict[str, list[str]]] = {"passwd": {}, "group": {}}
    keyed: list[str] = []
    for line in output.splitlines():
        kind, _, rest = line.partition(":")
        if kind in tables:
            name, *fields = rest.split(":")
            # The first entry wins, as getent's own lookup of one name does.
            tables[kind].setdefault(name, fields)
        elif kind == "key" and rest:
            keyed.append(rest)
        elif line.strip():
            raise ValueError(f"sshd_accounts: a line neither passwd, group nor key: {line!r}")
    return {**tables, "keyed": list(dict.fromkeys(keyed))}


def sshd_allowed_accounts(
    passwd: Mapping[str, Sequence[str]],
    group_db: Mapping[str, Sequence[str]],
    allow_users: Sequence[str],
    allow_groups: Sequence[str],
    permit_root_login: str,
) -> list[str]:
    """The accounts an sshd configuration lets in: AllowUsers, AllowGroups and PermitRootLogin applied."""
    allowed = login_accounts(passwd)
    if allow_users:
        allowed = [name for name in allowed if name in allow_users]
    if allow_groups:
        members = group_members(allow_groups, group_db, passwd)
        allowed = [name for name in allowed if name in members]
    if permit_root_login == "no":
        allowed = [name for name in allowed if name != "root"]
    return list(dict.fromkeys(allowed))


class FilterModule:
    def filters(self):
        return {
            "logs_in_over_ssh": logs_in_over_ssh,
            "sshd_accounts": sshd_accounts,
            "sshd_allowed_accounts": sshd_allowed_accounts,
        }
