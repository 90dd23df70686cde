"""The decisions of plugins/modules/ufw_firewall.py: what ufw must be told, and what is already so.

The module itself runs against a real ufw in molecule/default and molecule/ssh (check
mode on a fresh server, converge, idempotence, and the rules ufw then lists). Rules
reach these functions in ufw's own words, as ufw's parser prints them on a host.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modules"))

import ufw_firewall  # noqa: E402

SHOW_ADDED = """Added user rules (see 'ufw status' for running firewall):
ufw limit 22/tcp comment 'SSH'
ufw allow 80/tcp comment 'Web'
ufw allow 443/tcp comment 'Web'
ufw allow from 10.0.0.0/8 to any port 9100 proto tcp comment 'Metrics'
"""
CURRENT = ufw_firewall.added_rules(SHOW_ADDED)
ON = {"incoming": "deny", "outgoing": "allow", "logging": "low", "enabled": True}
SSH = ("limit 22/tcp comment 'SSH'", ["limit", "from", "any", "to", "any", "port", "22", "proto", "tcp"], False)
WEB = ("allow 80/tcp comment 'Web'", ["allow", "from", "any", "to", "any", "port", "80", "proto", "tcp"], False)


def rule(**given):
    return {"rule": "allow", "proto": "tcp", "from": "any", "comment": None, "delete": False} | given


def test_added_rules_are_read_without_the_heading():
    assert CURRENT == [
        "limit 22/tcp comment 'SSH'",
        "allow 80/tcp comment 'Web'",
        "allow 443/tcp comment 'Web'",
        "allow from 10.0.0.0/8 to any port 9100 proto tcp comment 'Metrics'",
    ]


def test_no_added_rules():
    assert ufw_firewall.added_rules("Added user rules (see 'ufw status' for running firewall):\n(None)\n") == []


@pytest.mark.parametrize(
    ("given", "args"),
    [
        pytest.param(rule(port="80"), ["allow", "from", "any", "to", "any", "port", "80", "proto", "tcp"], id="plain"),
        pytest.param(rule(port="53", proto="any"), ["allow", "from", "any", "to", "any", "port", "53"], id="any-proto"),
        pytest.param(
            rule(port="9100", comment="Metrics x", **{"from": "10.0.0.0/8"}),
            ["allow", "from", "10.0.0.0/8", "to", "any", "port", "9100", "proto", "tcp", "comment", "Metrics x"],
            id="source-and-comment",
        ),
    ],
)
def test_rule_args(given, args):
    assert ufw_firewall.rule_args(given) == args


def test_a_rule_to_delete_is_named_without_its_comment():
    assert "comment" not in ufw_firewall.rule_args(rule(port="80", comment="Web"), with_comment=False)


def test_a_host_as_asked_needs_nothing():
    assert ufw_firewall.plan([SSH, WEB], CURRENT, ON, ON) == []


def test_a_missing_rule_is_added():
    metrics = ("allow from 10.1.0.0/16 to any port 9100 proto tcp", ["allow", "..."], False)
    assert ufw_firewall.plan([SSH, metrics], CURRENT, ON, ON) == [["allow", "..."]]


def test_another_comment_or_action_is_a_change_ufw_makes_in_place():
    renamed = ("allow 80/tcp comment 'HTTP'", ["allow", "port", "80", "comment", "HTTP"], False)
    limited = ("limit 80/tcp comment 'Web'", ["limit", "port", "80"], False)
    assert ufw_firewall.plan([renamed, limited], CURRENT, ON, ON) == [renamed[1], limited[1]]


def test_a_rule_to_delete_goes_whatever_its_comment():
    gone = ("allow 443/tcp", ["allow", "port", "443"], True)
    assert ufw_firewall.plan([gone], CURRENT, ON, ON) == [["delete", "allow", "port", "443"]]


def test_a_rule_to_delete_that_is_absent_needs_nothing():
    gone = ("allow 8080/tcp", ["allow", "port", "8080"], True)
    assert ufw_firewall.plan([gone], CURRENT, ON, ON) == []


def test_rules_come_before_the_switch_on():
    off = ON | {"enabled": False}
    commands = ufw_firewall.plan([("limit 2222/tcp", ["limit", "2222"], False)], [], off, ON)
    assert commands == [["limit", "2222"], ["--force", "enable"]]


@pytest.mark.parametrize(
    ("current", "command"),
    [
        pytest.param({"incoming": "allow"}, ["default", "deny", "incoming"], id="incoming"),
        pytest.param({"outgoing": "deny"}, ["default", "allow", "outgoing"], id="outgoing"),
        pytest.param({"logging": "off"}, ["logging", "low"], id="logging"),
        pytest.param({"enabled": False}, ["--force", "enable"], id="enable"),
    ],
)
def test_each_setting_that_differs_is_set(current, command):
    assert ufw_firewall.plan([], [], ON | current, ON) == [command]


def test_switching_off():
    assert ufw_firewall.plan([], [], ON, ON | {"enabled": False}) == [["disable"]]


def test_unmet_names_what_ufw_did_not_do():
    kept = ("allow 443/tcp", ["allow", "443"], True)
    missing = ("allow 8443/tcp", ["allow", "8443"], False)
    assert [rule[0] for rule in ufw_firewall.unmet([SSH, WEB, kept, missing], CURRENT)] == [
        "allow 443/tcp",
        "allow 8443/tcp",
    ]


def test_configuration_files_are_read_as_ufw_writes_them():
    text = '# comment\nDEFAULT_INPUT_POLICY="DROP"\nDEFAULT_OUTPUT_POLICY="ACCEPT"\nENABLED=yes\n\nLOGLEVEL=low\n'
    assert ufw_firewall.read_assignments(text) == {
        "DEFAULT_INPUT_POLICY": "DROP",
        "DEFAULT_OUTPUT_POLICY": "ACCEPT",
        "ENABLED": "yes",
        "LOGLEVEL": "low",
    }
