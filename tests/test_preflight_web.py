"""The preflight stops bad input for the HTTPS front before any host changes (see test_preflight.py)."""

import pytest
from test_preflight import run_site
from test_preflight_runtime import assert_stopped


@pytest.mark.parametrize(
    ("group_vars", "drop", "expected"),
    [
        ({"nginx_domains": []}, (), ["app webapp: nginx_domains is required and empty"]),
        ({}, ("nginx_domains",), ["app webapp: nginx_domains is required and empty"]),
        (
            {"nginx_domains": ["app.example.test", "bad_name!.example"]},
            (),
            ['"bad_name!.example" is not a domain name'],
        ),
        ({"nginx_domains": ["App.Example.test"]}, (), ['"App.Example.test" is not a domain name']),
        ({"nginx_domains": ["app.example.test", "app.example.test"]}, (), ["nginx_domains lists a name twice"]),
        (
            {"certbot_email": "ops-at-example.test"},
            (),
            ['certbot_email: "ops-at-example.test" is not an e-mail address'],
        ),
        ({}, ("certbot_email",), ["app webapp: certbot_email is required and empty"]),
        ({"certbot_agree_tos": False}, (), ["certbot_agree_tos is not true"]),
        ({"certbot_acme_directory_url": "http://acme.example.test/dir"}, (), ["is not an https:// ACME directory URL"]),
        ({"certbot_key_type": "dsa"}, (), ["app webapp: role certbot certificate:", "certbot_key_type", "ecdsa"]),
        ({"nginx_rate_limit_enabled": "sometimes"}, (), ["role nginx site:", "nginx_rate_limit_enabled", "bool"]),
        (
            {"nginx_internal_allow": ["10.0.0.0/8", "10.0.0.1; allow all"]},
            (),
            ['nginx_internal_allow: "10.0.0.1; allow all" is not an IPv4 or IPv6 address'],
        ),
        (
            {"nginx_internal_locations": ["/metrics", "metrics { }"]},
            (),
            ['nginx_internal_locations: "metrics { }" is not a URL path'],
        ),
        (
            {"nginx_internal_allow": {"prometheus": "10.0.0.1"}},
            (),
            ["role nginx site:", "nginx_internal_allow", "list"],
        ),
        ({"apt_lock_timeout": "a minute"}, (), ['apt_lock_timeout: "a minute" is not a number of seconds']),
    ],
    ids=[
        "no-domains",
        "domains-missing",
        "invalid-domain",
        "uppercase-domain",
        "duplicate-domain",
        "malformed-email",
        "email-missing",
        "terms-not-agreed",
        "plain-http-directory",
        "key-type",
        "toggle-type",
        "internal-allow-injection",
        "internal-location-not-a-path",
        "internal-allow-not-a-list",
        "apt-lock-timeout",
    ],
)
def test_bad_web_input_stops_before_any_change(tmp_path, group_vars, drop, expected):
    assert_stopped(run_site(tmp_path, group_vars, drop=drop), expected)
