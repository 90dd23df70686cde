#!/usr/bin/python
"""What certbot has for one certificate name, and whether it must be requested (or replaced): one read."""

import os
import re

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: certbot_lineage
short_description: Read one certificate certbot keeps, and decide whether to request it
description:
  - >-
    Reads certbot's renewal file for O(name) (the ACME server it came from, where its
    certificate is) and that certificate (its names and its key type), as
    C(certbot certificates --cert-name) tells them, without starting certbot: that
    takes most of a second on a small server, a file read takes none.
  - >-
    Then says what the role does with it: RV(request) when there is no certificate or
    it is not for exactly O(domains); RV(replace) (request with C(--force-renewal))
    when there is one but from another ACME server than O(server) or with another key
    type than O(key_type), although it is still valid.
  - Never changes anything; runs in check mode as well.
options:
  name:
    description: The certificate's name in certbot (C(--cert-name)); the kit's is its first domain.
    type: str
    required: true
  domains:
    description: The names the certificate must be for, in any order.
    type: list
    elements: str
    required: true
  server:
    description: The ACME directory URL it must come from.
    type: str
    required: true
  key_type:
    description: The key type it must have.
    type: str
    required: true
    choices: [ecdsa, rsa]
  config_dir:
    description: certbot's configuration directory.
    type: path
    default: /etc/letsencrypt
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Read what certbot has for the certificate
  certbot_lineage:
    name: app.example.com
    domains: [app.example.com, www.app.example.com]
    server: https://acme-v02.api.letsencrypt.org/directory
    key_type: ecdsa
  register: lineage
"""

RETURN = r"""
exists:
  description: Whether certbot has a certificate of that name (its renewal file and certificate).
  type: bool
  returned: always
domains:
  description: The names on the certificate (its subject's common name first, then the others), empty without one.
  type: list
  elements: str
  returned: always
server:
  description: The ACME server of the renewal file, empty without one.
  type: str
  returned: always
key_type:
  description: C(ecdsa) or C(rsa), the certificate's key; empty without one.
  type: str
  returned: always
request:
  description: Whether to ask the ACME server for the certificate.
  type: bool
  returned: always
replace:
  description: Whether the request must replace a valid certificate (C(--force-renewal)).
  type: bool
  returned: always
reason:
  description: Why, in words.
  type: str
  returned: always
"""

SETTING = re.compile(r"^\s*([A-Za-z_]+)\s*=\s*(.*?)\s*$")


def renewal_settings(text: str) -> dict[str, str]:
    """The top-level and [renewalparams] settings of a certbot renewal file (ConfigObj syntax)."""
    settings: dict[str, str] = {}
    section = ""
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped
            continue
        match = SETTING.match(line)
        if match and section in ("", "[renewalparams]"):
            settings.setdefault(match[1], match[2])
    return settings


def certificate_facts(pem: bytes) -> tuple[list[str], str]:
    """The names on a PEM certificate, as certbot lists them (common name, then the DNS names), and its key type."""
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import NameOID

    certificate = x509.load_pem_x509_certificate(pem)
    names = [attribute.value for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    try:
        extension = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names += extension.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    key = certificate.public_key()
    key_type = ""
    if isinstance(key, ec.EllipticCurvePublicKey):
        key_type = "ecdsa"
    elif isinstance(key, rsa.RSAPublicKey):
        key_type = "rsa"
    return list(dict.fromkeys(str(name).lower() for name in names)), key_type


def decide(have: list[str], server: str, key_type: str, want: list[str], want_server: str, want_key: str):
    """(request, replace, reason) for a certificate with have names (none: no certificate).

    Another ACME server or another key type replaces the certificate (C(--force-renewal)) whether
    or not its names change too: certbot would otherwise keep a valid certificate of the same names.
    """
    if not have:
        return True, False, "no certificate yet"
    reasons = []
    if sorted(have) != sorted(name.lower() for name in want):
        reasons.append(f"the certificate is for {', '.join(have)}")
    replace_reasons = []
    if server != want_server:
        replace_reasons.append(f"it came from {server or 'an unknown ACME server'}")
    if key_type != want_key:
        replace_reasons.append(f"its key is {key_type or 'of an unknown type'}")
    reasons += replace_reasons
    if not reasons:
        return False, False, "the certificate is for these names, from this ACME server, with this key type"
    return True, bool(replace_reasons), "; ".join(reasons)


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "domains": {"type": "list", "elements": "str", "required": True},
            "server": {"type": "str", "required": True},
            "key_type": {"type": "str", "required": True, "choices": ["ecdsa", "rsa"]},
            "config_dir": {"type": "path", "default": "/etc/letsencrypt"},
        },
        supports_check_mode=True,
    )
    params = module.params
    config_dir = params["config_dir"]
    settings: dict[str, str] = {}
    names: list[str] = []
    key_type = ""
    try:
        with open(os.path.join(config_dir, "renewal", f"{params['name']}.conf"), encoding="utf-8") as renewal:
            settings = renewal_settings(renewal.read())
        cert = settings.get("cert") or os.path.join(config_dir, "live", params["name"], "cert.pem")
        with open(cert, "rb") as pem:
            data = pem.read()
    except FileNotFoundError:
        data = b""
    if data:
        try:
            names, key_type = certificate_facts(data)
        except ImportError:
            module.fail_json(msg="cannot read the certificate: python3-cryptography is missing (certbot installs it)")
        except ValueError as error:
            module.fail_json(msg=f"certbot's certificate {params['name']} cannot be read: {error}")
    request, replace, reason = decide(
        names, settings.get("server", ""), key_type, params["domains"], params["server"], params["key_type"]
    )
    module.exit_json(
        changed=False,
        exists=bool(names),
        domains=names,
        server=settings.get("server", "") if names else "",
        key_type=key_type,
        request=request,
        replace=replace,
        reason=reason,
    )


if __name__ == "__main__":
    main()
