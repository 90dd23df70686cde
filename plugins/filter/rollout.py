"""Where a rolling deploy stands when it stops: a Jinja filter for the deploy playbooks.

The playbooks deploy the app servers in batches (`serial`); the first server whose deploy
fails stops the run, and its message says which servers took the new release before it
and which were left on the release they had.
"""

from __future__ import annotations

from collections.abc import Sequence


def rollout_stop_message(host: str, play_hosts: Sequence[str], batch: Sequence[str], reason: str) -> str:
    """The message that ends a rolling deploy at `host`, in batch `batch` of `play_hosts` (in run order)."""
    play_hosts, batch = list(play_hosts), list(batch)
    first = play_hosts.index(batch[0]) if batch and batch[0] in play_hosts else 0
    done = play_hosts[:first]
    untouched = [other for other in play_hosts[first:] if other not in batch]
    companions = [other for other in batch if other != host]
    lines = [f"The deploy stopped at {host}: {reason.strip() or 'a task failed'}"]
    lines.append(
        f"What {host} serves now: its own failure above says (a release that fails before its switch never serves)."
    )
    if done:
        lines.append(f"Deployed before it, serving the new release: {', '.join(done)}.")
    if companions:
        lines.append(f"In the same batch (each as its own deploy went): {', '.join(companions)}.")
    if untouched:
        lines.append(f"Not deployed, serving the release they had: {', '.join(untouched)}.")
    return "\n".join(lines)


class FilterModule:
    def filters(self):
        return {"kit_rollout_stop_message": rollout_stop_message}
