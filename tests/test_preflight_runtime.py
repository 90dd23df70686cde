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
    assert_stopped(run_site(tmp_path, {}, drop=("app_repo_url",)), ["role app:", "app_repo_url"])


@pytest.mark.parametrize(
    ("group_vars", "expected"),
    [
        ({"app_python_version": "3.13"}, ['app_python_version: "3.13" is not a CPython version']),
        ({"pyenv_python_versions": ["3.13.5", "latest"]}, ['pyenv_python_versions: "latest" is not a CPython version']),
        (
            {"gunicorn_worker_class": "uvicorn.workers.UvicornWorker"},
            ["role gunicorn:", "gunicorn_worker_class", "uvicorn_worker.UvicornWorker"],
        ),
        ({"app_repo_url": "not a url"}, ['app_repo_url: "not a url" is not a git URL']),
        ({"gunicorn_module": "webapp.main"}, ['gunicorn_module: "webapp.main" is not an ASGI application']),
        ({"app_name": "Web App"}, ['app_name: "Web App" is not a name usable as a system user']),
        (
            {"app_python_version": "3.12.9"},
            ['app_python_version "3.12.9" is not one of pyenv_python_versions ["3.13.5"]'],
        ),
        ({"app_secret_env": {"API-TOKEN": "x" * 20}}, ['"API-TOKEN" is not an environment variable name']),
    ],
    ids=[
        "python-version",
        "pyenv-versions",
        "worker-class",
        "repo-url",
        "module",
        "app-name",
        "python-not-built",
        "env",
    ],
)
def test_bad_app_tier_input(tmp_path, group_vars, expected):
    assert_stopped(run_site(tmp_path, group_vars), expected)
