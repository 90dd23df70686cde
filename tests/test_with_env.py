"""roles/app/files/with-env: a release's processes get exactly the settings it was deployed with."""

import importlib.machinery
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "roles" / "app" / "files" / "with-env"
_loader = importlib.machinery.SourceFileLoader("with_env", str(SCRIPT))
_spec = importlib.util.spec_from_loader("with_env", _loader)
with_env = importlib.util.module_from_spec(_spec)
_loader.exec_module(with_env)

# Values as the app role's env.j2 writes them: NAME=<to_json(ensure_ascii=False)>.
AWKWARD = {
    "PLAIN": "value",
    "QUOTES": 'say "hi"',
    "SHELL": "$HOME `id` $(id) \\ ; & |",
    "NEWLINE": "line one\nline two",
    "UNICODE": "Grüße, 東京",
    "EMPTY": "",
    "EQUALS": "a=b=c",
}


def env_text(values: dict[str, str]) -> str:
    lines = ["#", "# Ansible managed", ""]
    lines += [f"{name}={json.dumps(value, ensure_ascii=False)}" for name, value in sorted(values.items())]
    return "\n".join(lines) + "\n"


def test_parse_env_reads_back_every_value_as_written():
    assert with_env.parse_env(env_text(AWKWARD)) == AWKWARD


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("NO_EQUALS", "settings:1: not a NAME=value line"),
        ('9NAME="x"', "settings:1: not a NAME=value line"),
        ("NAME=unquoted", "settings:1: NAME's value is not a JSON string"),
        ("NAME=42", "settings:1: NAME's value is not a JSON string"),
        ('NAME="open', "settings:1: NAME's value is not a JSON string"),
    ],
)
def test_parse_env_names_the_bad_line(line, message):
    with pytest.raises(with_env.SettingsError, match="^" + message.replace("(", r"\(")):
        with_env.parse_env(line)


def test_environment_puts_paths_first_and_settings_over_the_base():
    env = with_env.environment({"PATH": "/bin", "PYTHONPATH": "/old", "A": "base"}, {"A": "set"}, ["/r/src", "/r"])
    assert env == {"PATH": "/bin", "PYTHONPATH": "/r/src:/r:/old", "A": "set"}
    assert "PYTHONPATH" not in with_env.environment({}, {}, [])


def run(tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *arguments], capture_output=True, text=True, timeout=30)


def test_the_command_runs_with_the_settings(tmp_path):
    settings = tmp_path / "settings.env"
    settings.write_text(env_text(AWKWARD))
    show = "import json, os, sys; print(json.dumps({k: os.environ[k] for k in sys.argv[1:]} | {'PP': sys.path[1]}))"
    result = run(tmp_path, str(settings), "--path=/release/src:/release", "--", sys.executable, "-c", show, *AWKWARD)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    assert seen.pop("PP") == "/release/src"
    assert seen == AWKWARD


def test_exec_keeps_the_process(tmp_path):
    """Supervisor signals the process it started: with-env must become the command, not its parent."""
    settings = tmp_path / "settings.env"
    settings.write_text("")
    result = subprocess.run(
        ["sh", "-c", f'echo $$; exec {sys.executable} {SCRIPT} {settings} -- sh -c "echo \\$\\$"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    first, second = result.stdout.split()
    assert first == second


@pytest.mark.parametrize(
    ("arguments", "status", "message"),
    [
        (["/no/such/file.env", "--", "true"], 2, "cannot read /no/such/file.env"),
        (["{settings}", "true"], 2, "usage: with-env"),
        (["{settings}", "--bogus", "--", "true"], 2, "unknown option '--bogus'"),
        (["{settings}", "--path", "/x", "--", "true"], 2, "unknown option '--path'"),
        (["{settings}", "--", "/no/such/command"], 127, "cannot run /no/such/command"),
    ],
)
def test_failures_say_why(tmp_path, arguments, status, message):
    settings = tmp_path / "settings.env"
    settings.write_text('NAME="x"\n')
    result = run(tmp_path, *(a.format(settings=settings) for a in arguments))
    assert (result.returncode, result.stdout) == (status, "")
    assert message in result.stderr


def test_a_bad_settings_file_stops_before_the_command(tmp_path):
    settings = tmp_path / "settings.env"
    settings.write_text('GOOD="x"\nBAD=x\n')
    marker = tmp_path / "ran"
    result = run(tmp_path, str(settings), "--", "touch", str(marker))
    assert result.returncode == 2
    assert f"{settings}:2: BAD's value is not a JSON string" in result.stderr
    assert not marker.exists()
    assert os.access(SCRIPT, os.X_OK)


def test_split_arguments_takes_paths_in_one_option_and_ignores_an_empty_one():
    assert with_env.split_arguments(["f.env", "--path=/r/src:/r", "--path=", "--", "cmd", "--path=x"]) == (
        "f.env",
        ["/r/src", "/r"],
        ["cmd", "--path=x"],
    )
