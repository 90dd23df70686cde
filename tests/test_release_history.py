"""plugins/filter/release_history.py: the history the gunicorn role writes, and the rollback's choice.

molecule/default rolls back on real servers, under load (to the previous release, to a
named one, to one pruned from disk, to one never live).
"""

import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "filter"))

from release_history import release_history, rollback_candidate  # noqa: E402

# As roles/gunicorn/tasks/swap.yml writes it: the time, a space, the release as JSON.
HISTORY = """2026-12-01T10:00:00Z {"id": "aaa", "commit": "aaa1", "dir": "/srv/webapp/releases/aaa"}
2026-12-01T11:00:00Z {"id": "bbb", "commit": "bbb1", "dir": "/srv/webapp/releases/bbb"}
2026-12-01T12:00:00Z {"id": "aaa", "commit": "aaa1", "dir": "/srv/webapp/releases/aaa", "fingerprint": "2"}
2026-12-01T13:00:00Z {"id": "ccc", "commit": "ccc1", "dir": "/srv/webapp/releases/ccc"}
"""


def test_the_history_is_read_oldest_first():
    assert [r["id"] for r in release_history(HISTORY)] == ["aaa", "bbb", "aaa", "ccc"]


def test_an_empty_history_has_no_releases():
    assert release_history("") == []
    assert release_history("\n\n") == []


@pytest.mark.parametrize(
    ("line", "why"),
    [
        pytest.param("2026-12-01T10:00:00Z {not json", "line 2: not a release", id="not-json"),
        pytest.param('2026-12-01T10:00:00Z {"commit": "x"}', "line 2: no release id", id="no-id"),
        pytest.param('2026-12-01T10:00:00Z ["aaa"]', "line 2: no release id", id="not-an-object"),
    ],
)
def test_a_damaged_line_is_named(line, why):
    text = HISTORY.splitlines()[0] + "\n" + line + "\n"
    with pytest.raises(AnsibleFilterError, match=why):
        release_history(text)


def test_without_a_wish_the_rollback_serves_the_newest_release_that_is_not_live():
    assert rollback_candidate(release_history(HISTORY), live_id="ccc")["id"] == "aaa"


def test_the_newest_entry_of_a_release_live_twice_wins():
    assert rollback_candidate(release_history(HISTORY), live_id="ccc", wanted="aaa")["fingerprint"] == "2"


def test_a_named_release_is_served_when_it_was_live_here():
    assert rollback_candidate(release_history(HISTORY), live_id="ccc", wanted="bbb")["id"] == "bbb"


@pytest.mark.parametrize(
    ("text", "live", "wanted"),
    [
        pytest.param(HISTORY, "ccc", "zzz", id="never-live-here"),
        pytest.param('2026-12-01T10:00:00Z {"id": "aaa"}\n', "aaa", "", id="only-the-live-one"),
        pytest.param("", "", "", id="no-history"),
    ],
)
def test_no_candidate_is_an_empty_release(text, live, wanted):
    assert rollback_candidate(release_history(text), live_id=live, wanted=wanted) == {}
