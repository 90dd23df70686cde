"""plugins/modules/certbot_lineage.py: what certbot has for a certificate name, and whether the role
requests it, read from a renewal file as certbot 2.1 writes it and from real certificates.

The certificates here are made with cryptography, as an ACME server makes them; Pebble's own go
through the module in molecule/default (the first issuance, then runs that request nothing).
"""

import datetime
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from module_runner import run_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modules"))

import certbot_lineage  # noqa: E402

SERVER = "https://pebble:14000/dir"
# Written by certbot 2.1.0 (Debian 12) for the sandbox's certificate.
RENEWAL = """# renew_before_expiry = 30 days
version = 2.1.0
archive_dir = {config}/archive/app.example.test
cert = {config}/live/app.example.test/cert.pem
privkey = {config}/live/app.example.test/privkey.pem
chain = {config}/live/app.example.test/chain.pem
fullchain = {config}/live/app.example.test/fullchain.pem

# Options used in the renewal process
[renewalparams]
account = 1fc0c6ed05bfa936b9677fae2db4c652
key_type = ecdsa
elliptic_curve = secp256r1
server = {server}
authenticator = webroot
webroot_path = /var/www/acme,
[[webroot_map]]
app.example.test = /var/www/acme
"""


def certificate(names: list[str], *, key: str = "ecdsa", common_name: bool = True) -> bytes:
    private = ec.generate_private_key(ec.SECP256R1()) if key == "ecdsa" else rsa.generate_private_key(65537, 2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])] if common_name else [])
    now = datetime.datetime.now(datetime.UTC)
    built = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")]))
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .sign(private, hashes.SHA256())
    )
    return built.public_bytes(serialization.Encoding.PEM)


def lineage(tmp_path: Path, pem: bytes | None, *, server: str = SERVER, renewal: bool = True, **wanted) -> dict:
    """The module's result, with certbot's directory holding pem (None: no certificate file)."""
    config = tmp_path / "letsencrypt"
    (config / "renewal").mkdir(parents=True, exist_ok=True)
    (config / "live" / "app.example.test").mkdir(parents=True, exist_ok=True)
    if renewal:
        (config / "renewal" / "app.example.test.conf").write_text(RENEWAL.format(config=config, server=server))
    if pem is not None:
        (config / "live" / "app.example.test" / "cert.pem").write_bytes(pem)
    arguments = {
        "name": "app.example.test",
        "domains": ["app.example.test"],
        "server": SERVER,
        "key_type": "ecdsa",
        "config_dir": str(config),
    } | wanted
    return run_module("certbot_lineage", tmp_path, arguments, check=True)


def test_the_certificate_as_asked_is_not_requested(tmp_path):
    result = lineage(tmp_path, certificate(["app.example.test"]))
    assert not result.get("failed"), result
    assert (result["exists"], result["request"], result["replace"]) == (True, False, False)
    assert result["domains"] == ["app.example.test"]
    assert (result["server"], result["key_type"]) == (SERVER, "ecdsa")
    assert result["changed"] is False


def test_no_certificate_is_requested(tmp_path):
    for renewal, pem in ((False, None), (True, None)):
        result = lineage(tmp_path / str(renewal), pem, renewal=renewal)
        assert (result["exists"], result["request"], result["replace"]) == (False, True, False), result
        assert result["reason"] == "no certificate yet"


def test_a_certificate_without_its_renewal_file_is_not_one_certbot_has(tmp_path):
    result = lineage(tmp_path, certificate(["app.example.test"]), renewal=False)
    assert (result["exists"], result["request"]) == (False, True)


def test_other_names_are_requested_without_forcing(tmp_path):
    result = lineage(tmp_path, certificate(["app.example.test"]), domains=["app.example.test", "www.example.test"])
    assert (result["request"], result["replace"]) == (True, False)
    assert result["reason"] == "the certificate is for app.example.test"


def test_the_same_names_in_another_order_or_case_are_the_same(tmp_path):
    pem = certificate(["app.example.test", "www.example.test"])
    result = lineage(tmp_path, pem, domains=["WWW.example.test", "app.example.test"])
    assert result["request"] is False, result
    assert result["domains"] == ["app.example.test", "www.example.test"]


def test_another_acme_server_replaces_a_valid_certificate(tmp_path):
    result = lineage(tmp_path, certificate(["app.example.test"]), server="https://acme-staging.example/dir")
    assert (result["request"], result["replace"]) == (True, True)
    assert result["reason"] == "it came from https://acme-staging.example/dir"


def test_another_key_type_replaces_a_valid_certificate(tmp_path):
    result = lineage(tmp_path, certificate(["app.example.test"], key="rsa"))
    assert (result["key_type"], result["request"], result["replace"]) == ("rsa", True, True)
    assert lineage(tmp_path / "rsa", certificate(["app.example.test"], key="rsa"), key_type="rsa")["request"] is False


def test_a_certificate_without_a_common_name_lists_its_other_names(tmp_path):
    pem = certificate(["a.example.test", "b.example.test"], common_name=False)
    names, key_type = certbot_lineage.certificate_facts(pem)
    assert (names, key_type) == (["a.example.test", "b.example.test"], "ecdsa")


def test_a_broken_certificate_fails_with_its_name(tmp_path):
    result = lineage(tmp_path, b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    assert result["failed"] is True
    assert result["msg"].startswith("certbot's certificate app.example.test cannot be read")


@pytest.mark.parametrize(
    ("text", "server"),
    [
        (RENEWAL.format(config="/etc/letsencrypt", server=SERVER), SERVER),
        # a server in another section is not the certificate's
        ("[renewalparams]\nkey_type = rsa\n[[webroot_map]]\nserver = https://elsewhere/dir\n", None),
    ],
)
def test_renewal_settings(text, server):
    assert certbot_lineage.renewal_settings(text).get("server") == server
