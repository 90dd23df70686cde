"""The gunicorn role's release history: reading it, and choosing the release a rollback serves.

Each switch to a new release appends one line to /var/lib/<app>/history
(roles/gunicorn/tasks/swap.yml): the time in UTC, a space, and the release as JSON
(id, commit, path, dir, venv, fingerprint).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from ansible.errors import AnsibleFilterError


def release_history(text: str) -> list[dict]:
    """The releases in the history file's text, oldest first; a damaged line is an error naming it."""
    releases = []
    for number, line in enumerate(str(text).splitlines(), start=1):
        if not line.strip():
            continue
        _stamp, _space, document = line.partition(" ")
        try:
            release = json.loads(document)
        except ValueError as error:
            raise AnsibleFilterError(
                f"release history, line {number}: not a release ({error}): {line[:80]!r}"
            ) from None
        if not isinstance(release, dict) or "id" not in release:
            raise AnsibleFilterError(f"release history, line {number}: no release id: {line[:80]!r}")
        releases.append(release)
    return releases


def rollback_candidate(history: Sequence[dict], live_id: str, wanted: str = "") -> dict:
    """The release to roll back to: the newest entry of the one wanted, or else the newest
    release that is not the live one (the one live before it); {} when there is none."""
    for release in reversed(history):
        if (release["id"] == wanted) if wanted else (release["id"] != live_id):
            return release
    return {}


class FilterModule:
    def filters(self) -> dict:
        return {"release_history": release_history, "rollback_candidate": rollback_candidate}
