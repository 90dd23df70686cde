"""The preflight stops bad input for the app tier before any host changes (see test_preflight.py)."""

import pytest
from test_preflight import run_site


def assert_stopped(result, fragments):
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "nothing was changed on any host" in output, output[-3000:]
    for fragment in fragments:
        assert fragment in output, output[-3000:]
    assert "UNREACHABLE" not in output


def test_missing_repo_url(tmp_path):
    assert_stopped(run_site(tmp_path, {}, drop=("app_repo_url",)), ["app webapp: app_repo_url is required and empty"])


@pytest.mark.parametrize(
    ("group_vars", "expected"),
    [
        ({"app_python_version": "3.13"}, ['app_python_version: "3.13" is not a CPython version']),
        ({"pyenv_python_versions": ["3.13.5", "latest"]}, ['pyenv_python_versions: "latest" is not a CPython version']),
        (
            {"gunicorn_worker_class": "UvicornWorker"},
            ['gunicorn_worker_class: "UvicornWorker" is not an importable worker class'],
        ),
        ({"gunicorn_health_path": "health"}, ['gunicorn_health_path: "health" is not a URL path']),
        ({"app_release_commands": {"migrate": "alembic upgrade head"}}, ["role app:", "app_release_commands", "list"]),
        (
            {"app_migrate_command": "alembic upgrade head"},
            ["app_migrate_command was replaced by app_release_commands"],
        ),
        ({"app_processes": [{"name": "worker"}]}, ["role gunicorn:", "command"]),
        (
            {"app_processes": [{"name": "blue", "command": "python -m worker"}]},
            ['app_processes: "blue" is not a process name'],
        ),
        ({"app_install": "poetry"}, ["role app:", "app_install", "uv"]),
        ({"app_repo_url": "not a url"}, ['app_repo_url: "not a url" is not a git URL']),
        ({"gunicorn_module": "webapp.main"}, ['gunicorn_module: "webapp.main" is not an ASGI application']),
        ({"app_name": "Web App"}, ['app_name: "Web App" is not a name usable as a system user']),
        ({"app_secret_env": {"API-TOKEN": "x" * 20}}, ['"API-TOKEN" is not an environment variable name']),
    ],
    ids=[
        "python-version",
        "pyenv-versions",
        "worker-class",
        "health-path",
        "release-commands-type",
        "migrate-command-renamed",
        "process-without-command",
        "process-named-like-a-color",
        "install-method",
        "repo-url",
        "module",
        "app-name",
        "env",
    ],
)
def test_bad_app_tier_input(tmp_path, group_vars, expected):
    assert_stopped(run_site(tmp_path, group_vars), expected)


@pytest.mark.parametrize(
    "group_vars",
    [
        # What the FastAPI docs and most books show: deprecated by Uvicorn, still works.
        {"gunicorn_worker_class": "uvicorn.workers.UvicornWorker"},
        # An app's own settings without any name of the kit's, and no SQLite copy.
        {"app_env": {"DATABASE_URL": "postgresql://db/app"}, "app_sqlite_path": ""},
        {"gunicorn_health_path": "/healthz", "gunicorn_health_release_key": ""},
        {"app_release_commands": ["python -m taskboard.migrate", "python manage.py check"]},
        {"app_processes": [{"name": "worker", "command": "python -m taskboard.worker", "numprocs": 2}]},
        {"app_install": "uv"},
    ],
    ids=["deprecated-uvicorn-worker", "own-settings", "other-health-path", "release-commands", "processes", "uv"],
)
def test_an_apps_own_choices_pass_preflight(tmp_path, group_vars):
    output = (result := run_site(tmp_path, group_vars)).stdout + result.stderr
    assert "problem(s)" not in output, output[-3000:]
    assert "UNREACHABLE" in output
