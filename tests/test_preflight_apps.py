"""The preflight stops a bad list of apps before any host changes (see test_preflight.py).

Each app is checked with its inputs as its roles will see them (roles/apps): the entry's
own, else the server's, else the roles' defaults. The rules are unit-tested in
tests/test_app_rules.py; here, that site.yml runs them on a real inventory.
"""

import pytest
from test_preflight import run_site
from test_preflight_runtime import assert_stopped

NOTES = {
    "app_name": "notes",
    "app_repo_url": "https://git.example.test/notes.git",
    "nginx_domains": ["notes.example.test"],
}
ADMIN = {
    "app_name": "admin",
    "app_repo_url": "https://git.example.test/admin.git",
    "nginx_domains": ["admin.example.test"],
}
# The server's own app variables stay out when it lists apps.
NO_SERVER_APP = ("app_repo_url", "nginx_domains")


def test_two_good_apps_pass_preflight(tmp_path):
    result = run_site(tmp_path, {"apps": [NOTES, ADMIN]}, drop=NO_SERVER_APP)
    output = result.stdout + result.stderr
    assert "problem(s)" not in output, output[-3000:]
    # Past the preflight, the next play tries to connect.
    assert "UNREACHABLE" in output


@pytest.mark.parametrize(
    ("apps", "expected"),
    [
        (
            [NOTES, {**ADMIN, "nginx_domains": ["notes.example.test"]}],
            ['nginx_domains: "notes.example.test" is in apps[0] (notes) and apps[1] (admin)'],
        ),
        ([NOTES, {**ADMIN, "app_name": "notes"}], ["apps[0] (notes) and apps[1] (notes)"]),
        ([NOTES, {**ADMIN, "app_user": "notes"}], ["user"]),
        ([NOTES, {k: v for k, v in ADMIN.items() if k != "app_name"}], ["apps[1]", "app_name"]),
        ([NOTES, {**ADMIN, "nginx_worker_connections": 4096}], ["nginx_worker_connections is a setting of the server"]),
        (
            [NOTES, {**ADMIN, "app_repo_ulr": "x"}],
            ["app_repo_ulr is not an input of any role (a typo of app_repo_url?)"],
        ),
        ([NOTES, {**ADMIN, "app_name": "Admin"}], ['"Admin" is not a name usable as a system user']),
        # An app's own inputs against the per-app roles' specs, named by the app.
        ([NOTES, {**ADMIN, "gunicorn_workers": "many"}], ["app admin: role gunicorn:", "gunicorn_workers"]),
        ([NOTES, {k: v for k, v in ADMIN.items() if k != "app_repo_url"}], ["app admin: app_repo_url is required"]),
        ("notes", ["apps is not a list"]),
        ([NOTES, {**ADMIN, "app_name": "nginx"}], ['app nginx: app_name: "nginx" is a name the server already uses']),
        ([NOTES, {**ADMIN, "app_user": "alice"}], ['users_admins: "alice" is the app_user of app admin']),
    ],
    ids=[
        "same-domain",
        "same-name",
        "same-user",
        "unnamed",
        "server-setting",
        "typo",
        "bad-name",
        "spec",
        "required",
        "not-a-list",
        "named-like-a-service",
        "admin-as-app-user",
    ],
)
def test_a_bad_list_of_apps_stops_before_any_change(tmp_path, apps, expected):
    assert_stopped(run_site(tmp_path, {"apps": apps}, drop=NO_SERVER_APP), expected)


def test_an_app_no_server_has_stops_before_any_change(tmp_path):
    result = run_site(tmp_path, {"apps": [NOTES, ADMIN]}, drop=NO_SERVER_APP, extra=("-e", "app=admn"))
    assert_stopped(result, ["app=admn: no server of this run has an app of that name (apps: admin, notes)"])
