"""The kit's rules for its inputs (plugins/filter/input_rules.py), one pass and one fail case each.

test_preflight*.py run the same rules through ansible-playbook; these call them directly.
The rules across variables get the host's variables over the real defaults of the roles.
"""

import json
import sys
from collections import ChainMap
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import input_rules  # noqa: E402

ROLES = ["login", "common", "users", "sshd", "firewall", "fail2ban", "pyenv", "supervisor", "app", "gunicorn"]
ROLES += ["nginx", "certbot"]
ADMIN_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJt2s+evUSeNs99D1MPpYwjealOSC9nQX0QG5kaLGlnX test admin"
ALICE = {"name": "alice", "ssh_keys": [ADMIN_KEY]}


def defaults(*roles: str) -> list[dict]:
    return [yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text()) or {} for role in roles]


def host(**variables) -> ChainMap:
    """The variables a host's roles see: its own over the roles' defaults, as the preflight passes them."""
    # users_reserved_names's default names the app's user with a template; as rendered for app_name webapp.
    return ChainMap(variables, {"users_reserved_names": ["root", "www-data", "nobody", "webapp"]}, *defaults(*ROLES))


# --- the form of one value -------------------------------------------------------------

# A good and a bad value for every variable with a form.
FORM_CASES = {
    "common_timezone": ("Europe/Berlin", "Not a zone!"),
    "common_journald_max_use": ("500M", "lots"),
    "common_journald_max_file_size": ("50M", "50 MB"),
    "apt_lock_timeout": (600, "a minute"),
    "sshd_port": (2222, 70000),
    "firewall_ssh_port": (22, 0),
    "fail2ban_sshd_port": (65535, 65536),
    "sshd_login_grace_time": ("30s", "half a minute"),
    "sshd_allow_users": (["alice", "root"], ["alice", "Bob"]),
    "sshd_allow_groups": (["sshusers"], ["ssh users"]),
    "login_bootstrap_user": ("debian", "Debian"),
    "fail2ban_bantime": (-1, "a while"),
    "fail2ban_findtime": ("10m", "-1"),
    "fail2ban_ignoreip": (["192.0.2.0/24", "2001:db8::1"], ["my office"]),
    "common_unattended_upgrades_reboot_time": ("04:00", "4am"),
    "pyenv_python_versions": (["3.13.5", "3.12.9"], ["3.13.5", "latest"]),
    "app_python_version": ("3.13.5", "3.13"),
    "app_name": ("webapp", "Web App"),
    "app_repo_url": ("git@github.com:team/app.git", "not a url"),
    "gunicorn_worker_class": ("uvicorn_worker.UvicornWorker", "UvicornWorker"),
    "gunicorn_health_path": ("/health", "health"),
    "gunicorn_module": ("webapp.main:app", "webapp.main"),
    "nginx_domains": (["app.example.com", "www.app.example.com"], ["app.example.com", "App.Example.com"]),
    "nginx_internal_locations": (["/metrics"], ["metrics { }"]),
    "nginx_internal_allow": (["10.0.0.0/8", "2001:db8::/32"], ["10.0.0.1; allow all"]),
    "certbot_email": ("ops@example.com", "ops-at-example.com"),
    "certbot_acme_directory_url": ("https://acme-v02.api.letsencrypt.org/directory", "http://acme.example.test/dir"),
}


def test_every_form_has_cases():
    assert set(FORM_CASES) == set(input_rules.FORMS)


@pytest.mark.parametrize("var", FORM_CASES)
def test_form_passes_a_good_value(var):
    assert input_rules.form_problems(FORM_CASES[var][0], var) == []


@pytest.mark.parametrize("var", FORM_CASES)
def test_form_names_the_bad_value(var):
    bad = FORM_CASES[var][1]
    wrong = [item for item in bad if item not in FORM_CASES[var][0]] if isinstance(bad, list) else [bad]
    hint = input_rules.FORMS[var].hint
    quoted = ", ".join(json.dumps(str(item)) for item in wrong)
    assert input_rules.form_problems(bad, var) == [f"{var}: {quoted} is not {hint}"]


def test_form_lists_every_bad_item_in_one_problem():
    assert input_rules.form_problems(["10.0.0.1", "office", "home"], "fail2ban_ignoreip") == [
        'fail2ban_ignoreip: "office", "home" is not an IP address or network such as 192.0.2.0/24'
    ]


def test_form_skips_a_variable_that_is_not_set():
    assert input_rules.forms_problems({}) == []
    assert input_rules.forms_problems({"common_timezone": None}) == []


def test_forms_checks_every_variable_the_host_sets():
    problems = input_rules.forms_problems({"common_timezone": "Bad zone", "sshd_port": 22, "app_name": "Web App"})
    assert [problem.split(":")[0] for problem in problems] == ["common_timezone", "app_name"]


# --- a site's domains (preflight, nginx, certbot) --------------------------------------


def test_domain_list_passes():
    assert input_rules.domain_list_problems(["app.example.com", "www.app.example.com"], "certbot_domains") == []


@pytest.mark.parametrize(
    ("domains", "problem"),
    [
        ([], "certbot_domains is empty: list the domain names the site answers to"),
        (
            ["app.example.com", "bad_name!.example"],
            'certbot_domains: "bad_name!.example" is not a domain name such as app.example.com (lowercase)',
        ),
        (["localhost"], 'certbot_domains: "localhost" is not a domain name such as app.example.com (lowercase)'),
        (
            ["app.example.com", "app.example.com"],
            'certbot_domains lists a name twice: ["app.example.com", "app.example.com"]',
        ),
    ],
    ids=["empty", "invalid", "single-label", "twice"],
)
def test_domain_list_fails(domains, problem):
    assert input_rules.domain_list_problems(domains, "certbot_domains") == [problem]


# --- admins and the SSH login path (roles users, sshd) ---------------------------------

BASELINE = ["users", "sshd"]


def test_baseline_passes_an_admin_with_a_key():
    assert input_rules.baseline_problems(host(users_admins=[ALICE]), BASELINE) == []


def test_baseline_passes_root_with_a_key_and_no_admin():
    v = host(users_admins=[], sshd_permit_root_login="prohibit-password")
    assert input_rules.baseline_problems(v, BASELINE) == []


def test_baseline_passes_admins_sshd_allows():
    v = host(users_admins=[ALICE], sshd_allow_users=["alice"], ansible_user="alice")
    assert input_rules.baseline_problems(v, BASELINE) == []


def test_baseline_passes_sudo_with_a_password_and_a_hash():
    admin = {**ALICE, "sudo_nopassword": False, "password_hash": "$y$j9T$salt$hash"}
    assert input_rules.baseline_problems(host(users_admins=[admin]), BASELINE) == []


def test_baseline_skips_what_the_host_does_not_get():
    assert input_rules.baseline_problems(host(users_admins=[{"name": "Bad Name"}]), []) == []
    assert input_rules.baseline_problems(host(users_admins=[], sshd_enabled=False), BASELINE) == []


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        (
            {"users_admins": [{**ALICE, "name": "Alice Smith"}]},
            'users_admins: "Alice Smith" is not a user name (lowercase letters, digits, _ and -)',
        ),
        (
            {"users_admins": [ALICE, {**ALICE, "name": "www-data"}]},
            'users_admins: "www-data" is a service account or reserved name, never an admin',
        ),
        ({"users_admins": [ALICE, ALICE]}, 'users_admins: "alice" is listed twice'),
        (
            {"users_admins": [{"name": "alice", "ssh_keys": [ADMIN_KEY, "ssh-ed25519 not-base64! alice"]}]},
            'users_admins: "alice": "ssh-ed25519 not-base64! alice" is not an SSH public key'
            ' such as "ssh-ed25519 AAAA... you@laptop"',
        ),
        (
            {"users_admins": [ALICE, {"name": "bob", "ssh_keys": "ssh-ed25519 AAAA bob"}]},
            'users_admins: "bob": ssh_keys is not a list of SSH public keys',
        ),
        (
            {"users_admins": [{**ALICE, "sudo_nopassword": False}]},
            'users_admins: "alice" uses sudo with a password but has no password_hash',
        ),
        (
            {"users_admins": [ALICE], "users_sudo_nopassword": False},
            'users_admins: "alice" uses sudo with a password but has no password_hash',
        ),
        (
            {"users_admins": []},
            "at least one admin with an SSH key (users_admins) is needed, because root login is turned off"
            ' (sshd_permit_root_login: "no"); nobody could log in otherwise',
        ),
        (
            {"users_admins": [ALICE], "sshd_allow_users": ["bob", "root"]},
            "sshd_allow_users: none of the admins with a key (alice) is in it; nobody could log in",
        ),
        (
            {"users_admins": [ALICE], "sshd_permit_root_login": "prohibit-password", "sshd_allow_users": ["alice"]},
            "sshd_allow_users: root login is on (sshd_permit_root_login: prohibit-password)"
            " but root is not in sshd_allow_users, so sshd refuses root anyway",
        ),
        (
            {"users_admins": [ALICE], "sshd_allow_users": ["alice"], "ansible_user": "deploy"},
            'sshd_allow_users: ansible_user "deploy" is not in it; Ansible would lock itself out',
        ),
    ],
    ids=[
        "user-name",
        "reserved-name",
        "twice",
        "ssh-key",
        "keys-not-a-list",
        "sudo-password-without-hash",
        "sudo-password-by-default-without-hash",
        "no-admin-key",
        "allow-users-without-admin",
        "root-login-without-root-allowed",
        "ansible-user-locked-out",
    ],
)
def test_baseline_fails(variables, problem):
    assert input_rules.baseline_problems(host(**variables), BASELINE) == [problem]


def test_baseline_reads_the_users_roles_reserved_names():
    v = ChainMap({"users_admins": [ALICE], "users_reserved_names": ["alice"]}, *defaults("users", "sshd"))
    assert input_rules.baseline_problems(v, BASELINE) == [
        'users_admins: "alice" is a service account or reserved name, never an admin'
    ]


# --- the app tier (roles pyenv, app, gunicorn) -----------------------------------------


def test_runtime_passes_the_defaults():
    assert input_rules.runtime_problems(host()) == []


def test_runtime_passes_an_apps_own_choices():
    v = host(
        pyenv_python_versions=["3.12.9", "3.13.5"],
        app_python_version="3.12.9",
        app_processes=[{"name": "worker", "command": "python -m worker"}],
        app_env={"DATABASE_URL": "postgresql://db/app"},
        app_secret_env={"API_TOKEN": "x"},
    )
    assert input_rules.runtime_problems(v) == []


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        (
            {"app_migrate_command": "alembic upgrade head"},
            "app_migrate_command was replaced by app_release_commands (a list):"
            ' app_release_commands: ["alembic upgrade head"]',
        ),
        (
            {"app_processes": [{"name": "worker"}, {"name": "blue", "command": "x"}]},
            'app_processes: "blue" is not a process name (lowercase letters, digits, _ and -; not blue or green)',
        ),
        (
            {"app_processes": [{"name": "Worker", "command": "x"}]},
            'app_processes: "Worker" is not a process name (lowercase letters, digits, _ and -; not blue or green)',
        ),
        (
            {"app_env": {"OK": "1"}, "app_secret_env": {"API-TOKEN": "x"}},
            'app_env/app_secret_env: "API-TOKEN" is not an environment variable name',
        ),
        (
            {"app_name": "nginx"},
            'app_name: "nginx" is a name the server already uses (for its own services\' /etc, /run'
            " and /var/log directories, or a system account): give the app a name of its own",
        ),
        (
            {"app_name": "shop", "app_user": "www-data"},
            'app_user: "www-data" is a name the server already uses (for its own services\' /etc, /run'
            " and /var/log directories, or a system account): give the app a name of its own",
        ),
        (
            {"app_name": "shop", "app_group": "adm"},
            'app_group: "adm" is a name the server already uses (for its own services\' /etc, /run'
            " and /var/log directories, or a system account): give the app a name of its own",
        ),
    ],
    ids=[
        "migrate-command-renamed",
        "process-named-like-a-color",
        "process-name",
        "env-name",
        "app-named-like-a-service",
        "user-named-like-a-system-account",
        "group-named-like-a-system-group",
    ],
)
def test_runtime_fails(variables, problem):
    assert input_rules.runtime_problems(host(**variables)) == [problem]


# --- the HTTPS front (roles nginx, certbot) --------------------------------------------


def test_web_passes():
    assert input_rules.web_problems(host(nginx_domains=["app.example.com"], certbot_agree_tos=True)) == []


@pytest.mark.parametrize("agreed", [True, "yes", "True", 1])
def test_web_takes_what_ansibles_bool_takes_as_agreement(agreed):
    assert input_rules.web_problems(host(nginx_domains=["app.example.com"], certbot_agree_tos=agreed)) == []


@pytest.mark.parametrize(
    ("variables", "problem"),
    [
        (
            {"nginx_domains": ["a.example.com", "a.example.com"], "certbot_agree_tos": True},
            'nginx_domains lists a name twice: ["a.example.com", "a.example.com"]',
        ),
        (
            {"nginx_domains": ["app.example.com"]},
            "certbot_agree_tos is not true: read the ACME server's terms of service"
            " (Let's Encrypt: https://letsencrypt.org/repository/) and set it",
        ),
    ],
    ids=["duplicate-domain", "terms-not-agreed"],
)
def test_web_fails(variables, problem):
    assert input_rules.web_problems(host(**variables)) == [problem]


# --- what the preflight reads for each app -------------------------------------------------


def test_a_required_input_left_empty_is_a_problem_and_a_set_one_is_not():
    app = {"app_repo_url": "", "nginx_domains": [], "certbot_email": "ops@example.test", "app_env": {}}
    assert input_rules.required_problems(app, ["app_repo_url", "nginx_domains", "certbot_email"]) == [
        "app_repo_url is required and empty: set it for the app",
        "nginx_domains is required and empty: set it for the app",
    ]


def test_spec_errors_name_the_role_and_its_entry_point_unless_main():
    registered = {
        "results": [
            {"item": "sshd", "argument_errors": ["sshd_port must be an int"]},
            {"item": {"role": "nginx", "entry_point": "site"}, "argument_errors": ["missing nginx_domains"]},
            {"item": {"role": "app", "entry_point": "main"}, "argument_errors": []},
        ]
    }
    assert input_rules.spec_problems(registered) == [
        "role sshd: sshd_port must be an int",
        "role nginx site: missing nginx_domains",
    ]


def test_an_app_no_server_has_is_reported_once_with_the_names_there_are():
    hostvars = {"one": {"__apps_names": ["notes"]}, "two": {"__apps_names": ["admin", "notes"]}}
    assert input_rules.report(["one", "two"], hostvars, "admn") == [
        "app=admn: no server of this run has an app of that name (apps: admin, notes)"
    ]
    assert input_rules.report(["one", "two"], hostvars, "admin") == []


# --- the report --------------------------------------------------------------------------


def test_report_lists_each_hosts_problems_after_its_argument_errors():
    hostvars = {
        "one": {
            "__preflight_argument_specs": {
                "results": [
                    {"item": "common", "argument_errors": ["common_extra_packages is not a list"]},
                    {"item": "users"},
                ]
            },
            "__preflight_problems": ['common_timezone: "Bad zone" is not a zone'],
        },
        "two": {},
    }
    assert input_rules.report(["one", "two"], hostvars) == [
        "one: role common: common_extra_packages is not a list",
        'one: common_timezone: "Bad zone" is not a zone',
    ]
