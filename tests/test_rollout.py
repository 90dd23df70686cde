"""plugins/filter/rollout.py: what a rolling deploy says when it stops.

molecule/cluster stops a real one on its second app server.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

from rollout import rollout_stop_message  # noqa: E402

HOSTS = ["web1", "web2", "web3"]


def test_a_stop_on_the_second_server_names_the_first_as_deployed_and_the_third_as_untouched():
    message = rollout_stop_message("web2", HOSTS, ["web2"], "the new release failed its health check\n")
    assert message.splitlines() == [
        "The deploy stopped at web2: the new release failed its health check",
        "What web2 serves now: its own failure above says (a release that fails before its switch never serves).",
        "Deployed before it, serving the new release: web1.",
        "Not deployed, serving the release they had: web3.",
    ]


def test_a_stop_on_the_first_server_leaves_every_other_untouched():
    message = rollout_stop_message("web1", HOSTS, ["web1"], "boom")
    assert "Deployed before it" not in message
    assert "Not deployed, serving the release they had: web2, web3." in message


def test_a_batch_of_several_names_the_others_of_the_batch():
    message = rollout_stop_message("web3", HOSTS, ["web2", "web3"], "boom")
    assert "Deployed before it, serving the new release: web1." in message
    assert "In the same batch (each as its own deploy went): web2." in message
    assert "Not deployed" not in message


def test_an_empty_reason_still_says_something():
    assert rollout_stop_message("web1", ["web1"], ["web1"], "  ").startswith(
        "The deploy stopped at web1: a task failed"
    )
