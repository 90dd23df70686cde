"""The apps of a server: which ones it has, and where each of an app's inputs comes from.

A server describes its apps with `apps`, a list of mappings whose keys are the apps'
inputs (the variables of the per-app roles: app, gunicorn, nginx's site, certbot's
certificate). Without `apps`, the server's own variables describe one app: a list of
one empty entry. playbooks/tasks/app.yml runs the per-app roles once per app with each
input worked out by `app_input`: the entry's value, else the server's, else the role's
default. Ansible renders an entry's values when a role reads them, with that app's
variables, so an entry may refer to its own inputs ("{{ app_sqlite_path }}").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ansible.errors import AnsibleFilterError


def app_entries(apps: Any) -> list[Mapping[str, Any]]:
    """The server's app entries: `apps` as given, or one empty entry when it is not set.

    The preflight reports a malformed `apps` with every other problem; this only refuses
    what would make the plays run the wrong thing (roles/preflight checks it first).
    """
    if apps is None:
        return [{}]
    if isinstance(apps, (str, bytes)) or not isinstance(apps, Sequence) or not apps:
        raise AnsibleFilterError(f"apps must be a non-empty list of mappings, one per app; got {apps!r:.80}")
    for index, entry in enumerate(apps):
        if not isinstance(entry, Mapping):
            raise AnsibleFilterError(f"apps[{index}] must be a mapping of the app's inputs; got {entry!r:.80}")
    return list(apps)


def app_input(entry: Mapping[str, Any], name: str, server: Mapping[str, Any], defaults: Mapping[str, Any]) -> Any:
    """One input of one app: the app's own value, else the server's, else the role's default."""
    if name in entry:
        return entry[name]
    if name in server:
        return server[name]
    if name in defaults:
        return defaults[name]
    raise AnsibleFilterError(f"{name} is set neither by the app, nor by the server, nor by a default")


def server_app_inputs(host: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The per-app inputs the server itself sets (its inventory, extra vars), worked out once."""
    return {name: host[name] for name in names if name in host}


def app_names(apps: Any, server: Mapping[str, Any], default: str) -> list[str]:
    """Each app's name, in the order of `apps`: its app_name, else the server's, else the default."""
    return [str(app_input(entry, "app_name", server, {"app_name": default})) for entry in app_entries(apps)]


def python_versions(apps: Any, server: Mapping[str, Any], default: str) -> list[str]:
    """Every CPython the server's apps ask for, once each, with any the server lists in
    pyenv_python_versions itself: apps asking for the same version share one build."""
    wanted = [str(version) for version in server.get("pyenv_python_versions", [])]
    for entry in app_entries(apps):
        wanted.append(str(app_input(entry, "app_python_version", server, {"app_python_version": default})))
    return list(dict.fromkeys(wanted))


def chosen_apps(names: Sequence[str], wanted: str, everywhere: Iterable[Sequence[str]]) -> list[int]:
    """The indexes of the apps to run here: all of them, or the one named by `-e app=<name>`.

    A name no server of the play has is an error, raised on every server before any change.
    """
    if not wanted:
        return list(range(len(names)))
    known = sorted({str(name) for server_names in everywhere for name in server_names})
    if wanted not in known:
        raise AnsibleFilterError(
            f"app={wanted}: no server of this run has an app of that name (apps here: {', '.join(known)})."
            " Nothing was changed."
        )
    return [index for index, name in enumerate(names) if name == wanted]


class FilterModule:
    """The filters the plays use to run each app with its own inputs."""

    def filters(self):
        return {
            "app_entries": app_entries,
            "app_input": app_input,
            "server_app_inputs": server_app_inputs,
            "app_names": app_names,
            "app_python_versions": python_versions,
            "chosen_apps": chosen_apps,
        }
