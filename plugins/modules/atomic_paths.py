#!/usr/bin/python
"""Links and small files, each replaced atomically, in the order given, in one task."""

import os
import secrets

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: atomic_paths
short_description: Point links and write small files atomically, in order, in one task
description:
  - >-
    What M(ansible.builtin.file) with C(state=link, force=true, follow=false),
    M(ansible.builtin.copy) with C(content) and M(ansible.builtin.lineinfile) with
    C(create=true) do, for a list of paths, in one module call: a deploy's switch
    touches five paths, and five tasks cost five round trips to the host.
  - >-
    Each path is replaced by C(rename(2)) of a new link or file made beside it, so a
    reader sees the old or the new one, never none and never half a file. The
    entries are settled in the order given: the first is the one that matters most
    (the socket link a proxy connects to), and a failure leaves the ones after it
    as they were.
  - An entry whose O(entries[].path) is empty is left out, so an optional one can be written inline.
  - >-
    Supports check mode, and diff mode with one diff per changed path (a file's
    content, a link's target), as M(ansible.builtin.template) shows a file.
options:
  entries:
    description: The paths to settle, in order.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path; empty to leave the entry out.
        type: str
        required: true
      link:
        description: Make O(entries[].path) a symbolic link to this (kept as given, relative or absolute).
        type: str
      content:
        description: Make O(entries[].path) a file with exactly this content.
        type: str
      line:
        description: >-
          Append this line to O(entries[].path) (made when missing) unless the file has it
          already; an empty line appends nothing.
        type: str
      validate:
        description: >-
          A command that checks the new content of a file before it takes the path's name;
          C(%s) is the new file. When it fails, the path and the entries after it are left
          as they were.
        type: str
      directory:
        description: >-
          Make O(entries[].path) a directory (when true), for the entries after it; missing
          parents are made as M(ansible.builtin.file) makes them (the module's umask, root's).
        type: bool
      absent:
        description: >-
          Remove O(entries[].path) (when true), a file or a link; a directory is refused.
          Nothing to remove is no change.
        type: bool
      owner:
        description: Owner of a file or directory (name or id); links keep the owner they are made with.
        type: str
        default: root
      group:
        description: Group of a file or directory (name or id).
        type: str
        default: root
      mode:
        description: Mode of a file or directory, in octal; C("0644") for a file, C("0755") for a directory.
        type: raw
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Switch to the green color and record it
  atomic_paths:
    entries:
      - {path: /run/webapp/app.sock, link: green.sock}
      - {path: /var/lib/webapp/live.json, content: '{"color": "green"}'}
      - {path: /var/lib/webapp/history, line: "2026-12-03T12:00:00Z green"}
"""

RETURN = r"""
changed_paths:
  description: The paths changed (in check mode, that would be), in order.
  type: list
  elements: str
  returned: always
"""

KINDS = ("link", "content", "line", "directory", "absent")


def record(diffs: list, path: str, before: str, after: str) -> None:
    """One path's diff, shown as M(ansible.builtin.template) shows a file's: a unified diff under its name."""
    diffs.append({"before_header": path, "after_header": path, "before": before, "after": after})


def replace_atomically(path: str, make) -> None:
    """make(name) the new link or file under a fresh name beside path, then rename(2) it over path."""
    directory, name = os.path.split(path)
    for _ in range(10):
        temporary = os.path.join(directory, f".{name}.{secrets.token_hex(6)}")
        try:
            make(temporary)
            break
        except FileExistsError:
            continue
        except BaseException:
            # fail_json() exits from inside make: no half-made file is left behind.
            if os.path.lexists(temporary):
                os.unlink(temporary)
            raise
    else:
        raise FileExistsError(f"no free temporary name beside {path}")
    try:
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def settle_attributes(module: AnsibleModule, entry: dict, target: str, changed: bool, mode: str) -> bool:
    """Give target the entry's owner, group and mode (mode when none is given); True when any changed."""
    wanted = {
        "path": target,
        "owner": entry["owner"],
        "group": entry["group"],
        "mode": entry["mode"] if entry["mode"] is not None else mode,
        "attributes": None,
        # SELinux's user, role, type and level: left as they are.
        "secontext": [None, None, None, None],
    }
    return module.set_fs_attributes_if_different(wanted, changed)


def what_is_at(path: str) -> str:
    """What stands at path before an entry settles it, as its diff shows it (a link by its target)."""
    if os.path.islink(path):
        return f"-> {os.readlink(path)}\n"
    return "a file\n" if os.path.lexists(path) else "absent\n"


def settle_directory(module: AnsibleModule, entry: dict, diff: list) -> bool:
    path = entry["path"]
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isdir(path)):
        module.fail_json(msg=f"{path}: exists and is not a directory")
    if os.path.isdir(path):
        return settle_attributes(module, entry, path, False, "0755")
    record(diff, path, "absent\n", "directory\n")
    if not module.check_mode:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkdir(path, 0o700)
        settle_attributes(module, entry, path, True, "0755")
    return True


def settle_link(module: AnsibleModule, path: str, target: str, diff: list) -> bool:
    if os.path.isdir(path) and not os.path.islink(path):
        module.fail_json(msg=f"{path}: is a directory, not a link")
    before = os.readlink(path) if os.path.islink(path) else None
    if before == target:
        return False
    record(diff, path, what_is_at(path), f"-> {target}\n")
    if not module.check_mode:
        replace_atomically(path, lambda temporary: os.symlink(target, temporary))
    return True


def settle_absent(module: AnsibleModule, path: str, diff: list) -> bool:
    if not os.path.lexists(path):
        return False
    if os.path.isdir(path) and not os.path.islink(path):
        module.fail_json(msg=f"{path}: is a directory, which absent does not remove")
    record(diff, path, what_is_at(path), "absent\n")
    if not module.check_mode:
        os.unlink(path)
    return True


def wanted_content(entry: dict, before: str | None) -> str | None:
    """The file's content after the entry: its content, or before with its line appended (None: no file)."""
    if entry["content"] is not None:
        return entry["content"]
    line = entry["line"]
    if not line or line in (before or "").splitlines():
        return before
    return (before or "") + ("" if not before or before.endswith("\n") else "\n") + line + "\n"


def settle_file(module: AnsibleModule, entry: dict, diff: list) -> bool:
    path = entry["path"]
    if os.path.lexists(path) and (os.path.islink(path) or not os.path.isfile(path)):
        module.fail_json(msg=f"{path}: exists and is not a regular file")
    before = None
    if os.path.exists(path):
        with open(path, "rb") as stream:
            before = stream.read().decode("utf-8", errors="replace")
    after = wanted_content(entry, before)
    if after is None:
        return False

    def attributes(target: str, changed: bool) -> bool:
        return settle_attributes(module, entry, target, changed, "0644")

    if after == before:
        return attributes(path, False)
    record(diff, path, before if before is not None else "", after)
    if module.check_mode:
        return True

    def make(temporary: str) -> None:
        # The new file has its owner, group and mode before it takes the path's name.
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            stream.write(after.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        attributes(temporary, True)
        if entry["validate"]:
            if "%s" not in entry["validate"]:
                module.fail_json(msg=f"{path}: validate must name the new file with %s")
            rc, out, err = module.run_command(entry["validate"] % temporary)
            if rc != 0:
                # "failed to validate", as ansible.builtin.copy and template say it, then the checker's words.
                module.fail_json(msg=f"{path}: failed to validate (status {rc}): {(err or out).strip()}")

    replace_atomically(path, make)
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "entries": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "path": {"type": "str", "required": True},
                    "link": {"type": "str"},
                    "content": {"type": "str"},
                    "line": {"type": "str"},
                    "owner": {"type": "str", "default": "root"},
                    "group": {"type": "str", "default": "root"},
                    "validate": {"type": "str"},
                    "directory": {"type": "bool"},
                    "absent": {"type": "bool"},
                    "mode": {"type": "raw"},
                },
                "mutually_exclusive": [list(KINDS)],
                "required_one_of": [list(KINDS)],
            },
        },
        supports_check_mode=True,
    )
    entries = [entry for entry in module.params["entries"] if entry["path"]]
    for entry in entries:
        if not os.path.isabs(entry["path"]):
            module.fail_json(msg=f"{entry['path']}: not an absolute path")
        for flag in ("directory", "absent"):
            if entry[flag] is False:
                module.fail_json(msg=f"{entry['path']}: {flag} is false: say what the path should be instead")
    diff: list = []
    changed_paths = []
    for entry in entries:
        if not entry["directory"] and not os.path.isdir(os.path.dirname(entry["path"])):
            if entry["absent"]:
                # No directory, nothing in it to remove.
                continue
            if not module.check_mode:
                module.fail_json(msg=f"{entry['path']}: its directory does not exist")
            # In check mode, a directory an earlier entry or task would make is not made: the path
            # would be made in it (unless it is an empty line, which makes nothing).
            after = entry["link"] if entry["link"] is not None else wanted_content(entry, None)
            if after is not None:
                shown = f"-> {after}\n" if entry["link"] is not None else after
                record(diff, entry["path"], "", shown)
                changed_paths.append(entry["path"])
            continue
        if entry["directory"]:
            changed = settle_directory(module, entry, diff)
        elif entry["absent"]:
            changed = settle_absent(module, entry["path"], diff)
        elif entry["link"] is not None:
            changed = settle_link(module, entry["path"], entry["link"], diff)
        else:
            changed = settle_file(module, entry, diff)
        if changed:
            changed_paths.append(entry["path"])
    result = {"changed": bool(changed_paths), "changed_paths": changed_paths}
    if module._diff:
        result["diff"] = diff
    module.exit_json(**result)


if __name__ == "__main__":
    main()
