"""What a browser, an auditor and an operator observe of the HTTPS front on each server.

Certificates come from Pebble (Let's Encrypt's ACME test server) in its own
container, which validated each server's HTTP-01 challenge through nginx. Checks
from the controller go through the server's 443, published on 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import re
import shutil
import socket
import ssl
import subprocess
import time

import pytest
from conftest import (
    LOADGEN,
    MOZILLA_PROFILES,
    PEBBLE_API_CA,
    assert_events_arrive_spread,
    assert_mozilla_compliant,
    run_playbook,
)
from websockets.sync.client import connect as connect_websocket

SERVER_ROOT = "/tmp/kit-pebble-root.pem"
# The app's site: nginx_site_name is the app's name (playbooks/vars/web.yml), webapp by default.
SITE_FILE = "/etc/nginx/apps/webapp.conf"
ANSWER_LOCALLY = "--resolve {d}:443:127.0.0.1 --resolve {d}:80:127.0.0.1"


@pytest.fixture(scope="module")
def site(host, tmp_path_factory) -> dict:
    """The server's domains, its published HTTPS port and Pebble's current issuing root (a file on the controller)."""
    variables = host.ansible.get_variables()
    root = host.check_output(f"curl -sS --fail --cacert {PEBBLE_API_CA} https://pebble:15000/roots/0")
    path = tmp_path_factory.mktemp("pebble") / "root.pem"
    path.write_text(root + "\n")
    # And on the server, for curl and the load generator there.
    host.run(f"cat > {SERVER_ROOT} <<'EOF'\n{root}\nEOF")
    return {
        "domains": variables["nginx_domains"],
        "port": int(variables["kit_test_https_port"]),
        "root": path,
        "csp": variables.get("nginx_content_security_policy", ""),
        "internal_allow": variables.get("nginx_internal_allow", []),
    }


def https_get(
    site: dict, path: str, name: str | None = None, method: str = "GET", **context_options
) -> http.client.HTTPResponse:
    """METHOD https://<name><path> from the controller via the published port; the chain must lead to Pebble's root."""
    name = name or site["domains"][0]
    context = ssl.create_default_context(cafile=str(site["root"]))
    for option, value in context_options.items():
        setattr(context, option, value)
    sock = socket.create_connection(("127.0.0.1", site["port"]), timeout=10)
    connection = http.client.HTTPSConnection(name, timeout=10, context=context)
    connection.sock = context.wrap_socket(sock, server_hostname=name)
    connection.request(method, path, headers={"Host": name})
    response = connection.getresponse()
    response.body = response.read()
    response.peer_cert = connection.sock.getpeercert()
    connection.close()
    return response


def local_curl(host, site: dict, arguments: str) -> str:
    """curl on the server itself, to its own nginx, trusting Pebble's root."""
    resolve = " ".join(ANSWER_LOCALLY.format(d=d) for d in site["domains"])
    return host.run(f"curl -sS --max-time 10 --cacert {SERVER_ROOT} {resolve} {arguments}")


def served_serial(host, site: dict) -> str:
    out = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {site['domains'][0]} </dev/null 2>/dev/null"
        " | openssl x509 -noout -serial"
    )
    return out.split("=", 1)[1]


# --- the site ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/health"])
def test_each_domain_serves_the_app_with_a_certificate_from_the_acme_server(site, path):
    for name in site["domains"]:
        response = https_get(site, path, name)
        assert response.status == 200, (name, response.body[:300])
    assert b"FastAPI kit under test" in https_get(site, "/").body
    assert json.loads(https_get(site, "/health").body)["status"] == "ok"


def test_certificate_names_every_domain_and_lasts_90_days(site):
    cert = https_get(site, "/health").peer_cert
    assert sorted(value for kind, value in cert["subjectAltName"] if kind == "DNS") == sorted(site["domains"])
    issuer = dict(item[0] for item in cert["issuer"])
    assert issuer["commonName"].startswith("Pebble Intermediate CA")
    lifetime = ssl.cert_time_to_seconds(cert["notAfter"]) - ssl.cert_time_to_seconds(cert["notBefore"])
    assert 89 * 86400 < lifetime <= 90 * 86400


def test_a_chain_to_another_root_is_refused(site):
    """The chain check above can fail: the system's roots do not know Pebble's."""
    context = ssl.create_default_context()
    with (
        socket.create_connection(("127.0.0.1", site["port"]), timeout=10) as sock,
        pytest.raises(ssl.SSLCertVerificationError),
    ):
        context.wrap_socket(sock, server_hostname=site["domains"][0])


def test_http_redirects_to_https_with_the_same_path(host, site):
    for name in site["domains"]:
        out = local_curl(host, site, f"-o /dev/null -w '%{{http_code}} %{{redirect_url}}' 'http://{name}/notes?x=1'")
        assert out.stdout == f"301 https://{name}/notes?x=1", out.stderr


def test_acme_challenges_are_served_on_port_80_not_redirected(host, site):
    host.run("install -d /var/www/acme/.well-known/acme-challenge")
    host.run("echo kit-token > /var/www/acme/.well-known/acme-challenge/kit-test-token")
    name = site["domains"][0]
    found = local_curl(host, site, f"-w ' %{{http_code}}' http://{name}/.well-known/acme-challenge/kit-test-token")
    missing = local_curl(host, site, f"-o /dev/null -w '%{{http_code}}' http://{name}/.well-known/acme-challenge/none")
    host.run("rm -f /var/www/acme/.well-known/acme-challenge/kit-test-token")
    assert found.stdout == "kit-token\n 200"
    assert missing.stdout == "404"


def test_the_site_is_a_file_of_its_own(host, site):
    """nginx.conf holds what the server shares; the app's site is its own file, which nginx.conf includes."""
    server = host.file("/etc/nginx/nginx.conf")
    site_file = host.file(SITE_FILE)
    assert (site_file.user, site_file.group, site_file.mode) == ("root", "root", 0o644)
    assert f"server_name {' '.join(site['domains'])};" in site_file.content_string
    assert "include /etc/nginx/apps/*.conf;" in server.content_string
    assert "server_name _;" in server.content_string and site["domains"][0] not in server.content_string


def test_http2_is_offered(host, site):
    out = local_curl(host, site, f"--http2 -o /dev/null -w '%{{http_version}}' https://{site['domains'][0]}/health")
    assert out.stdout == "2", out.stderr


# --- headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/health", "/static/style.css", "/no-such-page"])
def test_security_headers_on_every_response(site, path):
    headers = https_get(site, path).headers
    assert headers["Strict-Transport-Security"] == "max-age=63072000"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("path", ["/", "/docs", "/redoc"])
def test_the_apps_pages_keep_their_own_content_security_policy(site, path):
    """Only the app knows what its pages load: nginx neither replaces nor adds to their policy."""
    policies = https_get(site, path).headers.get_all("Content-Security-Policy") or []
    assert len(policies) == 1 and policies[0] != site["csp"], policies


@pytest.mark.parametrize("path", ["/health", "/static/style.css", "/no-such-page"])
def test_nginx_sets_a_content_security_policy_only_when_asked(site, path):
    """nginx_content_security_policy is set here; molecule/apps checks the default (none)."""
    policies = https_get(site, path).headers.get_all("Content-Security-Policy") or []
    assert policies == ([site["csp"]] if site["csp"] else []), policies


@pytest.mark.parametrize("path", ["/", "/health", "/static/style.css", "/docs", "/openapi.json"])
def test_head_answers_like_get(site, path):
    """Uptime monitors and link checkers send HEAD."""
    get = https_get(site, path)
    head = https_get(site, path, method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["Content-Type"] == get.headers["Content-Type"]


# --- WebSockets and streamed responses --------------------------------------------------------


def test_a_websocket_echoes_over_wss(host, site):
    """Upgrade passes through nginx (HTTP/1.1 upgrade on TLS), and the release that answered says hello."""
    name = site["domains"][0]
    context = ssl.create_default_context(cafile=str(site["root"]))
    sock = socket.create_connection(("127.0.0.1", site["port"]), timeout=10)
    started = time.monotonic()
    try:
        ws = connect_websocket(f"wss://{name}/ws/notes", sock=sock, ssl=context, server_hostname=name, open_timeout=30)
    except TimeoutError:
        # Seen once in several runs, not understood yet: what nginx and the app said meanwhile.
        live = json.loads(host.file("/var/lib/webapp/live.json").content_string)
        said = host.run(
            "tail -n 20 /var/log/nginx/error.log; tail -n 5 /var/log/nginx/webapp.access.log;"
            f" tail -n 30 /var/log/webapp/{live['color']}.log; supervisorctl status; uptime"
        )
        pytest.fail(
            f"no WebSocket handshake answer in {time.monotonic() - started:.1f} s; the server said:\n{said.stdout}"
        )
    with ws:
        hello = json.loads(ws.recv(timeout=10))
        assert hello["type"] == "hello" and hello["release"], hello
        ws.send("through nginx")
        assert json.loads(ws.recv(timeout=10)) == {"type": "echo", "text": "through nginx"}


def test_server_sent_events_arrive_as_they_are_produced(site):
    """nginx_streaming_locations: each event reaches the client when the app sends it, not at the end."""
    context = ssl.create_default_context(cafile=str(site["root"]))
    assert_events_arrive_spread(site["domains"][0], site["port"], context, "/api/events")


def test_ordinary_requests_keep_the_upstream_connection_alive(host):
    """Connection: upgrade only for upgrade requests; an empty one for the rest keeps keep-alive."""
    config = host.file(SITE_FILE).content_string
    assert re.search(r'map \$http_upgrade \$\w+_connection \{\s*default upgrade;\s*"" "";\s*\}', config)
    assert 'proxy_set_header Connection "";' not in config


# --- internal paths ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/metrics", "/metrics/", "/metrics?format=text"])
def test_metrics_are_refused_from_outside(site, path):
    """From the controller, through the published port: not the server, not on the allow-list."""
    response = https_get(site, path)
    assert response.status == 403
    assert b"# HELP" not in response.body


def test_metrics_answer_the_server_itself(host, site):
    """Over loopback (IPv4: Docker gives the test containers no IPv6 address; ::1 is allowed in the site's file)."""
    name = site["domains"][0]
    out = host.run(
        f"curl -sS --max-time 10 --cacert {SERVER_ROOT} --resolve {name}:443:127.0.0.1 "
        f"-w '\\n%{{http_code}}' https://{name}/metrics"
    )
    body, _, status = out.stdout.rpartition("\n")
    assert status == "200", (out.stdout[-300:], out.stderr)
    assert "# HELP" in body


def test_the_allow_list_reaches_nginx(host, site):
    assert site["internal_allow"], "the scenario sets nginx_internal_allow"
    config = host.file(SITE_FILE).content_string
    block = config[config.index("location ^~ /metrics {") :]
    block = block[: block.index("}")]
    allowed = re.findall(r"allow (\S+);", block)
    assert allowed == ["127.0.0.1", "::1", *site["internal_allow"]]
    assert "deny all;" in block


# --- FastAPI's docs in a real browser ---------------------------------------------------------


def test_docs_load_every_asset_from_the_same_origin(site):
    for path in ("/docs", "/redoc"):
        page = https_get(site, path).body.decode()
        assets = re.findall(r'(?:src|href)="([^"]+)"', page)
        assert assets, page[:500]
        for asset in assets:
            assert asset.startswith("/") and not asset.startswith("//"), (path, asset)
            assert https_get(site, asset).status == 200, (path, asset)


@pytest.mark.parametrize(("path", "rendered"), [("/docs", 'class="opblock '), ("/redoc", "List Notes")])
def test_docs_render_in_a_browser(site, path, rendered, tmp_path):
    """Headless Chromium on the controller, through nginx: the scripts ran and drew the API."""
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing (scripts/test installs it)"
    name = site["domains"][0]
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path}",
            f"--host-resolver-rules=MAP {name} 127.0.0.1",
            # The chain to Pebble's root is checked above; the browser has its own trust store.
            "--ignore-certificate-errors",
            "--virtual-time-budget=20000",
            "--dump-dom",
            f"https://{name}:{site['port']}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert rendered in result.stdout, (result.stdout[-2000:], result.stderr[-2000:])


def test_version_is_not_disclosed(site):
    for path in ("/health", "/no-such-page"):
        response = https_get(site, path)
        assert response.headers.get_all("Server") == ["nginx"]
        assert b"nginx/" not in response.body


def test_static_files_come_from_nginx_with_cache_headers(site):
    response = https_get(site, "/static/style.css")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/css")
    # expires 10m (the scenario's value): the app's own static route sends no max-age.
    assert response.headers["Cache-Control"] == "max-age=600"


def test_text_is_compressed(host, site):
    out = local_curl(host, site, f"-H 'Accept-Encoding: gzip' -o /dev/null -D - https://{site['domains'][0]}/")
    assert "content-encoding: gzip" in out.stdout.lower()


# --- other names get nothing ------------------------------------------------------------------


def test_unknown_sni_is_refused_in_the_handshake(site):
    with pytest.raises(ssl.SSLError):
        https_get(site, "/health", name="unknown.example.test")


def test_unknown_host_header_gets_no_app_response(host, site):
    name = site["domains"][0]
    over_http = local_curl(host, site, f"-H 'Host: unknown.example.test' http://{name}/health")
    over_https = local_curl(host, site, f"-H 'Host: unknown.example.test' https://{name}/health")
    for result in (over_http, over_https):
        assert result.rc != 0 and result.stdout == ""
    # curl 52: the server closed the connection without a reply (nginx's 444).
    assert over_http.rc == 52


# --- TLS --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("version", "accepted"), [("tls1_1", False), ("tls1_2", True), ("tls1_3", True)])
def test_only_tls_1_2_and_1_3_are_accepted(host, site, version, accepted):
    # SECLEVEL=0 lets the client offer old protocols, so the server is what refuses them.
    result = host.run(
        f"openssl s_client -connect 127.0.0.1:443 -servername {site['domains'][0]} -{version}"
        " -cipher 'DEFAULT:@SECLEVEL=0' </dev/null"
    )
    assert (result.rc == 0 and "Cipher is (NONE)" not in result.stdout) == accepted, result.stdout[-500:]


@MOZILLA_PROFILES
def test_tls_is_compliant_with_mozilla_intermediate(site, profile):
    assert_mozilla_compliant(site["domains"][0], site["port"], site["root"], profile)


# --- nothing else is exposed ------------------------------------------------------------------


def test_only_ssh_http_and_https_listen_on_public_interfaces(host):
    listeners = host.check_output("ss -Htuln").splitlines()
    public = set()
    for line in listeners:
        fields = line.split()
        local = fields[4]
        address, port = local.rsplit(":", 1)
        if address.strip("[]").split("%")[0] not in ("127.0.0.1", "::1") and not address.startswith("127."):
            public.add(f"{fields[0]}/{port}")
    assert public == {"tcp/22", "tcp/80", "tcp/443"}


def test_the_app_listens_on_a_unix_socket_only(host):
    live = host.file("/run/webapp/app.sock").linked_to
    assert host.socket(f"unix://{live}").is_listening
    assert "gunicorn" not in host.check_output("ss -Htulnp")


# --- certificates: issued once, renewed without a dropped request -----------------------------


def test_the_certificate_was_issued_once(host, site):
    """Converge and the idempotence run asked the CA once: the second run changed nothing."""
    archive = host.file(f"/etc/letsencrypt/archive/{site['domains'][0]}")
    assert sorted(f for f in archive.listdir() if f.startswith("cert")) == ["cert1.pem"]
    link = f"/etc/nginx/tls/{site['domains'][0]}/fullchain.pem"
    assert host.check_output(f"readlink {link}") == f"/etc/letsencrypt/live/{site['domains'][0]}/fullchain.pem"


def test_renewal_runs_by_itself(host):
    timer = host.service("certbot.timer")
    assert timer.is_enabled and timer.is_running
    hook = host.file("/etc/letsencrypt/renewal-hooks/deploy/50-reload-services")
    assert hook.mode == 0o755 and "systemctl try-reload-or-restart nginx" in hook.content_string


def test_renewal_dry_run_succeeds(host):
    # Without --server, a dry run goes to Let's Encrypt's staging CA instead of the certificate's own.
    server = host.ansible.get_variables()["certbot_acme_directory_url"]
    result = host.run(f"certbot renew --dry-run --no-random-sleep-on-renew --server {server}")
    assert result.rc == 0, result.stdout + result.stderr
    assert "Congratulations, all simulated renewals succeeded" in result.stdout + result.stderr


def test_forced_renewal_serves_a_new_certificate_without_dropping_a_request(host, site):
    name = site["domains"][0]
    before = served_serial(host, site)
    host.run("rm -f /tmp/kit-tls-load.stop")
    host.run(
        # The app's page (no database check, whose own 2 s timeout answers 503 when the CPU is starved).
        f"nohup python3 {LOADGEN} --connect 127.0.0.1:443 --tls --host {name} --path /"
        f" --cafile {SERVER_ROOT} --concurrency 2 --interval 0.05 --timeout 20"
        " --duration 120 --requests 100000"
        " --stop-file /tmp/kit-tls-load.stop > /tmp/kit-tls-load.json 2>/tmp/kit-tls-load.err &"
    )
    try:
        host.run("sleep 2")
        renewal = host.run(f"certbot renew --force-renewal --cert-name {name} --no-random-sleep-on-renew")
        assert renewal.rc == 0, renewal.stdout + renewal.stderr
        host.run("sleep 3")
    finally:
        host.run("touch /tmp/kit-tls-load.stop")
    wait = "for i in $(seq 60); do [ -s /tmp/kit-tls-load.json ] && break; sleep 0.5; done"
    summary = json.loads(host.check_output(f"{wait}; cat /tmp/kit-tls-load.json"))
    after = served_serial(host, site)
    assert after != before
    assert summary["requests"] > 50 and summary["failed"] == 0, summary


# --- a bad nginx input never lands ------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad", "config", "said"),
    [
        ({"nginx_extra_http_config": "proxy_pass http://nowhere;"}, "/etc/nginx/nginx.conf", "is not allowed here"),
        ({"nginx_client_max_body_size": "lots"}, SITE_FILE, '"client_max_body_size" directive invalid value'),
    ],
    ids=["server", "site"],
)
def test_an_invalid_nginx_config_is_refused_and_the_site_keeps_serving(host, site, bad, config, said):
    before = host.file(config).sha256sum
    result = run_playbook("web.yml", "--limit", host.backend.get_hostname(), "-e", json.dumps(bad), check=False)
    assert result.returncode != 0
    assert "failed to validate" in result.stdout and said in result.stdout, result.stdout[-3000:]
    assert host.file(config).sha256sum == before
    assert https_get(site, "/health").status == 200


def test_a_site_that_clashes_with_another_apps_site_is_refused(host, site):
    """The site is tested with the other apps' sites: one that took the rate limit zone it asks for stops it."""
    other = "/etc/nginx/apps/kit-test-other.conf"
    before = host.file(SITE_FILE).sha256sum
    host.run(f"echo 'limit_req_zone $binary_remote_addr zone=webapp:10m rate=1r/s;' > {other}")
    try:
        limited = json.dumps({"nginx_rate_limit_enabled": True})
        result = run_playbook("web.yml", "--limit", host.backend.get_hostname(), "-e", limited, check=False)
    finally:
        host.run(f"rm -f {other}")
    assert result.returncode != 0
    assert "failed to validate" in result.stdout, result.stdout[-3000:]
    assert 'limit_req_zone "webapp" is already bound' in result.stdout, result.stdout[-3000:]
    assert host.file(SITE_FILE).sha256sum == before
    assert https_get(site, "/health").status == 200


def test_rate_limit_when_switched_on(host, site):
    name = host.backend.get_hostname()
    limited = {"nginx_rate_limit_enabled": True, "nginx_rate_limit_rate": "1r/s", "nginx_rate_limit_burst": 2}
    url = f"https://{site['domains'][0]}/health"
    try:
        run_playbook("web.yml", "--limit", name, "-e", json.dumps(limited))
        burst = host.check_output(
            f"for i in $(seq 8); do curl -s -o /dev/null -w '%{{http_code}} ' --cacert {SERVER_ROOT}"
            f" --resolve {site['domains'][0]}:443:127.0.0.1 {url}; done"
        )
        codes = burst.split()
        # One request and a burst of two pass at once; at 1 r/s most of the rest get 429.
        assert codes[:3] == ["200"] * 3 and "429" in codes, codes
    finally:
        run_playbook("web.yml", "--limit", name)
    assert "limit_req" not in host.file(SITE_FILE).content_string
