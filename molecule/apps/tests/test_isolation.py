"""Two apps on one server: each its own domain, certificate, user and files; neither reaches the other's.

Checked as the apps' users and their clients would: through nginx by name, and on the
server as each app's own system user.
"""

from __future__ import annotations

import socket
import ssl

import pytest
from conftest import HEALTH, https, live, site, socket_of, tls_socket

APPS = ("taskboard", "classic")
OTHER = {"taskboard": "classic", "classic": "taskboard"}
# Where each app's entry in apps puts its SQLite file (app_sqlite_path).
DATABASES = {"taskboard": "/srv/taskboard/shared/data/taskboard.db", "classic": "/srv/classic/shared/data/classic.db"}


@pytest.mark.parametrize("app", APPS)
def test_each_app_answers_at_its_own_name_with_its_own_certificate(host, app):
    target = site(host, app)
    status, _body = https(target, "GET", HEALTH[app])
    assert status == 200
    with tls_socket(target) as tls:
        certificate = tls.getpeercert()
    names = [value for kind, value in certificate["subjectAltName"] if kind == "DNS"]
    assert names == [target["name"]]
    assert "Pebble" in dict(part[0] for part in certificate["issuer"])["commonName"]


def test_a_name_no_app_has_gets_no_certificate_and_no_answer(host):
    target = site(host, "taskboard")
    unknown = target["name"].replace("taskboard", "nobody")
    with pytest.raises(ssl.SSLError):
        raw = socket.create_connection(("127.0.0.1", target["port"]), timeout=10)
        target["context"].wrap_socket(raw, server_hostname=unknown).close()
    # Over plain HTTP too: nginx closes the connection (444) for an unknown Host.
    http = host.run(f"curl -sS -o /dev/null -w '%{{http_code}}' -H 'Host: {unknown}' http://127.0.0.1/")
    assert http.stdout == "000" and http.rc != 0


@pytest.mark.parametrize("app", APPS)
def test_an_apps_user_cannot_read_the_others_settings_database_or_socket(host, app):
    other = OTHER[app]
    release = live(host, other)["release"]
    as_app = f"runuser -u {app} --"
    # Its settings (the secret key of classic, for one), its database, its socket.
    assert host.run(f"{as_app} cat {release['env_file']}").rc != 0
    database = DATABASES[other]
    assert host.file(database).exists
    assert host.run(f"{as_app} cat {database}").rc != 0
    assert host.run(f"{as_app} ls /srv/{other}/shared/data").rc != 0
    reach = f"{as_app} curl -sS --max-time 5 --unix-socket {socket_of(other)} http://localhost{HEALTH[other]}"
    assert host.run(reach).rc != 0
    # Its own, it can (the same commands are not refused for everyone).
    assert host.run(f"{as_app} cat {live(host, app)['release']['env_file']}").rc == 0


@pytest.mark.parametrize("app", APPS)
def test_each_app_has_its_own_account_directories_and_programs(host, app):
    user = host.user(app)
    assert user.shell == "/usr/sbin/nologin"
    assert user.group == app and OTHER[app] not in user.groups
    # Code belongs to root; only shared/ (data, settings' secrets) to the app's user.
    base = host.file(f"/srv/{app}")
    assert base.is_directory and base.user == "root" and base.mode & 0o022 == 0
    shared = host.file(f"/srv/{app}/shared")
    assert (shared.user, shared.group, shared.mode) == (app, app, 0o750)
    programs = host.check_output("supervisorctl status").splitlines()
    own = sorted(line.split()[0] for line in programs if line.startswith(f"{app}-"))
    color = live(host, app)["color"]
    assert f"{app}-{color}" in own
    site_file = host.file(f"/etc/nginx/apps/{app}.conf")
    assert site_file.exists and site_file.contains(f"server unix:{socket_of(app)}")
