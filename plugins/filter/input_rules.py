"""The kit's rules for its inputs, as Jinja filters and as plain functions for pytest.

The preflight role checks every host's inventory with them before any host changes
(roles/preflight/tasks/); the nginx and certbot roles check their domains and
addresses with the same rules, so each form and each rule has one home: here.

Every rule returns a list of problems, one sentence each, empty when the input is good.
The rules across variables take `v`, the variables the host's roles will see: the
host's own (inventory, extra vars) over the defaults of those roles. The rules for a
server with several apps take its `apps` list as written, and then each app's values
as the roles will see them.
"""

from __future__ import annotations

import difflib
import json
import posixpath
import re
from collections import ChainMap
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple


class Form(NamedTuple):
    """A regular expression a value must match in full, and what a good value looks like."""

    pattern: str
    hint: str

    def problems(self, var: str, value: Any) -> list[str]:
        """The problem with a value, or with the items of a list that do not match."""
        items = value if _is_list(value) else [value]
        full = re.compile(f"^(?:{self.pattern})$")
        bad = [text for text in map(str, items) if not full.search(text)]
        return [f"{var}: {', '.join(map(_json, bad))} is not {self.hint}"] if bad else []


# A DNS name: two or more labels of letters, digits and inner hyphens; the last starts with a letter.
DOMAIN = Form(
    r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?",
    "a domain name such as app.example.com (lowercase)",
)
EMAIL = Form(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,}",
    "an e-mail address such as ops@example.com",
)
# 1 to 65535.
PORT = r"[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]"
# Debian's useradd accepts more, but admin and service account names stay this simple.
USER = r"[a-z_][a-z0-9_-]{0,31}"
# An OpenSSH public key line: type, base64 body, optional comment.
SSH_KEY = re.compile(
    r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)"
    r" AAAA[A-Za-z0-9+/]+={0,3}( .*)?$"
)
# A process of the app: like a user name, but the colors name the releases' own programs.
PROCESS = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")
RESERVED_PROCESSES = ("blue", "green")
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Names an app, its user or its group cannot take: the roles make /etc/<app>, /run/<app>,
# /var/log/<app>, /srv/<app> and a system account of that name, which would be the
# kit's own services' (nginx, supervisor, ...), the server's tools', or Debian's
# system accounts. A name here would change or remove what they hold.
RESERVED_APP_NAMES = frozenset(
    {
        # What the kit itself runs and writes under /etc, /run and /var/log.
        *("nginx", "supervisor", "letsencrypt", "certbot", "fail2ban", "ufw", "ssh", "sshd", "pyenv"),
        *("fastapi-kit", "systemd", "apt", "dpkg", "default", "ssl", "security", "sudo", "cron", "logrotate"),
        # What a grown deployment adds (PostgreSQL, backups, a load balancer).
        *("postgresql", "postgres", "pgbackrest", "haproxy", "redis"),
        # Debian's system accounts and groups of a base install.
        *("root", "daemon", "bin", "sys", "sync", "games", "man", "lp", "mail", "news", "uucp", "proxy"),
        *("www-data", "backup", "list", "irc", "nobody", "nogroup", "adm", "staff", "users", "_apt"),
        *("messagebus", "systemd-network", "systemd-resolve", "systemd-timesync", "polkitd"),
    }
)

_PORT_NUMBER = Form(PORT, "a port number from 1 to 65535")
_CPYTHON = Form(r"[0-9]+\.[0-9]+\.[0-9]+", "a CPython version such as 3.13.5")

# The form of values where a type in an argument spec is not enough. Variables not set
# are not checked here: the argument specs say what is required.
FORMS: dict[str, Form] = {
    "common_timezone": Form(
        r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*", "an IANA time zone name such as Etc/UTC or Europe/Berlin"
    ),
    "common_journald_max_use": Form(r"[0-9]+[KMGT]?", "a size such as 500M or 2G"),
    "common_journald_max_file_size": Form(r"[0-9]+[KMGT]?", "a size such as 50M"),
    # playbooks/vars/apt.yml: how long apt waits for another apt run's locks.
    "apt_lock_timeout": Form(r"[0-9]+", "a number of seconds"),
    # --- baseline: ports, times, names (roles sshd, firewall, fail2ban, login, users, common) ---
    "sshd_port": _PORT_NUMBER,
    "firewall_ssh_port": _PORT_NUMBER,
    "fail2ban_sshd_port": _PORT_NUMBER,
    "sshd_login_grace_time": Form(r"[0-9]+[smhdw]?", "a time such as 30s or 2m"),
    "sshd_allow_users": Form(USER, "a user name (lowercase letters, digits, _ and -)"),
    "sshd_allow_groups": Form(USER, "a group name (lowercase letters, digits, _ and -)"),
    "login_bootstrap_user": Form(USER, "a user name such as root or debian"),
    "fail2ban_bantime": Form(r"-1|[0-9]+[smhdw]?", "a time such as 1h or 1d (or -1 for ever)"),
    "fail2ban_findtime": Form(r"[0-9]+[smhdw]?", "a time such as 10m"),
    "fail2ban_ignoreip": Form(r"[0-9A-Fa-f:.]+(/[0-9]{1,3})?", "an IP address or network such as 192.0.2.0/24"),
    "common_unattended_upgrades_reboot_time": Form(r"([01][0-9]|2[0-3]):[0-5][0-9]", "a time of day such as 04:00"),
    # --- the app tier (roles pyenv, app, gunicorn) ---
    "pyenv_python_versions": _CPYTHON,
    "app_python_version": _CPYTHON,
    "app_name": Form(USER, "a name usable as a system user (lowercase letters, digits, _ and -)"),
    "app_repo_url": Form(
        r"(https?|ssh|git|file)://\S+|[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:\S+",
        "a git URL (https://, ssh://, git@host:path or file://)",
    ),
    "gunicorn_worker_class": Form(
        r"[A-Za-z_][A-Za-z0-9_]*([.][A-Za-z_][A-Za-z0-9_]*)+",
        "an importable worker class as module.Class, such as uvicorn_worker.UvicornWorker",
    ),
    "gunicorn_health_path": Form(r"/[^\s]*", "a URL path starting with /, such as /health"),
    "gunicorn_module": Form(
        r"[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_.]*",
        "an ASGI application as module:attribute, such as webapp.main:app",
    ),
    # --- the HTTPS front (roles nginx, certbot) ---
    "nginx_domains": DOMAIN,
    "nginx_internal_locations": Form(
        r"/[A-Za-z0-9._~!$&()*+,=:@%/-]*",
        "a URL path starting with / (letters, digits and ._~!$&()*+,=:@%/- only)",
    ),
    "nginx_internal_allow": Form(
        r"[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?|[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?",
        "an IPv4 or IPv6 address or CIDR network such as 192.0.2.10 or 2001:db8::/32",
    ),
    "certbot_email": EMAIL,
    "certbot_acme_directory_url": Form(r"https://\S+", "an https:// ACME directory URL"),
}


def _json(value: Any) -> str:
    """Ansible's to_json, for values from Ansible's lazily templated lists and dicts too."""
    return json.dumps(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _is_list(value: Any) -> bool:
    """A list of values to check one by one, not a single string or mapping."""
    return isinstance(value, Sequence) and not isinstance(value, str)


def _unique(items: Iterable[Any]) -> list[Any]:
    seen: list[Any] = []
    for item in items:
        if item not in seen:
            seen.append(item)
    return seen


def _to_bool(value: Any) -> bool:
    """Ansible's bool filter: yes/on/true/1 (any case), True and 1 are true, the rest false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int):
        return str(value).lower() in ("yes", "on", "true", "1")
    return value == 1


# --- one variable --------------------------------------------------------------------


def form_problems(value: Any, var: str) -> list[str]:
    """The problem with the form of one variable's value (FORMS), if it is set."""
    return [] if value is None else FORMS[var].problems(var, value)


def forms_problems(host: Mapping[str, Any]) -> list[str]:
    """The problems with the form of every variable in FORMS the host sets."""
    return [problem for var in FORMS for problem in form_problems(host.get(var), var)]


def domains_empty(domains: Any, var: str) -> list[str]:
    return [] if len(domains) > 0 else [f"{var} is empty: list the domain names the site answers to"]


def domains_twice(domains: Any, var: str) -> list[str]:
    return [f"{var} lists a name twice: {_json(domains)}"] if len(_unique(domains)) != len(domains) else []


def domain_list_problems(domains: Any, var: str) -> list[str]:
    """A site's domains: at least one, each a DNS name, none twice (nginx_domains, certbot_domains)."""
    return domains_empty(domains, var) + DOMAIN.problems(var, domains) + domains_twice(domains, var)


# --- across variables ----------------------------------------------------------------


def admin_problems(v: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """The problems with users_admins, and the admins that have an SSH key."""
    problems: list[str] = []
    names: list[str] = []
    keyed: list[str] = []
    admins = v["users_admins"]
    if not _is_list(admins):
        return problems, keyed
    user = re.compile(f"^(?:{USER})$")
    for admin in admins:
        if not isinstance(admin, Mapping) or "name" not in admin:
            continue
        name = str(admin["name"])
        who = f"users_admins: {_json(name)}"
        if not user.search(name):
            problems.append(f"{who} is not a user name (lowercase letters, digits, _ and -)")
        if name in v["users_reserved_names"]:
            problems.append(f"{who} is a service account or reserved name, never an admin")
        if name in names:
            problems.append(f"{who} is listed twice")
        names.append(name)
        keys = admin.get("ssh_keys", [])
        if isinstance(keys, Sequence | Mapping) and not isinstance(keys, str):
            for key in keys:
                if not isinstance(key, str) or not SSH_KEY.search(key):
                    problems.append(
                        f"{who}: {_json(str(key)[:40])} is not an SSH public key"
                        ' such as "ssh-ed25519 AAAA... you@laptop"'
                    )
            if len(keys) > 0:
                keyed.append(name)
        else:
            problems.append(f"{who}: ssh_keys is not a list of SSH public keys")
        if not admin.get("sudo_nopassword", v["users_sudo_nopassword"]) and not admin.get("password_hash", ""):
            problems.append(f"{who} uses sudo with a password but has no password_hash")
    return problems, keyed


def baseline_problems(v: Mapping[str, Any], roles: Sequence[str]) -> list[str]:
    """The admin accounts (role users) and the SSH login path they leave (role sshd)."""
    problems, keyed = admin_problems(v) if "users" in roles else ([], [])
    if not ("sshd" in roles and v["sshd_enabled"] is True):
        return problems
    root_login = v["sshd_permit_root_login"]
    allow_users = v["sshd_allow_users"]
    if root_login == "no" and not keyed:
        problems.append(
            "at least one admin with an SSH key (users_admins) is needed, because root login is turned off"
            ' (sshd_permit_root_login: "no"); nobody could log in otherwise'
        )
    if allow_users and not isinstance(allow_users, str):
        if keyed and not any(name in allow_users for name in keyed):
            problems.append(
                f"sshd_allow_users: none of the admins with a key ({', '.join(keyed)}) is in it; nobody could log in"
            )
        if root_login != "no" and "root" not in allow_users:
            problems.append(
                f"sshd_allow_users: root login is on (sshd_permit_root_login: {root_login})"
                " but root is not in sshd_allow_users, so sshd refuses root anyway"
            )
        user = v.get("ansible_user")
        if "ansible_user" in v and user != "root" and user not in allow_users:
            problems.append(f"sshd_allow_users: ansible_user {_json(user)} is not in it; Ansible would lock itself out")
    return problems


def runtime_problems(v: Mapping[str, Any]) -> list[str]:
    """The app tier (roles pyenv, app, gunicorn): what the inputs of one role mean for another."""
    problems: list[str] = []
    for var in ("app_name", "app_user", "app_group"):
        if isinstance(v.get(var), str) and v[var] in RESERVED_APP_NAMES:
            problems.append(
                f"{var}: {_json(v[var])} is a name the server already uses (for its own services' /etc, /run"
                " and /var/log directories, or a system account): give the app a name of its own"
            )
    if "app_migrate_command" in v:
        problems.append(
            "app_migrate_command was replaced by app_release_commands (a list): app_release_commands: ["
            f"{_json(v['app_migrate_command'])}]"
        )
    # Not a role input: playbooks/vars/runtime.yml hands it to the gunicorn role.
    for process in v.get("app_processes") or []:
        if not isinstance(process, Mapping):
            continue
        name = process.get("name", "")
        if not (isinstance(name, str) and PROCESS.match(name)) or name in RESERVED_PROCESSES:
            problems.append(
                f"app_processes: {_json(name)} is not a process name"
                " (lowercase letters, digits, _ and -; not blue or green)"
            )
    for name in [*(v["app_env"] or {}), *(v["app_secret_env"] or {})]:
        if not (isinstance(name, str) and ENV_NAME.match(name)):
            problems.append(f"app_env/app_secret_env: {_json(name)} is not an environment variable name")
    return problems


def web_problems(v: Mapping[str, Any]) -> list[str]:
    """The HTTPS front (roles nginx, certbot). The form of each domain is in FORMS."""
    problems: list[str] = []
    # An empty list is a required input left empty (required_problems).
    if "nginx_domains" in v:
        problems += domains_twice(v["nginx_domains"], "nginx_domains")
    if not _to_bool(v["certbot_agree_tos"]):
        problems.append(
            "certbot_agree_tos is not true: read the ACME server's terms of service"
            " (Let's Encrypt: https://letsencrypt.org/repository/) and set it"
        )
    return problems


# --- several apps on one server (issue #12) --------------------------------------------

# What to do instead of a list of apps.
_ONE_APP = "or leave apps out to describe one app with the server's own variables"
_APP_INPUTS = "a mapping of its inputs (app_name, app_repo_url, ...)"


def _app(index: int, name: Any = None) -> str:
    """How a problem names an app: its place in apps, and its app_name when it has one."""
    return f"apps[{index}] ({name})" if isinstance(name, str) and name else f"apps[{index}]"


def _entry_key_problem(key: str, app_keys: Sequence[str], role_inputs: Sequence[str]) -> str | None:
    if key in app_keys:
        return None
    if key in role_inputs:
        return f"{key} is a setting of the server, not of one app: set it outside apps"
    close = difflib.get_close_matches(key, [str(name) for name in app_keys], n=1)
    return f"{key} is not an input of any role ({f'a typo of {close[0]}?' if close else 'a typo?'})"


def apps_entry_problems(apps: Any, app_keys: Sequence[str], role_inputs: Sequence[str]) -> list[str]:
    """The server's apps list as written: a list of mappings of app inputs, each app named.

    apps: the server's `apps` (None when it has none: its own variables describe one app).
    app_keys: the variables one app may set (the inputs of the per-app roles, and the kit's
    own per-app variables such as app_processes). role_inputs: every variable the inventory
    may set (every role's inputs, and the kit's own such as apt_lock_timeout); a key in it
    but not in app_keys belongs to the server. In Jinja:
    `apps | default(None) | preflight_apps_entry_problems(app_keys, role_inputs)`.
    """
    if apps is None:
        return []
    if not _is_list(apps):
        return [f"apps is not a list: list the server's apps, each {_APP_INPUTS}, {_ONE_APP}"]
    if len(apps) == 0:
        return [f"apps is empty: list the server's apps, {_ONE_APP}"]
    problems: list[str] = []
    for index, entry in enumerate(apps):
        if not isinstance(entry, Mapping):
            problems.append(f"{_app(index)}: {_json(entry)} is not an app, {_APP_INPUTS}")
            continue
        who = _app(index, entry.get("app_name"))
        if len(apps) > 1 and entry.get("app_name") is None:
            problems.append(
                f"{who} has no app_name: with more than one app each sets its own"
                " (it names the app's user, directories, socket and Supervisor programs)"
            )
        for key, value in entry.items():
            wrong = _entry_key_problem(str(key), app_keys, role_inputs)
            if wrong:
                problems.append(f"{who}: {wrong}")
            elif key in FORMS:
                problems += [f"{who}: {problem}" for problem in form_problems(value, key)]
    return problems


def _binds(binds: Iterable[str]) -> tuple[list[tuple[str, int, str]], list[str]]:
    """Gunicorn bind strings as (host, port, bind) for TCP, and the paths of unix sockets.

    Read as Gunicorn reads them: unix:PATH, fd://N (no address of its own), [tcp://]HOST[:PORT],
    port 8000 when none is given, and an empty host for all addresses.
    """
    tcp: list[tuple[str, int, str]] = []
    unix: list[str] = []
    for bind in map(str, binds):
        if bind.startswith("unix:"):
            unix.append(posixpath.normpath(bind.removeprefix("unix:").removeprefix("//")))
            continue
        if bind.startswith("fd://"):
            continue
        address = bind.removeprefix("tcp://")
        if address.startswith("[") and "]" in address:
            host, _, port = address[1:].partition("]")
            port = port.removeprefix(":")
        else:
            host, _, port = address.partition(":")
        tcp.append((host.lower(), int(port) if port.isdigit() else 8000, bind))
    return tcp, unix


# Addresses a bind takes every address of a port on, so no other bind on that port can be made.
_ALL_ADDRESSES = ("", "0.0.0.0", "::")


def _clash(one: tuple[str, int, str], other: tuple[str, int, str]) -> bool:
    return one[1] == other[1] and (one[0] == other[0] or one[0] in _ALL_ADDRESSES or other[0] in _ALL_ADDRESSES)


def _inside(path: str, base: str) -> bool:
    """Whether a directory is below another (both normalised)."""
    return path != base and path.startswith(base.rstrip("/") + "/")


def _listed(names: Sequence[str]) -> str:
    """a, b and c."""
    return " and ".join([", ".join(names[:-1]), names[-1]])


def app_collisions(apps: Sequence[Mapping[str, Any]]) -> list[str]:
    """What two apps of one server would share and fight over, each problem naming both apps.

    apps: one mapping per app, in the order of the server's apps list, with the app's resolved
    values: name, user, group, base_dir, domains (list), extra_binds (Gunicorn bind strings),
    sqlite_path ("" for none), programs (its Supervisor program names), socket (its stable socket).
    Two apps with the same name share everything named after it: for them only the name is
    reported, not the user, group, directory, sockets and programs that follow from it.
    In Jinja: `resolved_apps | preflight_app_collisions`.
    """
    who = [_app(index, app["name"]) for index, app in enumerate(apps)]
    pairs = [(i, j) for i in range(len(apps)) for j in range(i + 1, len(apps))]

    def pairwise(*rules, apart: bool = True) -> list[str]:
        """Each rule over each pair of apps; with apart, over the pairs named apart only."""
        return [
            problem
            for rule in rules
            for i, j in pairs
            if not (apart and apps[i]["name"] == apps[j]["name"])
            for problem in rule(apps[i], apps[j], who[i], who[j])
        ]

    return (
        pairwise(_same_name, apart=False)
        + pairwise(_same_user, _same_group, _base_dirs)
        + _shared_domains(apps, who)
        + pairwise(_same_port, _same_sqlite_file, apart=False)
        + pairwise(_same_program, _same_socket, _process_files, _nginx_names)
    )


def admins_as_app_accounts(apps: Sequence[Mapping[str, Any]], admins: Any) -> list[str]:
    """Admins (users_admins) named like an app's user or group: the users role would make the
    app's service account a login with sudo, or the app's group an admin's.

    apps: as for app_collisions (each app's name, user and group, resolved). The users role
    refuses the server's own app user as well (users_reserved_names); this covers every app.
    """
    problems: list[str] = []
    for admin in admins if _is_list(admins) else []:
        name = admin.get("name") if isinstance(admin, Mapping) else None
        for app in apps:
            for var, account in (("app_user", app["user"]), ("app_group", app["group"])):
                if name == account:
                    problems.append(
                        f"users_admins: {_json(name)} is the {var} of app {app['name']}: an admin is never"
                        " an app's account; give the admin or the app another name"
                    )
                    break
    return _unique(problems)


def _same_name(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    if a["name"] != b["name"]:
        return []
    return [
        f"{wa} and {wb} have the same app_name: give each its own"
        " (it names the app's user, directories, socket and Supervisor programs)"
    ]


def _same_user(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    if a["user"] != b["user"]:
        return []
    return [f"{wa} and {wb} both run as user {_json(a['user'])}: give each its own app_user"]


def _same_group(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    # The app's settings file and its Gunicorn settings are root's, readable by the app's group.
    if a["group"] != b["group"]:
        return []
    return [
        f"{wa} and {wb} share the group {_json(a['group'])}: give each its own app_group;"
        " a shared group would let each app read the other's settings and secrets"
    ]


def _base_dirs(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    one, other = (posixpath.normpath(str(app["base_dir"])) for app in (a, b))
    if one == other:
        return [f"{wa} and {wb} have the same base directory {_json(one)}: give each its own app_base_dir"]
    for inner, outer, wi, wo in ((one, other, wa, wb), (other, one, wb, wa)):
        if _inside(inner, outer):
            return [
                f"{wi} has its base directory {_json(inner)} inside {wo}'s ({_json(outer)}):"
                " give each its own app_base_dir, outside the other's"
            ]
    return []


def _shared_domains(apps: Sequence[Mapping[str, Any]], who: Sequence[str]) -> list[str]:
    owners: dict[str, list[str]] = {}
    for app, name in zip(apps, who, strict=True):
        for domain in _unique(map(str, app.get("domains") or [])):
            owners.setdefault(domain, []).append(name)
    return [
        f"nginx_domains: {_json(domain)} is in {_listed(names)}: a domain leads to one app; keep it in one"
        for domain, names in owners.items()
        if len(names) > 1
    ]


def _same_port(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    """The same TCP port twice; apps are otherwise served on their own unix sockets."""
    ours, theirs = (_binds(app.get("extra_binds") or [])[0] for app in (a, b))
    clashes: dict[int, list[str]] = {}
    for one in ours:
        for other in theirs:
            if _clash(one, other):
                clashes[one[1]] = _unique([*clashes.get(one[1], []), one[2], other[2]])
    return [
        f"{wa} and {wb} both bind port {port} ({', '.join(map(_json, binds))}) in gunicorn_extra_binds:"
        " give each its own port"
        for port, binds in clashes.items()
    ]


def _same_sqlite_file(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    one, other = (posixpath.normpath(str(app["sqlite_path"])) if app.get("sqlite_path") else "" for app in (a, b))
    if not one or one != other:
        return []
    return [f"{wa} and {wb} use the same SQLite file {_json(one)}: give each its own app_sqlite_path"]


def _same_program(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    theirs = [str(program) for program in b.get("programs") or []]
    return [
        f"{wa} and {wb} would both have the Supervisor program {_json(program)}"
        " (programs are <app>-<color> and <app>-<process>): rename an app or the process"
        for program in _unique(map(str, a.get("programs") or []))
        if program in theirs
    ]


def _same_socket(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    """The stable socket, and the unix sockets of the extra binds."""
    ours, theirs = (
        [posixpath.normpath(str(app["socket"])), *_binds(app.get("extra_binds") or [])[1]] for app in (a, b)
    )
    return [
        f"{wa} and {wb} both serve on the unix socket {_json(path)}: give each its own"
        for path in _unique(ours)
        if path in theirs
    ]


def _process_files(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    """The gunicorn role removes every <app>-process-*.conf its app no longer wants
    (roles/gunicorn/tasks/processes.yml); another app's program files must not match."""
    problems: list[str] = []
    for one, other, wo, wt in ((a, b, wa, wb), (b, a, wb, wa)):
        prefix = f"{one['name']}-process-"
        if f"{other['name']}-".startswith(prefix):
            problems.append(
                f"{wo}'s deploys would remove {wt}'s Supervisor programs: they remove the files"
                f" /etc/supervisor/conf.d/{prefix}*.conf of processes {wo} no longer has;"
                f" rename {wt} so its name does not start with {_json(prefix[:-1])}"
            )
    return problems


def _nginx_names(a: Mapping[str, Any], b: Mapping[str, Any], wa: str, wb: str) -> list[str]:
    # As roles/nginx/vars/main.yml makes __nginx_variable_prefix of the site's name, the app's.
    one, other = (re.sub(r"[^A-Za-z0-9_]", "_", str(app["name"])) for app in (a, b))
    if one != other:
        return []
    return [
        f"{wa} and {wb} differ only in - and _: nginx names each app's variables after it with _ for -"
        f" (${one}_...), so their sites would clash; rename one"
    ]


def required_problems(v: Mapping[str, Any], names: Iterable[str]) -> list[str]:
    """Inputs a role's spec requires that are empty as the role would see them.

    An app's inputs are always set, by a role's default at least (roles/apps); a default
    left empty (app_repo_url: "") stands for "required, no safe default".
    """
    return [f"{name} is required and empty: set it for the app" for name in names if v.get(name) in (None, "", [], {})]


def spec_problems(registered: Mapping[str, Any]) -> list[str]:
    """The errors of validate_argument_spec run in a loop over roles, as `role <name>: <error>`.

    Each item is a role's name, or a mapping with its role and entry point (`role <name> <entry point>:`
    unless the entry point is main).
    """
    problems = []
    for result in registered.get("results", []):
        item = result["item"]
        role = (
            item
            if isinstance(item, str)
            else " ".join([item["role"]] + ([] if item["entry_point"] == "main" else [item["entry_point"]]))
        )
        problems += [f"role {role}: {error}" for error in result.get("argument_errors", [])]
    return problems


def report(hosts: Iterable[str], hostvars: Mapping[str, Mapping[str, Any]], wanted_app: str = "") -> list[str]:
    """Every host's problems, one line each: argument spec errors first, then the rules'.

    wanted_app: the app the run is about (-e app=<name>), which some host must have.
    """
    hosts = list(hosts)
    lines: list[str] = []
    for host in hosts:
        h = hostvars[host]
        lines += [f"{host}: {problem}" for problem in spec_problems(h.get("__preflight_argument_specs") or {})]
        lines += [f"{host}: {problem}" for problem in h.get("__preflight_problems", [])]
    names = sorted({str(name) for host in hosts for name in hostvars[host].get("__apps_names") or []})
    if wanted_app and wanted_app not in names:
        lines.append(f"app={wanted_app}: no server of this run has an app of that name (apps: {', '.join(names)})")
    return lines


# --- Jinja ---------------------------------------------------------------------------


def _host_inputs(rule):
    """A rule over the host's variables laid over its roles' defaults (a list of mappings)."""

    def over_defaults(host: Mapping[str, Any], defaults: Sequence[Mapping[str, Any]], *args: Any) -> list[str]:
        return rule(ChainMap(host, *defaults), *args)

    over_defaults.__doc__ = rule.__doc__
    return over_defaults


class FilterModule:
    def filters(self):
        return {
            "form_problems": form_problems,
            "domain_list_problems": domain_list_problems,
            "preflight_form_problems": forms_problems,
            "preflight_baseline_problems": _host_inputs(baseline_problems),
            "preflight_runtime_problems": _host_inputs(runtime_problems),
            "preflight_web_problems": _host_inputs(web_problems),
            "preflight_apps_entry_problems": apps_entry_problems,
            "preflight_app_collisions": app_collisions,
            "preflight_admins_as_app_accounts": admins_as_app_accounts,
            "preflight_spec_problems": spec_problems,
            "preflight_required_problems": required_problems,
            "preflight_report": report,
        }
