#!/usr/bin/env python3
"""What the roles' meta/argument_specs.yml say, written where it is needed.

The spec is the one home of a role's interface (name, type, default, meaning). From it:
- each role README's variables table, between two markers;
- the apps role's list of per-app inputs (roles/apps/vars/main.yml) and the task that
  runs the per-app roles with each input worked out for one app (roles/apps/tasks/app.yml).
Both are rewritten from the specs, so they cannot drift from them.

Usage: scripts/role-docs [--check] [ROLE_DIR...]   (default: every role in roles/)
  without --check: rewrite the tables and the apps role's files in place (idempotent)
  --check: change nothing; print a diff and exit 1 when a generated text is out of date
"""

import argparse
import difflib
import json
import re
import sys
from pathlib import Path

import yaml

KIT_ROOT = Path(__file__).resolve().parents[1]
START = "<!-- argument_specs:start -->"
END = "<!-- argument_specs:end -->"
NOTICE = "<!-- Generated from meta/argument_specs.yml by scripts/role-docs: edit the spec, then run it. -->"
COMMAND = "scripts/role-docs"

# ansible-doc markup: C(code), O(option), V(value), U(url), M(module), RV(return value),
# E(env var), P(plugin) read as code; I(x) italic, B(x) bold, L(text,url) a link.
CODE_MARKUP = re.compile(r"\b(?:C|O|V|U|M|RV|E|P)\(([^)]*)\)")
ITALIC_MARKUP = re.compile(r"\bI\(([^)]*)\)")
BOLD_MARKUP = re.compile(r"\bB\(([^)]*)\)")
LINK_MARKUP = re.compile(r"\bL\(([^)]*),\s*([^)]*)\)")
LOOKS_NUMERIC = re.compile(r"^[0-9][0-9:._]*$")


class SpecError(Exception):
    """A spec the table cannot be made from."""


def role_options(role: Path) -> tuple[dict[str, dict], dict[str, list[str]]]:
    """Every option of the role's entry points, and the entry points that read each.

    An option in several entry points must be stated the same way in each: the
    README has one row for it.
    """
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options: dict[str, dict] = {}
    entry_points: dict[str, list[str]] = {}
    for entry_point, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            if name in options and options[name] != option:
                raise SpecError(
                    f"{role.name}: {name} differs between the entry points {entry_points[name]} and {entry_point}"
                )
            options.setdefault(name, option)
            entry_points.setdefault(name, []).append(entry_point)
    return options, entry_points


def yaml_value(value, *, flow: bool = False) -> str:
    """A value as it is written in YAML (an inventory's vars.yml): quoted only where needed."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(yaml_value(item, flow=True) for item in value) + "]"
    if isinstance(value, dict):
        items = (f"{yaml_value(key, flow=True)}: {yaml_value(item, flow=True)}" for key, item in value.items())
        return "{" + ", ".join(items) + "}"
    text = str(value)
    return text if reads_back_as(text, flow) else json.dumps(text, ensure_ascii=False)


def reads_back_as(text: str, flow: bool) -> bool:
    """Whether YAML reads `text` written without quotes as the same string.

    Versions and times (`3.13.5`, `04:00`) are quoted even where YAML would read them
    as strings: a reader who copies `14:30` or `3.10` unquoted gets a number.
    """
    if not text or text != text.strip() or LOOKS_NUMERIC.match(text):
        return False
    try:
        return yaml.safe_load(f"[{text}]" if flow else text) == ([text] if flow else text)
    except yaml.YAMLError:
        return False


def markup(text: str) -> str:
    """ansible-doc markup as Markdown."""
    text = LINK_MARKUP.sub(r"[\1](\2)", text)
    text = CODE_MARKUP.sub(r"`\1`", text)
    text = ITALIC_MARKUP.sub(r"*\1*", text)
    return BOLD_MARKUP.sub(r"**\1**", text)


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: one line, pipes escaped (in code spans too)."""
    return " ".join(text.split()).replace("|", "\\|")


def type_name(option: dict) -> str:
    kind = option.get("type", "str")
    return f"{kind} of {option['elements']}" if kind == "list" and "elements" in option else kind


def default_text(option: dict) -> str:
    if option.get("required"):
        return "**required**"
    if "default" not in option:
        return ""
    return f"`{yaml_value(option['default'])}`"


def meaning(option: dict, entry_points: list[str], all_entry_points: int) -> str:
    description = option.get("description", "")
    parts = [" ".join(description) if isinstance(description, list) else description]
    choices = option.get("choices")
    # Choices the description already names as code are not repeated.
    if choices and not all(f"C({choice})" in parts[0] for choice in choices):
        parts.append("One of: " + ", ".join(f"`{yaml_value(choice)}`" for choice in choices) + ".")
    if option.get("options"):
        parts.append(f"Keys of {'each item' if option.get('type') == 'list' else 'it'}: see below.")
    if len(entry_points) < all_entry_points:
        parts.append("Only for " + ", ".join(f"`tasks_from: {e}`" for e in entry_points) + ".")
    return markup(" ".join(part.strip() for part in parts if part))


def table(options: dict[str, dict], first_column: str, entry_points: dict[str, list[str]], count: int) -> list[str]:
    lines = [f"| {first_column} | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, option in options.items():
        row = (f"`{name}`", type_name(option), default_text(option), meaning(option, entry_points[name], count))
        lines.append("| " + " | ".join(cell(column) for column in row) + " |")
    return lines


def sub_tables(options: dict[str, dict], prefix: str = "") -> list[str]:
    """One table per option with sub-options (the keys of a dict, or of each item of a list)."""
    lines: list[str] = []
    for name, option in options.items():
        sub_options = option.get("options")
        if not sub_options:
            continue
        path = f"{prefix}{name}"
        whose = "each item of " if option.get("type") == "list" else ""
        lines += ["", f"Keys of {whose}`{path}`:", ""]
        lines += table(sub_options, "Key", {key: [] for key in sub_options}, 0)
        lines += sub_tables(sub_options, f"{path}.")
    return lines


def generated_block(role: Path) -> str:
    """What goes between the markers: the variables table, then a table per option with keys."""
    options, entry_points = role_options(role)
    count = len({e for names in entry_points.values() for e in names})
    lines = [START, NOTICE, "", *table(options, "Variable", entry_points, count), *sub_tables(options), "", END]
    return "\n".join(lines)


def updated_readme(role: Path) -> tuple[str, str]:
    """The README as it is, and as the spec says it should be."""
    readme = role / "README.md"
    text = readme.read_text()
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise SpecError(f"{readme} lacks the markers {START} and {END} around its variables table")
    return text, text[:start] + generated_block(role) + text[end + len(END) :]


def shown(path: Path) -> str:
    return str(path.relative_to(KIT_ROOT) if path.is_relative_to(KIT_ROOT) else path)


def all_roles() -> list[Path]:
    return sorted(path for path in (KIT_ROOT / "roles").iterdir() if (path / "meta" / "argument_specs.yml").is_file())


def stale_readmes(roles: list[Path]) -> list[str]:
    """A unified diff per README whose table is out of date."""
    diffs = []
    for role in roles:
        current, wanted = updated_readme(role)
        if current != wanted:
            name = shown(role / "README.md")
            diff = difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), name, f"{name} (generated)")
            diffs.append("".join(diff))
    return diffs


# --- the apps role: each app's inputs ------------------------------------------------

# The roles (and their entry points) that run once per app; the rest run once per server.
PER_APP_ENTRY_POINTS = {
    "app": ("main",),
    "gunicorn": ("main", "rollback"),
    "nginx": ("site",),
    "certbot": ("certificate",),
}
# Server inputs that are the kit's own, not a role's (playbooks/vars/apt.yml reads it).
KIT_SERVER_INPUTS = ("apt_lock_timeout",)
# Per-app inputs that are the kit's own, not a role's: the playbooks read them
# (playbooks/vars/runtime.yml gives app_processes to gunicorn_processes). Their defaults.
KIT_APP_INPUTS = {"app_processes": []}
APPS_VARS = KIT_ROOT / "roles" / "apps" / "vars" / "main" / "inputs.yml"
APPS_TASK = KIT_ROOT / "roles" / "apps" / "tasks" / "app.yml"
GENERATED = "# Generated from the argument specs of the per-app roles by scripts/role-docs: do not edit."


def playbook_keys() -> set[str]:
    """Inputs the playbooks set themselves (playbooks/vars/, a play's vars): how the
    roles fit together, not the app's to choose, so no entry of apps sets them."""
    keys: set[str] = set()
    for path in sorted((KIT_ROOT / "playbooks" / "vars").glob("*.yml")):
        keys |= set(yaml.safe_load(path.read_text()) or {})
    for path in sorted((KIT_ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()) or []:
            keys |= set(play.get("vars") or {})
    return keys


def required_app_inputs(inputs: dict[str, str]) -> list[str]:
    """The per-app inputs a spec requires: each app must set them (or the server for all)."""
    required = set()
    for role, wanted in PER_APP_ENTRY_POINTS.items():
        specs = yaml.safe_load((KIT_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry_point in wanted:
            options = specs["argument_specs"][entry_point].get("options") or {}
            required |= {name for name, option in options.items() if option.get("required")}
    return [name for name in inputs if name in required]


def app_inputs() -> dict[str, str]:
    """Each per-app input, and the role whose default it falls back on, in spec order."""
    set_by_playbooks = playbook_keys()
    inputs: dict[str, str] = {}
    for role, wanted in PER_APP_ENTRY_POINTS.items():
        specs = yaml.safe_load((KIT_ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        for entry_point in wanted:
            if entry_point not in specs["argument_specs"]:
                raise SpecError(f"{role}: no entry point {entry_point} in meta/argument_specs.yml")
            for name in specs["argument_specs"][entry_point].get("options") or {}:
                if name not in set_by_playbooks:
                    inputs.setdefault(name, role)
    return inputs | dict.fromkeys(KIT_APP_INPUTS, "kit")


def other_inputs(inputs: dict[str, str]) -> list[str]:
    """Every input that is not an app's: the server's (the preflight tells an entry of apps
    that sets one to set it outside apps)."""
    names = {name for role in all_roles() for name in role_options(role)[0]} | set(KIT_SERVER_INPUTS)
    return sorted(names - set(inputs))


def apps_vars_text(inputs: dict[str, str]) -> str:
    names = "\n".join(f"  - {name}" for name in inputs)
    others = "\n".join(f"  - {name}" for name in other_inputs(inputs))
    entry_points = "\n".join(
        f"  - {{role: {role}, entry_point: {point}}}"
        for role, points in PER_APP_ENTRY_POINTS.items()
        for point in points
    )
    return f"""---
{GENERATED}
# The inputs an entry of apps may set: those of the per-app roles
# ({", ".join(f"{role} {'/'.join(points)}" for role, points in PER_APP_ENTRY_POINTS.items())}),
# but for those the playbooks set (playbooks/vars/, a play's vars), and the kit's own.
__apps_input_names:
{names}
# The defaults of the kit's own per-app inputs (the playbooks read them).
__apps_defaults_kit: {yaml_value(KIT_APP_INPUTS)}
# The per-app roles' entry points (the preflight checks each app against their specs).
__apps_entry_points:
{entry_points}
# The per-app inputs a spec requires (the preflight reports an empty one).
__apps_required_inputs: {yaml_value(required_app_inputs(inputs))}
# Every other input: the server's, or set by the playbooks.
__apps_other_inputs:
{others}
"""


def apps_task_text(inputs: dict[str, str]) -> str:
    lines = [
        f"    {name}: \"{{{{ __apps_entry | app_input('{name}', __apps_server, __apps_defaults_{role}) }}}}\""
        for name, role in inputs.items()
    ]
    mapping = "\n".join(lines)
    return f"""---
{GENERATED}
# yamllint disable rule:line-length
# One app: tasks/each.yml includes this once per app. The roles the play asks for
# (apps_roles) run with each of the app's inputs worked out for this app: the app's own
# value (its entry in apps), else the server's, else the role's default
# (plugins/filter/apps.py, app_input).
- name: Run the app's roles with its inputs
  vars:
    # The app's entry in the inventory's apps; for an app being removed, what the server recorded of it.
    __apps_entry: "{{{{ (__apps_removed_entries | default(apps | default(none)) | app_entries)[__apps_index] }}}}"
{mapping}
  block:
    # An app_name given with -e would be every app's: each would act on the same one.
    - name: Check the app is the one its entry names
      ansible.builtin.assert:
        that: app_name == __apps_this
        fail_msg: >-
          app_name is {{{{ app_name }}}} here, but this app is {{{{ __apps_this }}}}: app_name set with -e names
          every app of the run. Choose an app with -e app=<name> instead. Nothing was changed for it.
        quiet: true
      vars:
        __apps_this: "{{{{ __apps_remove | default(__apps_names[__apps_index]) }}}}"

    - name: Run the app's roles
      ansible.builtin.include_role:
        name: "{{{{ __apps_role.name }}}}"
        tasks_from: "{{{{ __apps_role.tasks_from | default('main') }}}}"
      loop: "{{{{ apps_roles }}}}"
      loop_control:
        loop_var: __apps_role
        label: "{{{{ __apps_role.name }}}} {{{{ __apps_role.tasks_from | default('') }}}}"

    - name: Record the app on the server
      ansible.builtin.include_tasks: record.yml
      when: apps_record
"""


def apps_files() -> dict[Path, str]:
    inputs = app_inputs()
    return {APPS_VARS: apps_vars_text(inputs), APPS_TASK: apps_task_text(inputs)}


def stale_apps_files() -> list[str]:
    diffs = []
    for path, wanted in apps_files().items():
        current = path.read_text() if path.exists() else ""
        if current != wanted:
            name = shown(path)
            diffs.append("".join(difflib.unified_diff(current.splitlines(True), wanted.splitlines(True), name, name)))
    return diffs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=COMMAND, description="Write what meta/argument_specs.yml say: README tables, the apps role's inputs."
    )
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 with a diff if anything is stale")
    parser.add_argument("roles", nargs="*", type=Path, help="role directories (default: every role in roles/)")
    args = parser.parse_args(argv)
    roles = [role.resolve() for role in args.roles] or all_roles()
    try:
        if args.check:
            diffs = stale_readmes(roles) + ([] if args.roles else stale_apps_files())
            for diff in diffs:
                sys.stdout.write(diff)
            if diffs:
                stale = f"{len(diffs)} generated file(s) out of date with meta/argument_specs.yml"
                print(f"\n{stale}: run {COMMAND} and commit the result", file=sys.stderr)
                return 1
            return 0
        for role in roles:
            current, wanted = updated_readme(role)
            if current != wanted:
                (role / "README.md").write_text(wanted)
                print(f"updated {shown(role / 'README.md')}")
        for path, wanted in ({} if args.roles else apps_files()).items():
            if not path.exists() or path.read_text() != wanted:
                path.write_text(wanted)
                print(f"updated {shown(path)}")
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
