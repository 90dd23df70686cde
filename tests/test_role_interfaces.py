"""Every role's interface is stated three times, and the three agree.

meta/argument_specs.yml is the contract, defaults/main.yml gives the values, and
README.md tells users. An input missing from one of them is a bug.
"""

from pathlib import Path

import pytest
import yaml

ROLES = sorted(p for p in (Path(__file__).resolve().parents[1] / "roles").iterdir() if p.is_dir())


def spec_options(role: Path) -> dict[str, dict]:
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options: dict[str, dict] = {}
    for entry_point in specs.values():
        options.update(entry_point.get("options") or {})
    return options


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_role_has_the_standard_files(role):
    for name in ("meta/argument_specs.yml", "meta/main.yml", "tasks/main.yml", "README.md"):
        assert (role / name).is_file(), f"{role.name} lacks {name}"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_defaults_match_the_argument_spec(role):
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) or {} if defaults_file.exists() else {}
    options = spec_options(role)
    assert set(defaults) - set(options) == set(), "defaults without a spec"
    required = {name for name, option in options.items() if option.get("required")}
    assert set(options) - set(defaults) - required == set(), "optional inputs without a default"


@pytest.mark.parametrize("role", ROLES, ids=lambda r: r.name)
def test_every_input_is_prefixed_and_documented(role):
    readme = (role / "README.md").read_text()
    for name in spec_options(role):
        assert name.startswith(f"{role.name}_"), f"{name} is not prefixed with {role.name}_"
        assert f"`{name}`" in readme, f"{name} is not in {role.name}/README.md"
