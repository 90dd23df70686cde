"""The rules for several apps on one server (plugins/filter/input_rules.py), one pass and one fail case each.

apps_entry_problems checks the server's `apps` list as written; app_collisions checks what the
apps, their values resolved, would share. The inputs of every role are read from the roles' specs.
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
    assert filters["preflight_app_collisions"] is input_rules.app_collisions
    assert filters["preflight_admins_as_app_accounts"] is input_rules.admins_as_app_accounts


# --- what the apps would share ---------------------------------------------------------


def app(name: str, **values) -> dict:
    """An app's resolved values, as the roles' defaults and the playbooks make them from its name."""
    return {
        "name": name,
        "user": name,
        "group": name,
        "base_dir": f"/srv/{name}",
        "domains": [f"{name}.example.com"],
        "extra_binds": [],
        "sqlite_path": "",
        "programs": [f"{name}-blue", f"{name}-green"],
        "socket": f"/run/{name}/app.sock",
        **values,
    }


@pytest.mark.parametrize(
    "apps",
    [
        [],
        [app("notes")],
        [app("notes"), app("admin")],
        [
            app("notes", extra_binds=["127.0.0.1:8001"], sqlite_path="/srv/notes/shared/data/notes.db"),
            app("admin", extra_binds=["127.0.0.1:8002", "10.0.0.5:8001"], sqlite_path="/srv/admin/admin.db"),
        ],
        [app("a"), app("a-worker")],
        [app("notes", base_dir="/srv/notes"), app("notes2", base_dir="/srv/notes2")],
        [app("a"), app("a-processor")],
    ],
    ids=["none", "one", "two", "own-ports-and-files", "name-prefix", "base-dir-prefix", "process-lookalike"],
)
def test_app_collisions_pass(apps):
    assert input_rules.app_collisions(apps) == []


@pytest.mark.parametrize(
    ("apps", "problems"),
    [
        (
            [app("notes"), app("notes", domains=["admin.example.com"])],
            [
                "apps[0] (notes) and apps[1] (notes) have the same app_name: give each its own"
                " (it names the app's user, directories, socket and Supervisor programs)"
            ],
        ),
        (
            [app("notes", user="web"), app("admin", user="web")],
            ['apps[0] (notes) and apps[1] (admin) both run as user "web": give each its own app_user'],
        ),
        (
            [app("notes", group="web"), app("admin", group="web")],
            [
                'apps[0] (notes) and apps[1] (admin) share the group "web": give each its own app_group;'
                " a shared group would let each app read the other's settings and secrets"
            ],
        ),
        (
            [app("notes", base_dir="/srv/apps/"), app("admin", base_dir="/srv/apps")],
            [
                'apps[0] (notes) and apps[1] (admin) have the same base directory "/srv/apps":'
                " give each its own app_base_dir"
            ],
        ),
        (
            [app("notes", base_dir="/srv/notes/admin"), app("admin", base_dir="/srv/notes")],
            [
                'apps[0] (notes) has its base directory "/srv/notes/admin" inside apps[1] (admin)\'s ("/srv/notes"):'
                " give each its own app_base_dir, outside the other's"
            ],
        ),
        (
            [app("notes", base_dir="/srv"), app("admin")],
            [
                'apps[1] (admin) has its base directory "/srv/admin" inside apps[0] (notes)\'s ("/srv"):'
                " give each its own app_base_dir, outside the other's"
            ],
        ),
        (
            [
                app("notes", domains=["example.com", "notes.example.com"]),
                app("admin", domains=["admin.example.com", "example.com"]),
            ],
            [
                'nginx_domains: "example.com" is in apps[0] (notes) and apps[1] (admin):'
                " a domain leads to one app; keep it in one"
            ],
        ),
        (
            [app("notes", domains=["example.com"]), app("admin"), app("blog", domains=["example.com"])],
            [
                'nginx_domains: "example.com" is in apps[0] (notes) and apps[2] (blog):'
                " a domain leads to one app; keep it in one"
            ],
        ),
        (
            [app("a", domains=["example.com"]), app("b", domains=["example.com"]), app("c", domains=["example.com"])],
            [
                'nginx_domains: "example.com" is in apps[0] (a), apps[1] (b) and apps[2] (c):'
                " a domain leads to one app; keep it in one"
            ],
        ),
        (
            [app("notes", extra_binds=["127.0.0.1:8001"]), app("admin", extra_binds=["127.0.0.1:8001"])],
            [
                'apps[0] (notes) and apps[1] (admin) both bind port 8001 ("127.0.0.1:8001") in gunicorn_extra_binds:'
                " give each its own port"
            ],
        ),
        (
            [app("notes", extra_binds=["0.0.0.0:8001"]), app("admin", extra_binds=["127.0.0.1:8001"])],
            [
                "apps[0] (notes) and apps[1] (admin) both bind port 8001"
                ' ("0.0.0.0:8001", "127.0.0.1:8001") in gunicorn_extra_binds: give each its own port'
            ],
        ),
        (
            [app("notes", extra_binds=["[::1]:8001"]), app("admin", extra_binds=["tcp://[::]:8001"])],
            [
                "apps[0] (notes) and apps[1] (admin) both bind port 8001"
                ' ("[::1]:8001", "tcp://[::]:8001") in gunicorn_extra_binds: give each its own port'
            ],
        ),
        (
            [app("notes", extra_binds=["127.0.0.1"]), app("admin", extra_binds=["127.0.0.1:8000"])],
            [
                "apps[0] (notes) and apps[1] (admin) both bind port 8000"
                ' ("127.0.0.1", "127.0.0.1:8000") in gunicorn_extra_binds: give each its own port'
            ],
        ),
        (
            [app("notes", sqlite_path="/var/lib/data/app.db"), app("admin", sqlite_path="/var/lib/data//app.db")],
            [
                'apps[0] (notes) and apps[1] (admin) use the same SQLite file "/var/lib/data/app.db":'
                " give each its own app_sqlite_path"
            ],
        ),
        (
            [
                app("a", programs=["a-blue", "a-green", "a-worker-blue"]),
                app("a-worker", programs=["a-worker-blue", "a-worker-green"]),
            ],
            [
                'apps[0] (a) and apps[1] (a-worker) would both have the Supervisor program "a-worker-blue"'
                " (programs are <app>-<color> and <app>-<process>): rename an app or the process"
            ],
        ),
        (
            [app("notes", socket="/run/web.sock"), app("admin", socket="/run/web.sock")],
            ['apps[0] (notes) and apps[1] (admin) both serve on the unix socket "/run/web.sock": give each its own'],
        ),
        (
            [app("notes", extra_binds=["unix:/run/admin/app.sock"]), app("admin")],
            [
                'apps[0] (notes) and apps[1] (admin) both serve on the unix socket "/run/admin/app.sock":'
                " give each its own"
            ],
        ),
        (
            [app("a"), app("a-process-x")],
            [
                "apps[0] (a)'s deploys would remove apps[1] (a-process-x)'s Supervisor programs: they remove the"
                " files /etc/supervisor/conf.d/a-process-*.conf of processes apps[0] (a) no longer has;"
                ' rename apps[1] (a-process-x) so its name does not start with "a-process"'
            ],
        ),
        (
            [app("a-process"), app("a")],
            [
                "apps[1] (a)'s deploys would remove apps[0] (a-process)'s Supervisor programs: they remove the"
                " files /etc/supervisor/conf.d/a-process-*.conf of processes apps[1] (a) no longer has;"
                ' rename apps[0] (a-process) so its name does not start with "a-process"'
            ],
        ),
        (
            [app("my-app"), app("my_app")],
            [
                "apps[0] (my-app) and apps[1] (my_app) differ only in - and _: nginx names each app's variables"
                " after it with _ for - ($my_app_...), so their sites would clash; rename one"
            ],
        ),
    ],
    ids=[
        "name",
        "user",
        "group",
        "base-dir",
        "base-dir-inside",
        "base-dir-around",
        "domain",
        "domain-in-apart-apps",
        "domain-in-three",
        "port",
        "port-on-every-address",
        "port-ipv6",
        "port-by-default",
        "sqlite-file",
        "program",
        "socket",
        "socket-in-extra-binds",
        "process-files",
        "process-files-of-the-other",
        "nginx-variables",
    ],
)
def test_app_collisions_fail(apps, problems):
    assert input_rules.app_collisions(apps) == problems


def test_app_collisions_report_every_collision_in_a_fixed_order():
    shared = {"user": "web", "group": "web", "domains": ["example.com"], "extra_binds": ["127.0.0.1:8001"]}
    problems = input_rules.app_collisions([app("notes", **shared), app("admin", **shared), app("blog", user="web")])
    assert [problem.split(": ")[0] for problem in problems] == [
        'apps[0] (notes) and apps[1] (admin) both run as user "web"',
        'apps[0] (notes) and apps[2] (blog) both run as user "web"',
        'apps[1] (admin) and apps[2] (blog) both run as user "web"',
        'apps[0] (notes) and apps[1] (admin) share the group "web"',
        "nginx_domains",
        'apps[0] (notes) and apps[1] (admin) both bind port 8001 ("127.0.0.1:8001") in gunicorn_extra_binds',
    ]


def test_app_collisions_of_two_apps_named_alike_name_only_the_name():
    """The user, group, directory, socket and programs follow from the name: one problem, not six."""
    problems = input_rules.app_collisions([app("notes"), app("notes", domains=["admin.example.com"])])
    assert len(problems) == 1 and "have the same app_name" in problems[0]


# --- what the apps would share with the admins -----------------------------------------


def test_admins_of_their_own_pass():
    admins = [{"name": "alice", "ssh_keys": []}, "not a mapping", {"no": "name"}]
    assert input_rules.admins_as_app_accounts([app("notes"), app("admin")], admins) == []
    assert input_rules.admins_as_app_accounts([app("notes")], "not a list") == []


def test_an_admin_named_like_any_apps_account_is_refused():
    apps = [app("notes"), app("admin", user="admin-svc", group="staffers")]
    admins = [{"name": "admin-svc"}, {"name": "staffers"}, {"name": "notes"}, {"name": "admin"}]
    assert input_rules.admins_as_app_accounts(apps, admins) == [
        'users_admins: "admin-svc" is the app_user of app admin: an admin is never an app\'s account;'
        " give the admin or the app another name",
        'users_admins: "staffers" is the app_group of app admin: an admin is never an app\'s account;'
        " give the admin or the app another name",
        'users_admins: "notes" is the app_user of app notes: an admin is never an app\'s account;'
        " give the admin or the app another name",
    ]
