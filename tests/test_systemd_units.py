"""plugins/modules/systemd_units.py: several units settled in one call.

The rules are tested here on systemctl's own output, recorded on a Debian 12 server; the module
runs as Ansible runs it against a stand-in systemctl that answers `show` from a table of units
and records every other command. The real systemd runs it in every Molecule scenario (the
roles' services and timers), where idempotence and check mode are tested too.
"""

import json
import sys
from pathlib import Path

import pytest
from module_runner import run_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modules"))

import systemd_units  # noqa: E402

# `systemctl show --property=LoadState,ActiveState,UnitFileState -- nginx.service no-such.service
# certbot.timer` on the sandbox (Debian 12, systemd 252).
RECORDED = """LoadState=loaded
ActiveState=active
UnitFileState=enabled

LoadState=not-found
ActiveState=inactive
UnitFileState=

LoadState=loaded
ActiveState=inactive
UnitFileState=enabled
"""


def test_parse_show_reads_one_block_per_unit_in_order():
    assert systemd_units.parse_show(RECORDED, 3) == [
        {"LoadState": "loaded", "ActiveState": "active", "UnitFileState": "enabled"},
        {"LoadState": "not-found", "ActiveState": "inactive", "UnitFileState": ""},
        {"LoadState": "loaded", "ActiveState": "inactive", "UnitFileState": "enabled"},
    ]


def test_parse_show_refuses_output_that_does_not_match_the_units():
    with pytest.raises(ValueError, match="2 blocks for 3 units"):
        systemd_units.parse_show("\n\n".join(RECORDED.split("\n\n")[:2]), 3)


def found(file_state: str, active: str) -> dict[str, str]:
    return {"LoadState": "loaded", "UnitFileState": file_state, "ActiveState": active}


@pytest.mark.parametrize(
    ("wanted", "state", "actions"),
    [
        pytest.param({"enabled": True, "state": "started"}, found("enabled", "active"), [], id="as-asked"),
        pytest.param({"enabled": True, "state": "started"}, found("disabled", "inactive"), ["enable", "start"]),
        pytest.param({"enabled": True, "state": "started"}, found("enabled", "failed"), ["start"], id="failed"),
        pytest.param({"enabled": True, "state": "started"}, found("enabled", "activating"), [], id="activating"),
        # static, indirect, generated: is-enabled says 0, enable would change nothing
        pytest.param({"enabled": True}, found("static", "inactive"), [], id="static"),
        pytest.param({"enabled": True}, found("indirect", "inactive"), [], id="indirect"),
        pytest.param({"enabled": True}, found("generated", "active"), [], id="generated"),
        pytest.param({"enabled": True}, found("linked", "inactive"), ["enable"], id="linked"),
        pytest.param({"enabled": False, "state": "stopped"}, found("enabled", "active"), ["disable", "stop"]),
        pytest.param({"enabled": False, "state": "stopped"}, found("disabled", "inactive"), [], id="already-off"),
        # nothing to remove from a static unit: disabling it would report a change on every run
        pytest.param({"enabled": False}, found("static", "inactive"), [], id="disable-static"),
        pytest.param({"state": "restarted"}, found("enabled", "active"), ["restart"], id="restart-always"),
        pytest.param({"state": "reloaded"}, found("enabled", "active"), ["reload"], id="reload-running"),
        pytest.param({"state": "reloaded"}, found("enabled", "inactive"), ["start"], id="reload-starts"),
        pytest.param({}, found("disabled", "inactive"), [], id="nothing-asked"),
    ],
)
def test_unit_actions(wanted, state, actions):
    assert systemd_units.unit_actions({"name": "x.service", **wanted}, state) == actions


@pytest.mark.parametrize(
    ("wanted", "load_state", "words"),
    [
        ({"enabled": True}, "not-found", "systemd has no such unit"),
        ({"state": "started"}, "masked", "is masked"),
        ({"enabled": True}, "bad-setting", "could not load it (LoadState=bad-setting"),
    ],
)
def test_refusal(wanted, load_state, words):
    reason = systemd_units.refusal({"name": "x.service", **wanted}, {"LoadState": load_state})
    assert reason is not None and words in reason


def test_a_masked_unit_may_stay_stopped():
    assert systemd_units.refusal({"name": "x.service", "state": "stopped"}, {"LoadState": "masked"}) is None


STAND_IN = """#!{python}
import json, sys
table = json.load(open({table!r}))
args = sys.argv[1:]
with open({log!r}, "a") as log:
    log.write(json.dumps(args) + "\\n")
if args[0] == "show":
    names = args[args.index("--") + 1:]
    print("\\n\\n".join(
        "\\n".join(f"{{key}}={{value}}" for key, value in table.get(name, {{"LoadState": "not-found",
        "ActiveState": "inactive", "UnitFileState": ""}}).items())
        for name in names))
elif args[0] == "start" and "broken.service" in args:
    print("Job for broken.service failed.", file=sys.stderr)
    sys.exit(1)
"""


def settle(tmp_path: Path, table: dict, units: list[dict], **options) -> tuple[dict, list[list[str]]]:
    """The module's result against a stand-in systemctl knowing table, and the commands it was given."""
    (tmp_path / "table.json").write_text(json.dumps(table))
    log = tmp_path / "commands.log"
    log.write_text("")
    stand_in = tmp_path / "systemctl"
    stand_in.write_text(STAND_IN.format(python=sys.executable, table=str(tmp_path / "table.json"), log=str(log)))
    stand_in.chmod(0o755)
    check = options.pop("check", False)
    result = run_module("systemd_units", tmp_path, {"units": units, "systemctl": str(stand_in), **options}, check=check)
    return result, [json.loads(line) for line in log.read_text().splitlines()]


TABLE = {
    "nginx.service": found("enabled", "active"),
    "certbot.timer": found("disabled", "inactive"),
    "apt-daily.timer": found("disabled", "inactive"),
    "broken.service": found("enabled", "failed"),
    "masked.service": {"LoadState": "masked", "ActiveState": "inactive", "UnitFileState": "masked"},
}
PROPERTIES = "--property=LoadState,ActiveState,UnitFileState"


def test_units_as_asked_cost_one_read_and_change_nothing(tmp_path):
    result, commands = settle(tmp_path, TABLE, [{"name": "nginx.service", "enabled": True, "state": "started"}])
    assert result["changed"] is False, result
    assert commands == [["show", PROPERTIES, "--", "nginx.service"]]
    assert result["units"] == [
        {"name": "nginx.service", "unit_file_state": "enabled", "active_state": "active", "actions": []}
    ]


def test_one_command_per_verb_for_every_unit_that_needs_it(tmp_path):
    units = [
        {"name": "nginx.service", "enabled": True, "state": "started"},
        {"name": "certbot.timer", "enabled": True, "state": "started"},
        {"name": "apt-daily.timer", "enabled": True, "state": "started"},
    ]
    result, commands = settle(tmp_path, TABLE, units, daemon_reload=True)
    assert result["changed"] is True
    assert commands == [
        ["daemon-reload"],
        ["show", PROPERTIES, "--", "nginx.service", "certbot.timer", "apt-daily.timer"],
        ["enable", "--", "certbot.timer", "apt-daily.timer"],
        ["start", "--", "certbot.timer", "apt-daily.timer"],
    ]


def test_check_mode_reads_and_changes_nothing(tmp_path):
    units = [{"name": "certbot.timer", "enabled": True, "state": "started"}]
    result, commands = settle(tmp_path, TABLE, units, daemon_reload=True, check=True)
    assert result["changed"] is True
    assert result["units"][0]["actions"] == ["enable", "start"]
    assert [command[0] for command in commands] == ["show"]


def test_an_unknown_or_masked_unit_fails_before_any_change(tmp_path):
    units = [
        {"name": "certbot.timer", "enabled": True, "state": "started"},
        {"name": "no-such.service", "enabled": True},
        {"name": "masked.service", "state": "started"},
    ]
    result, commands = settle(tmp_path, TABLE, units)
    assert result["failed"] is True
    assert "no-such.service: systemd has no such unit" in result["msg"]
    assert "masked.service is masked" in result["msg"]
    assert [command[0] for command in commands] == ["show"]


def test_a_unit_that_fails_to_start_fails_the_task_with_systemds_words(tmp_path):
    result, _ = settle(tmp_path, TABLE, [{"name": "broken.service", "state": "started"}])
    assert result["failed"] is True
    assert result["msg"] == "systemctl start -- broken.service failed with status 1: Job for broken.service failed."
