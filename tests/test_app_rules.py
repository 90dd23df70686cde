"""The rules for several apps on one server (plugins/filter/input_rules.py), one pass and one fail case each.

apps_entry_problems checks the server's `apps` list as written. The inputs of every role are
read from the roles' specs.
"""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins" / "filter"))

import input_rules  # noqa: E402

ROLE_INPUTS = [
    name
    for spec in sorted(ROOT.glob("roles/*/meta/argument_specs.yml"))
    for name in yaml.safe_load(spec.read_text())["argument_specs"]["main"]["options"]
]
# The variables one app may set, as the playbooks could choose them: enough for the rules.
APP_KEYS = [
    *(name for name in ROLE_INPUTS if name.startswith("app_")),
    *("gunicorn_module", "gunicorn_workers", "gunicorn_extra_binds", "gunicorn_health_path"),
    *("nginx_domains", "nginx_client_max_body_size", "certbot_email", "app_processes"),
]
NOTES = {"app_name": "notes", "app_repo_url": "https://git.example.com/notes.git", "nginx_domains": ["notes.test"]}
ADMIN = {"app_name": "admin", "app_repo_url": "git@git.example.com:team/admin.git", "gunicorn_module": "admin.main:app"}


def entry_problems(apps):
    return input_rules.apps_entry_problems(apps, APP_KEYS, ROLE_INPUTS)


def test_the_split_of_inputs_is_real():
    """The server's settings in the failing cases below are inputs of roles; the app's are not among them."""
    assert {"sshd_port", "nginx_worker_connections", "pyenv_python_versions"} <= set(ROLE_INPUTS) - set(APP_KEYS)


# --- the apps list as written ----------------------------------------------------------


@pytest.mark.parametrize(
    "apps",
    [None, [{}], [{"app_repo_url": "https://git.example.com/notes.git"}], [NOTES], [NOTES, ADMIN]],
    ids=["no-apps", "one-empty", "one-without-name", "one", "two"],
)
def test_apps_entries_pass(apps):
    assert entry_problems(apps) == []


def test_apps_entries_pass_an_apps_own_processes():
    assert entry_problems([{**NOTES, "app_processes": [{"name": "worker", "command": "python -m worker"}]}]) == []


@pytest.mark.parametrize(
    ("apps", "problems"),
    [
        (
            {"notes": NOTES},
            [
                "apps is not a list: list the server's apps, each a mapping of its inputs (app_name, app_repo_url,"
                " ...), or leave apps out to describe one app with the server's own variables"
            ],
        ),
        (
            [],
            [
                "apps is empty: list the server's apps,"
                " or leave apps out to describe one app with the server's own variables"
            ],
        ),
        (
            [NOTES, "admin"],
            ['apps[1]: "admin" is not an app, a mapping of its inputs (app_name, app_repo_url, ...)'],
        ),
        (
            [NOTES, {"app_repo_url": "https://git.example.com/admin.git"}],
            [
                "apps[1] has no app_name: with more than one app each sets its own"
                " (it names the app's user, directories, socket and Supervisor programs)"
            ],
        ),
        (
            [NOTES, {**ADMIN, "sshd_port": 2222}],
            ["apps[1] (admin): sshd_port is a setting of the server, not of one app: set it outside apps"],
        ),
        (
            [{**NOTES, "nginx_worker_connections": 4096, "pyenv_python_versions": ["3.12.9"]}],
            [
                "apps[0] (notes): nginx_worker_connections is a setting of the server, not of one app:"
                " set it outside apps",
                "apps[0] (notes): pyenv_python_versions is a setting of the server, not of one app:"
                " set it outside apps",
            ],
        ),
        (
            [{**NOTES, "app_repo": "https://git.example.com/notes.git"}],
            ["apps[0] (notes): app_repo is not an input of any role (a typo of app_repo_url?)"],
        ),
        (
            [{**NOTES, "colour": "blue"}],
            ["apps[0] (notes): colour is not an input of any role (a typo?)"],
        ),
        (
            [{**NOTES, "app_repo_url": "not a url"}],
            [
                'apps[0] (notes): app_repo_url: "not a url" is not a git URL'
                " (https://, ssh://, git@host:path or file://)"
            ],
        ),
        (
            [NOTES, {"app_name": "Admin Panel", "nginx_domains": ["Admin.example.com"]}],
            [
                'apps[1] (Admin Panel): app_name: "Admin Panel" is not a name usable as a system user'
                " (lowercase letters, digits, _ and -)",
                'apps[1] (Admin Panel): nginx_domains: "Admin.example.com" is not a domain name'
                " such as app.example.com (lowercase)",
            ],
        ),
    ],
    ids=[
        "not-a-list",
        "empty",
        "entry-not-a-mapping",
        "two-without-a-name",
        "server-setting",
        "server-settings",
        "typo",
        "unknown",
        "form",
        "forms-of-the-name-and-domains",
    ],
)
def test_apps_entries_fail(apps, problems):
    assert entry_problems(apps) == problems


def test_apps_entries_name_every_app_without_a_name():
    assert [problem.split(" ")[0] for problem in entry_problems([{}, {}])] == ["apps[0]", "apps[1]"]


def test_apps_entries_check_the_form_of_a_server_setting_only_where_it_belongs():
    """A misplaced key is reported as misplaced, not also for its form."""
    assert entry_problems([{**NOTES, "sshd_port": 70000}]) == [
        "apps[0] (notes): sshd_port is a setting of the server, not of one app: set it outside apps"
    ]


def test_the_rules_are_preflight_filters():
    filters = input_rules.FilterModule().filters()
    assert filters["preflight_apps_entry_problems"] is input_rules.apps_entry_problems
