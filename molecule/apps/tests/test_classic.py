"""classic: requirements.txt, Gunicorn 23.0.0 pinned by the app, uvicorn.workers.UvicornWorker, health at /status."""

from __future__ import annotations

import json

import pytest
from conftest import https, https_response, live, site


@pytest.fixture(scope="module")
def target(host) -> dict:
    return site(host, "classic")


def test_it_serves_through_nginx(target):
    assert https(target, "GET", "/status") == (200, b"ok")
    status, body = https(target, "POST", "/items", {"name": "through the kit"})
    assert status in (200, 201), body
    assert any(item["name"] == "through the kit" for item in json.loads(https(target, "GET", "/items")[1]))


@pytest.mark.parametrize("path", ["/status", "/no-such-page"])
def test_nginx_adds_no_content_security_policy_unless_asked(target, path):
    """nginx_content_security_policy unset, the default: the app's responses pass as they are, with no
    policy of nginx's (molecule/default checks the policy when it is set)."""
    response, _ = https_response(target, "GET", path)
    assert response.getheader("Strict-Transport-Security") == "max-age=63072000"
    assert response.headers.get_all("Content-Security-Policy") is None


def test_the_apps_gunicorn_pin_wins_and_gets_only_options_it_knows(host):
    release = live(host, "classic")["release"]
    version = host.check_output(f"{release['venv']}/bin/python -c 'import gunicorn; print(gunicorn.__version__)'")
    assert version == "23.0.0"
    color = live(host, "classic")["color"]
    program = host.file(f"/etc/supervisor/conf.d/classic-{color}.conf").content_string
    assert "--control-socket" not in program
    assert f"--config /etc/classic/{color}.conf.py" in program
    assert 'worker_class = "uvicorn.workers.UvicornWorker"' in host.file(f"/etc/classic/{color}.conf.py").content_string


def test_its_settings_are_its_own_and_private(host):
    release = live(host, "classic")["release"]
    settings = host.file(release["env_file"])
    assert (settings.user, settings.group, settings.mode) == ("root", "classic", 0o640)
    assert settings.contains("SECRET_KEY=") and settings.contains("DATABASE_URL=")
    assert not settings.contains("APP_")
    # The database lives outside the release, where DATABASE_URL says.
    assert host.file("/srv/classic/shared/data/classic.db").exists


def test_it_runs_on_the_cpython_it_asks_for_next_to_the_default(host):
    release = live(host, "classic")["release"]
    python = host.check_output(f"{release['venv']}/bin/python -c 'import platform; print(platform.python_version())'")
    assert python == "3.11.2"
    # One pyenv build per version, shared by the apps that ask for it.
    assert sorted(host.check_output("ls /opt/pyenv/versions").split()) == ["3.11.2", "3.13.5"]
