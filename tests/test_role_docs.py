"""scripts/role-docs: the rules it renders a spec by, and its check of a README edited by hand."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import role_docs  # noqa: E402


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("webapp", "webapp"),
        ("", '""'),
        ("no", '"no"'),  # YAML would read a bool
        ("*", '"*"'),  # an alias
        ("04:00", '"04:00"'),  # a time: 14:30 unquoted is a number
        ("3.13.5", '"3.13.5"'),  # a version
        ("{{ app_name }}", '"{{ app_name }}"'),  # a flow mapping unquoted
        ("/srv/{{ app_name }}", "/srv/{{ app_name }}"),
        (0, "0"),
        (True, "true"),
        ([], "[]"),
        ({}, "{}"),
        (["root", "::1", "a,b"], '[root, "::1", "a,b"]'),
        (["{{ app_user | default('webapp') }}"], "[\"{{ app_user | default('webapp') }}\"]"),
        ({"name": "worker", "numprocs": 2}, "{name: worker, numprocs: 2}"),
    ],
)
def test_a_default_is_shown_as_it_is_written_in_yaml(value, shown):
    assert role_docs.yaml_value(value) == shown
    assert yaml.safe_load(shown) == value


@pytest.mark.parametrize(
    ("text", "markdown"),
    [
        ("C(gunicorn.conf.py) settings", "`gunicorn.conf.py` settings"),
        (
            "default O(sshd_port), V(22) or U(https://example.test/)",
            "default `sshd_port`, `22` or `https://example.test/`",
        ),
        ("I(never) B(ever)", "*never* **ever**"),
        ("see L(the docs,https://example.test/docs)", "see [the docs](https://example.test/docs)"),
        ("a DOC(x) stays", "a DOC(x) stays"),
    ],
)
def test_ansible_doc_markup_becomes_markdown(text, markdown):
    assert role_docs.markup(text) == markdown


def test_a_cell_is_one_line_with_pipes_escaped():
    shown = role_docs.cell('`"{{ sshd_port | default(22) }}"`\n  and more')
    assert shown == '`"{{ sshd_port \\| default(22) }}"` and more'


def test_a_row_carries_type_default_choices_and_entry_point():
    option = {"type": "list", "elements": "str", "default": ["a"], "description": ["One.", "C(two)"], "choices": ["a"]}
    (row,) = role_docs.table({"x_items": option}, "Variable", {"x_items": ["rollback"]}, 2)[2:]
    assert row == "| `x_items` | list of str | `[a]` | One. `two` One of: `a`. Only for `tasks_from: rollback`. |"


def test_choices_the_description_names_are_not_repeated():
    option = {"description": "C(auto) or C(uv).", "choices": ["auto", "uv"]}
    assert role_docs.meaning(option, ["main"], 1) == "`auto` or `uv`."


def test_an_option_stated_twice_must_be_stated_alike(tmp_path):
    role = tmp_path / "x"
    (role / "meta").mkdir(parents=True)
    spec = {"main": {"options": {"x_a": {"type": "int", "default": 1}}}}
    spec["other"] = {"options": {"x_a": {"type": "int", "default": 2}}}
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump({"argument_specs": spec}))
    with pytest.raises(role_docs.SpecError, match="x_a differs between the entry points"):
        role_docs.role_options(role)


def role_docs_command(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, str(ROOT / "scripts" / "role_docs.py"), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_every_readme_is_up_to_date():
    result = role_docs_command("--check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_readme_edited_by_hand_fails_the_check_and_is_regenerated(tmp_path):
    role = tmp_path / "gunicorn"
    shutil.copytree(ROOT / "roles" / "gunicorn", role)
    readme = role / "README.md"
    generated = readme.read_text()
    row = "| `gunicorn_max_requests` | int | `{}` |"
    readme.write_text(generated.replace(row.format(0), row.format(2000)))

    check = role_docs_command("--check", str(role))
    assert check.returncode == 1
    assert "-| `gunicorn_max_requests` | int | `2000` |" in check.stdout
    assert "+| `gunicorn_max_requests` | int | `0` |" in check.stdout
    assert "run scripts/role-docs" in check.stderr

    assert role_docs_command(str(role)).returncode == 0
    assert readme.read_text() == generated
    assert role_docs_command(str(role)).stdout == ""  # a second run changes nothing
    assert role_docs_command("--check", str(role)).returncode == 0


def test_a_readme_without_the_markers_is_an_error(tmp_path):
    role = tmp_path / "sshd"
    shutil.copytree(ROOT / "roles" / "sshd", role)
    readme = role / "README.md"
    readme.write_text(readme.read_text().replace(role_docs.START, ""))
    result = role_docs_command("--check", str(role))
    assert result.returncode == 2
    assert "lacks the markers" in result.stderr


# --- the apps role's generated files -----------------------------------------------------


def test_the_apps_roles_files_are_up_to_date():
    assert role_docs.stale_apps_files() == []


def test_every_per_app_input_is_worked_out_once_for_each_app():
    inputs = role_docs.app_inputs()
    task = yaml.safe_load(role_docs.APPS_TASK.read_text())[0]
    mapped = {name for name in task["vars"] if not name.startswith("__")}
    assert mapped == set(inputs)
    # Each from its own role's defaults: a name in two roles would be a wrong fallback.
    for name, role in inputs.items():
        assert f"__apps_defaults_{role})" in task["vars"][name], name
    # What the playbooks set themselves stays theirs: an entry of apps cannot change it.
    assert not set(inputs) & role_docs.playbook_keys()
    assert {"gunicorn_app_name", "nginx_site_name", "certbot_domains"} <= role_docs.playbook_keys()


def test_server_inputs_and_app_inputs_do_not_overlap():
    inputs = role_docs.app_inputs()
    others = role_docs.other_inputs(inputs)
    assert not set(inputs) & set(others)
    assert {"nginx_worker_connections", "pyenv_python_versions", "sshd_port", "apt_lock_timeout"} <= set(others)
    assert {"app_repo_url", "nginx_domains", "certbot_email", "app_processes"} <= set(inputs)


def test_a_per_app_entry_point_a_role_lacks_is_an_error(monkeypatch):
    monkeypatch.setitem(role_docs.PER_APP_ENTRY_POINTS, "app", ("main", "deploy"))
    with pytest.raises(role_docs.SpecError, match="app: no entry point deploy"):
        role_docs.app_inputs()
