"""plugins/filter/apps.py: a server's apps, and where each input of an app comes from.

molecule/apps runs two apps on each server through these; here, the rules themselves.
"""

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

from apps import app_entries, app_input, app_names, chosen_apps, python_versions, server_app_inputs  # noqa: E402

DEFAULTS = {"app_name": "webapp", "app_env": {}, "gunicorn_workers": 0}


def test_without_apps_the_server_has_one_app_described_by_its_own_variables():
    assert app_entries(None) == [{}]
    assert app_names(None, {"app_name": "notes"}, "webapp") == ["notes"]
    assert app_names(None, {}, "webapp") == ["webapp"]


@pytest.mark.parametrize(
    ("apps", "message"),
    [
        ([], "non-empty list"),
        ("notes", "non-empty list"),
        ({"app_name": "notes"}, "non-empty list"),
        ([{"app_name": "notes"}, "admin"], "apps[1] must be a mapping"),
    ],
)
def test_apps_that_are_not_a_list_of_mappings_are_refused(apps, message):
    with pytest.raises(AnsibleFilterError, match=message.replace("[", r"\[").replace("]", r"\]")):
        app_entries(apps)


def test_an_input_is_the_apps_own_then_the_servers_then_the_roles_default():
    server = {"gunicorn_workers": 4}
    assert app_input({"gunicorn_workers": 8}, "gunicorn_workers", server, DEFAULTS) == 8
    assert app_input({}, "gunicorn_workers", server, DEFAULTS) == 4
    assert app_input({}, "app_env", server, DEFAULTS) == {}
    # A value the app sets wins even when it is empty or false.
    assert app_input({"gunicorn_workers": 0}, "gunicorn_workers", server, DEFAULTS) == 0


def test_an_input_nobody_sets_is_an_error_naming_it():
    with pytest.raises(AnsibleFilterError, match="app_repo_url is set neither"):
        app_input({}, "app_repo_url", {}, DEFAULTS)


def test_only_the_per_app_inputs_the_server_sets_are_taken():
    host = {"app_env": {"A": "1"}, "sshd_port": 22, "inventory_hostname": "web1"}
    assert server_app_inputs(host, ["app_env", "app_name"]) == {"app_env": {"A": "1"}}


def test_names_follow_the_order_of_apps_and_an_entry_may_take_the_servers_name():
    apps = [{"app_name": "notes"}, {"app_name": "admin"}]
    assert app_names(apps, {"app_name": "ignored"}, "webapp") == ["notes", "admin"]
    assert app_names([{}], {"app_name": "notes"}, "webapp") == ["notes"]


def test_apps_asking_for_the_same_python_share_it_and_other_versions_are_added():
    apps = [{"app_python_version": "3.12.11"}, {}, {"app_python_version": "3.13.5"}]
    assert python_versions(apps, {"app_python_version": "3.13.5"}, "3.13.5") == ["3.12.11", "3.13.5"]
    assert python_versions(None, {}, "3.13.5") == ["3.13.5"]


def test_versions_the_server_lists_itself_are_built_too():
    server = {"pyenv_python_versions": ["3.11.13"]}
    assert python_versions([{}], server, "3.13.5") == ["3.11.13", "3.13.5"]


def test_every_app_is_chosen_unless_one_is_named():
    assert chosen_apps(["notes", "admin"], "", [["notes", "admin"]]) == [0, 1]
    assert chosen_apps(["notes", "admin"], "admin", [["notes", "admin"]]) == [1]


def test_a_name_another_server_has_chooses_nothing_here():
    assert chosen_apps(["notes"], "admin", [["notes"], ["admin"]]) == []


def test_a_name_no_server_has_stops_the_run_and_lists_the_names():
    with pytest.raises(AnsibleFilterError, match=r"app=admn: no server .* \(apps here: admin, notes\)"):
        chosen_apps(["notes"], "admn", [["notes"], ["admin"]])
