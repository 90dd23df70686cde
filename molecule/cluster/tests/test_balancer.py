"""The load balancer and the app servers behind it, as a client, an outsider and an operator see them.

The load balancer (the lb group) is the HTTPS front, with its certificate from Pebble; it
sends the app's requests to both app servers' nginx over the private network, and they
answer it alone. Checks from the controller go through its 443, published on 127.0.0.1.
"""

from __future__ import annotations

import shlex
import uuid
from pathlib import Path

import pytest
from conftest import DOMAIN, ROOT, address_of, kit

SITE_FILE = "/etc/nginx/apps/webapp.conf"
BACKEND_PORT = 8080


def through_lb(client, root: Path, path: str, *curl: str, resolve_to: str = "") -> str:
    """curl https://<domain><path> on client, through the load balancer, trusting Pebble's root (the fixture)."""
    resolve = f"--resolve {DOMAIN}:443:{resolve_to}" if resolve_to else ""
    return client.check_output(
        f"curl -sS --max-time 10 --cacert {ROOT} {resolve} {' '.join(curl)} https://{DOMAIN}{path}"
    )


def backend_hits(server, marker: str) -> int:
    """Requests for marker in the app server's nginx log."""
    return int(server.host.run(f"grep -c {marker} /var/log/nginx/webapp.access.log").stdout.strip() or 0)


# --- the front ----------------------------------------------------------------------------------


def test_the_load_balancer_serves_the_app_with_a_certificate_from_the_acme_server(lb, root):
    out = through_lb(lb, root, "/health", "-w '\\n%{http_code} %{http_version}'", resolve_to="127.0.0.1")
    body, status = out.rsplit("\n", 1)
    assert status == "200 2"
    assert '"release"' in body


def test_its_upstream_is_both_app_servers_with_passive_health_checks(lb, webs):
    site = lb.file(SITE_FILE).content_string
    for server in webs:
        assert f"server {address_of(server.host)}:{BACKEND_PORT} max_fails=1 fail_timeout=10s;" in site
    assert "unix:" not in site
    assert "proxy_next_upstream error timeout http_502;" in site


def test_requests_are_shared_by_both_app_servers(lb, root, webs):
    marker = f"share-{uuid.uuid4().hex[:8]}"
    for _ in range(20):
        through_lb(lb, root, f"/health?{marker}", "-o /dev/null", resolve_to="127.0.0.1")
    hits = [backend_hits(server, marker) for server in webs]
    assert sum(hits) == 20
    assert min(hits) >= 5, hits


# The outsider (Pebble's container) has no curl: Python's http.client, the chain checked.
FORGED_REQUEST = """
import http.client, socket, ssl, sys
address, name, root, path = sys.argv[1:5]
context = ssl.create_default_context(cafile=root)
connection = http.client.HTTPSConnection(name, timeout=10, context=context)
connection.sock = context.wrap_socket(socket.create_connection((address, 443), timeout=10), server_hostname=name)
connection.request("GET", path, headers={"Host": name, "X-Forwarded-For": "203.0.113.66"})
print(connection.getresponse().status)
"""


def test_the_app_servers_see_the_clients_address_not_a_forged_one(lb, outsider, root, webs):
    marker = f"client-{uuid.uuid4().hex[:8]}"
    for _ in range(4):
        status = outsider.check_output(
            f"python3 -c {shlex.quote(FORGED_REQUEST)} {address_of(lb)} {DOMAIN} {ROOT} /health?{marker}"
        )
        assert status == "200"
    client = address_of(outsider)
    for server in webs:
        nginx_lines = server.host.run(f"grep -h {marker} /var/log/nginx/webapp.access.log").stdout.splitlines()
        app_lines = server.host.run(f"grep -h {marker} /var/log/webapp/blue.log /var/log/webapp/green.log").stdout
        assert nginx_lines, f"no request reached {server.name}"
        assert all(line.startswith(f"{client} ") for line in nginx_lines), nginx_lines
        # Uvicorn's access log: the client as the app sees it (Gunicorn's forwarded_allow_ips).
        assert f"{client}:" in app_lines and "203.0.113.66" not in app_lines, app_lines


def test_the_load_balancer_is_the_only_front_with_a_certificate(lb, webs):
    assert lb.file("/etc/letsencrypt/live").is_directory
    for server in webs:
        assert not server.host.file("/etc/letsencrypt/live").exists
        assert not server.host.file("/etc/nginx/tls").exists


@kit.MOZILLA_PROFILES
def test_tls_is_compliant_with_mozilla_intermediate(root, profile):
    kit.assert_mozilla_compliant(DOMAIN, 44321, root, profile)


# --- the app servers answer the load balancer only ------------------------------------------------


def test_each_app_server_listens_for_it_on_its_private_address_only(webs):
    for server in webs:
        assert server.host.socket(f"tcp://{address_of(server.host)}:{BACKEND_PORT}").is_listening
        assert not server.host.socket(f"tcp://0.0.0.0:{BACKEND_PORT}").is_listening


def test_the_firewall_opens_the_backend_to_the_load_balancer_only(lb, webs):
    for server in webs:
        rules = server.host.check_output("ufw show added")
        assert f"ufw allow from {address_of(lb)} to any port {BACKEND_PORT} proto tcp" in rules
        assert rules.count(str(BACKEND_PORT)) == 1
        # No public web ports on an app server behind the load balancer.
        assert "80/tcp" not in rules and "443/tcp" not in rules, rules


def test_the_load_balancer_reaches_each_app_server(lb, webs):
    for server in webs:
        status = lb.check_output(
            f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 -H 'Host: {DOMAIN}'"
            f" http://{address_of(server.host)}:{BACKEND_PORT}/health"
        )
        assert status == "200"


def test_an_unknown_name_gets_no_answer_from_an_app_server(lb, web):
    result = lb.run(f"curl -s --max-time 5 -H 'Host: other.example.test' http://{address_of(web.host)}:{BACKEND_PORT}/")
    # nginx closes the connection without a response (444): curl's "empty reply".
    assert result.rc == 52


@pytest.mark.parametrize("port", [BACKEND_PORT, 80, 443])
def test_an_outsider_cannot_reach_an_app_server(outsider, web, port):
    # ufw drops the packets: the connection times out rather than being refused.
    result = outsider.run(f"timeout 5 bash -c '</dev/tcp/{address_of(web.host)}/{port}'")
    assert result.rc != 0


def test_the_backend_refuses_anyone_but_the_load_balancer_even_past_the_firewall(web, web2):
    # web2 is no load balancer: with the firewall opened to it for this test, nginx still says no.
    web.host.check_output(f"ufw allow from {address_of(web2.host)} to any port {BACKEND_PORT} proto tcp")
    try:
        status = web2.host.check_output(
            f"curl -s -o /dev/null -w '%{{http_code}}' --max-time 5 -H 'Host: {DOMAIN}'"
            f" -H 'X-Forwarded-For: 127.0.0.1' http://{address_of(web.host)}:{BACKEND_PORT}/health"
        )
    finally:
        web.host.check_output(f"ufw delete allow from {address_of(web2.host)} to any port {BACKEND_PORT} proto tcp")
    assert status == "403"
