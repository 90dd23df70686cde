"""Every role's interface is stated three times, and the three agree.

meta/argument_specs.yml is the contract, defaults/main.yml gives the values, and
README.md tells users: its variables table is generated from the spec by
scripts/role-docs. An input missing from one of them, or stated differently, is a bug.
"""

import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

import role_docs  # noqa: E402

ROLES = sorted(p for p in (ROOT / "roles").iterdir() if p.is_dir())
# validate_argument_spec (the preflight runs it with each role's spec) fills in a
# spec's default untemplated and converts it to the option's type, so an int or bool
# option cannot state a template as its default. Where the code's default borrows
# another role's variable, "{{ sshd_port | default(22) }}", the spec states the
# fallback (22) and its description says where the value comes from.
BORROWED = re.compile(r"^\{\{ *[\w.]+ *\| *default\((?P<fallback>[^()]*)\) *\}\}$")


def spec_options(role: Path) -> dict[str, dict]:
    return role_docs.role_options(role)[0]


def code_defaults(role: Path) -> dict:
    defaults_file = role / "defaults" / "main.yml"
    return (yaml.safe_load(defaults_file.read_text()) or {}) if defaults_file.exists() else {}


def spec_default_differs(option: dict, code_default) -> bool:
    spec_default = option.get("default")
    templated = isinstance(code_default, str) and "{{" in code_default
    if templated and option.get("type") in ("int", "float", "bool"):
        borrowed = BORROWED.match(code_default)
        return borrowed is None or yaml.safe_load(borrowed["fallback"]) != spec_default
    return "default" not in option or spec_default != code_default


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_role_has_the_standard_files(role):
    for name in ("meta/argument_specs.yml", "meta/main.yml", "tasks/main.yml", "README.md"):
        assert (role / name).is_file(), f"{role.name} lacks {name}"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_defaults_match_the_argument_spec(role):
    defaults = code_defaults(role)
    options = spec_options(role)
    assert set(defaults) - set(options) == set(), "defaults without a spec"
    required = {name for name, option in options.items() if option.get("required")}
    assert set(options) - set(defaults) - required == set(), "optional inputs without a default"
    # The code's default is the truth; the spec (and so the README) states the same value.
    differ = {
        name: {"spec": option.get("default"), "defaults/main.yml": defaults[name]}
        for name, option in options.items()
        if name not in required and spec_default_differs(option, defaults[name])
    }
    assert differ == {}, f"spec defaults that are not {role.name}/defaults/main.yml's"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_input_is_prefixed(role):
    for name in spec_options(role):
        assert name.startswith(f"{role.name}_"), f"{name} is not prefixed with {role.name}_"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_readme_table_is_generated_from_the_spec(role):
    # The same comparison as `scripts/role-docs --check`: name, type, default and meaning.
    stale = role_docs.stale_readmes([role])
    assert stale == [], (
        f"roles/{role.name}/README.md does not show meta/argument_specs.yml: run scripts/role-docs\n" + "".join(stale)
    )
