"""The controller's side of apt_lists (plugins/action/apt_lists.py): a later call of the same run
answers from what an earlier one found installed; anything it cannot be sure of goes to the host.

The last tests run ansible-playbook on this machine (a local connection), as a role calls the
module, with and without a persistent fact cache.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("apt_lists_action", ROOT / "plugins" / "action" / "apt_lists.py")
action = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(action)

RUN = "b0a7-1d:4242:6442594"
REMEMBERED = {"run": RUN, "versions": {"nginx": "1.22.1-9", "openssl": "3.0.17-1~deb12u2", "git": "1:2.39.5-0"}}


def fake_proc(tmp_path: Path, pid: int, stat: str) -> str:
    (tmp_path / "sys" / "kernel" / "random").mkdir(parents=True)
    (tmp_path / "sys" / "kernel" / "random" / "boot_id").write_text("b0a7-1d\n")
    (tmp_path / str(pid)).mkdir()
    (tmp_path / str(pid) / "stat").write_text(stat)
    return str(tmp_path)


def test_a_run_is_its_boot_pid_and_start_time(tmp_path):
    # The process name may hold spaces and parentheses: fields count from its last ")".
    stat = "4242 (ansible-play (x) y) S 4100 4242 4100 34816 4242 4194304 9 0 0 0 1 2 0 0 20 0 1 0 6442594 0 0\n"
    assert action.this_run(4242, fake_proc(tmp_path, 4242, stat)) == RUN


def test_no_run_without_proc(tmp_path):
    assert action.this_run(4242, str(tmp_path / "none")) is None
    assert action.this_run(4242, fake_proc(tmp_path, 4242, "4242 (cut) S 1 2\n")) is None


def test_this_run_is_the_same_for_every_call_of_one_process():
    assert action.this_run() == action.this_run() is not None


def test_packages_found_installed_are_answered_with_their_versions():
    answer = action.remembered_answer(REMEMBERED, RUN, {"packages": ["openssl", "nginx"], "valid_time": 3600})
    assert answer == {
        "changed": False,
        "updated": False,
        "reason": action.REASON,
        "waited": 0,
        "missing": [],
        "versions": {"openssl": "3.0.17-1~deb12u2", "nginx": "1.22.1-9"},
    }
    assert action.remembered_answer(REMEMBERED, RUN, {"packages": []})["versions"] == {}


@pytest.mark.parametrize(
    ("remembered", "run", "args"),
    [
        pytest.param(REMEMBERED, RUN, {"packages": ["nginx", "certbot"]}, id="one-not-installed-then"),
        pytest.param(REMEMBERED, RUN, {"packages": ["nginx=1.22.1-9"]}, id="a-version"),
        pytest.param(REMEMBERED, RUN, {"packages": ["nginx:amd64"]}, id="an-architecture"),
        pytest.param(REMEMBERED, RUN, {"packages": ["ngin*"]}, id="a-pattern"),
        pytest.param(REMEMBERED, RUN, {"valid_time": 3600}, id="lists-only"),
        pytest.param(REMEMBERED, RUN, {"packages": "nginx"}, id="not-a-list-yet"),
        pytest.param(REMEMBERED, RUN, {"packages": ["nginx"], "status_file": "/tmp/status"}, id="another-database"),
        pytest.param(REMEMBERED, RUN, {"packages": ["nginx"], "lists_dir": "/tmp/lists"}, id="other-lists"),
        pytest.param(REMEMBERED, "b0a7-1d:4242:7000000", {"packages": ["nginx"]}, id="another-run"),
        pytest.param(REMEMBERED, None, {"packages": ["nginx"]}, id="runs-not-told-apart"),
        pytest.param(None, RUN, {"packages": ["nginx"]}, id="nothing-remembered"),
        pytest.param({"run": RUN, "versions": "nginx"}, RUN, {"packages": ["nginx"]}, id="not-ours"),
    ],
)
def test_only_the_host_can_answer(remembered, run, args):
    assert action.remembered_answer(remembered, run, args) is None


def _playbook(tmp_path: Path, fact_cache: Path | None) -> subprocess.CompletedProcess[str]:
    """Three calls as roles make them: two about installed packages, one about a package with an
    architecture and its own lists directory (which need no refresh, and send it to the host); the
    fact found at the start and the one left at the end, printed as JSON."""
    lists = tmp_path / "lists"
    lists.mkdir(exist_ok=True)
    (lists / "deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages").touch()
    plays = [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "tasks": [
                {"ansible.builtin.set_fact": {"before": "{{ ansible_facts.apt_lists_installed.run | default('') }}"}},
                {"apt_lists": {"packages": ["dpkg"]}, "register": "first"},
                {"apt_lists": {"packages": ["dpkg", "bash"]}, "register": "second"},
                {
                    "apt_lists": {"packages": ["bash:none"], "lists_dir": str(lists), "valid_time": 999_999_999},
                    "register": "third",
                },
                {
                    "ansible.builtin.debug": {
                        "msg": "RESULT {{ {'reasons': [first.reason, second.reason, third.reason], "
                        "'versions': second.versions, 'missing': third.missing, "
                        "'before': before, 'fact': ansible_facts.apt_lists_installed} | to_json }}"
                    }
                },
            ],
        }
    ]
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(yaml.safe_dump(plays))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    env["ANSIBLE_STDOUT_CALLBACK"] = "ansible.builtin.default"
    env["ANSIBLE_CALLBACK_RESULT_FORMAT"] = "json"
    if fact_cache:
        env |= {"ANSIBLE_CACHE_PLUGIN": "ansible.builtin.jsonfile", "ANSIBLE_CACHE_PLUGIN_CONNECTION": str(fact_cache)}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    interpreter = f"ansible_python_interpreter={sys.executable}"
    command = ["ansible-playbook", "-i", "localhost,", "-c", "local", "-e", interpreter]
    return subprocess.run(
        [*command, str(playbook)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _result(done: subprocess.CompletedProcess[str]) -> dict:
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(line for line in done.stdout.splitlines() if '"msg": "RESULT ' in line)
    return json.loads(json.loads("{" + line.strip().rstrip(",") + "}")["msg"].removeprefix("RESULT "))


needs_dpkg = pytest.mark.skipif(not Path("/var/lib/dpkg/status").exists(), reason="a controller without dpkg")


@needs_dpkg
def test_the_second_call_of_a_run_is_answered_on_the_controller(tmp_path):
    result = _result(_playbook(tmp_path, None))
    first, second, third = result["reasons"]
    assert first == "every package is installed: no lists needed"
    assert second == action.REASON
    assert set(result["versions"]) == {"dpkg", "bash"} and all(result["versions"].values())
    assert result["before"] == ""
    # A call with its own lists directory went to the host, which found the name not installed.
    # (A name with an architecture goes to the host on its own: test_only_the_host_can_answer.)
    assert result["missing"] == ["bash:none"] and third != action.REASON
    assert result["fact"]["versions"]["dpkg"] == result["versions"]["dpkg"]


@needs_dpkg
def test_a_fact_cached_by_an_earlier_run_is_not_trusted(tmp_path):
    cache = tmp_path / "facts"
    runs = [_result(_playbook(tmp_path, cache)) for _ in range(2)]
    assert runs[0]["fact"]["run"] != runs[1]["fact"]["run"]
    # The second run found the first run's fact in the cache, and asked the host all the same.
    assert runs[1]["before"] == runs[0]["fact"]["run"]
    assert runs[1]["reasons"][0] == "every package is installed: no lists needed"
    assert runs[1]["reasons"][1] == action.REASON
