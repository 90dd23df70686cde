"""plugins/modules/app_virtualenv.py: any app's dependency files, and the server packages the kit adds.

The rules are unit-tested here; one real build (pip from PyPI) shows an app's own Gunicorn
pin winning over the kit's. molecule/default builds the kit's app, a uv project and a
classic requirements app on real servers.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins" / "modules"))

import app_virtualenv as av  # noqa: E402

MODULE = Path(av.__file__)
PYPROJECT = '[project]\nname = "demo"\nversion = "1.0"\ndependencies = ["fastapi"]\n'


@pytest.mark.parametrize(
    ("requirement", "name"),
    [
        ("gunicorn==27.0.1", "gunicorn"),
        ("uvicorn[standard]==0.54.0", "uvicorn"),
        ("Uvicorn_Worker>=0.4", "uvicorn-worker"),
        ("zope.interface", "zope-interface"),
    ],
)
def test_requirement_name(requirement, name):
    assert av.requirement_name(requirement) == name


def test_requirement_name_refuses_nonsense():
    with pytest.raises(av.ProjectError, match="not a requirement"):
        av.requirement_name("==1.0")


@pytest.mark.parametrize(
    ("files", "install", "method"),
    [
        ({"uv.lock": "", "pyproject.toml": PYPROJECT, "requirements.txt": ""}, "auto", "uv"),
        ({"requirements.txt": "", "pyproject.toml": PYPROJECT}, "auto", "requirements"),
        ({"pyproject.toml": PYPROJECT}, "auto", "pyproject"),
        ({"uv.lock": "", "pyproject.toml": PYPROJECT, "requirements.txt": ""}, "requirements", "requirements"),
    ],
    ids=["lock-first", "requirements-before-pyproject", "pyproject", "asked-for"],
)
def test_detect_method(tmp_path, files, install, method):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert av.detect_method(str(tmp_path), install, "requirements.txt") == method


def test_detect_method_says_what_it_looked_for(tmp_path):
    with pytest.raises(av.ProjectError, match="has none of uv.lock, reqs/prod.txt or pyproject.toml"):
        av.detect_method(str(tmp_path), "auto", "reqs/prod.txt")


def test_requirement_files_follow_includes_once(tmp_path):
    (tmp_path / "requirements.txt").write_text("-r base.txt\n--constraint=pins.txt\nfastapi\n")
    (tmp_path / "base.txt").write_text("-r requirements.txt\nhttpx\n")
    (tmp_path / "pins.txt").write_text("httpx==0.28.1\n")
    files = av.requirement_files(str(tmp_path / "requirements.txt"))
    assert [Path(f).name for f in files] == ["requirements.txt", "base.txt", "pins.txt"]


@pytest.mark.parametrize(
    ("files", "method", "message"),
    [
        ({}, "requirements", "app_install is requirements, but"),
        ({}, "pyproject", "app_install is pyproject, but"),
        ({"pyproject.toml": "[tool.x]\n"}, "pyproject", "has no [project] table"),
        ({"pyproject.toml": "[project\n"}, "pyproject", "is not valid TOML"),
        ({"pyproject.toml": PYPROJECT}, "uv", "run `uv lock` and commit it"),
    ],
)
def test_dependency_files_refuse_what_cannot_install(tmp_path, files, method, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(av.ProjectError, match=message.replace("[", r"\[").replace("(", r"\(")):
        av.dependency_files(str(tmp_path), method, "requirements.txt")


def test_the_key_changes_with_everything_that_goes_in_and_nothing_else(tmp_path):
    lock = tmp_path / "uv.lock"
    lock.write_text("lock 1")
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(PYPROJECT)
    files = [str(pyproject), str(lock)]
    base = ("/opt/pyenv/versions/3.13.5/bin/python3", "uv", files, ["gunicorn==27.0.1"], "", "/opt/uv-0.13.9/bin/uv")
    key = av.venv_key(*base)
    assert key == av.venv_key(*base)
    assert len(key) == 16
    variants = [
        ("/opt/pyenv/versions/3.12.9/bin/python3", *base[1:]),
        (base[0], "pyproject", *base[2:]),
        (*base[:3], ["gunicorn==23.0.0"], *base[4:]),
        (*base[:4], "--only-binary=:all:", base[5]),
        (*base[:5], "/opt/uv-0.14.0/bin/uv"),
    ]
    assert len({av.venv_key(*variant) for variant in variants} | {key}) == len(variants) + 1
    lock.write_text("lock 2")
    assert av.venv_key(*base) != key
    # The server packages' order is not what goes in.
    assert av.venv_key(*base[:3], ["b==1", "a==1"], *base[4:]) == av.venv_key(*base[:3], ["a==1", "b==1"], *base[4:])


def test_missing_server_packages_leave_the_apps_own():
    server = ["gunicorn==27.0.1", "uvicorn-worker==0.4.0", "uvicorn[standard]==0.54.0"]
    assert av.missing_server_packages(server, ["Gunicorn", "fastapi", "uvicorn"]) == ["uvicorn-worker==0.4.0"]
    assert av.missing_server_packages(server, []) == server


def run_module(tmp_path: Path, **arguments) -> dict:
    args = tmp_path / "args.json"
    args.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": arguments}))
    result = subprocess.run([sys.executable, str(MODULE), str(args)], capture_output=True, text=True, timeout=600)
    return json.loads(result.stdout)


def test_a_real_build_keeps_the_apps_gunicorn_pin_and_adds_the_worker(tmp_path):
    """pip from PyPI: the app pins Gunicorn 23.0.0; the kit adds uvicorn-worker, not its own Gunicorn."""
    project = tmp_path / "release" / "app"
    project.mkdir(parents=True)
    (project / "requirements.txt").write_text("gunicorn==23.0.0\n")
    common = {
        "python": sys.executable,
        "project_dir": str(project),
        "venvs_dir": str(tmp_path / "venvs"),
        "server_packages": ["gunicorn==27.0.1", "uvicorn-worker==0.4.0"],
        "link": str(tmp_path / "release" / ".venv"),
    }
    first = run_module(tmp_path, **common)
    assert first.get("failed") is not True, first
    assert (first["method"], first["built"], first["changed"]) == ("requirements", True, True)
    assert first["added"] == ["uvicorn-worker==0.4.0"]
    venv = Path(first["venv"])
    assert Path(common["link"]).resolve() == venv
    versions = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import gunicorn, uvicorn_worker; print(gunicorn.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert versions.stdout.strip() == "23.0.0"
    again = run_module(tmp_path, **common)
    assert (again["venv"], again["built"], again["changed"]) == (first["venv"], False, False)


def test_a_failing_install_says_which_command_and_leaves_no_venv(tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("this-package-does-not-exist-fastapi-kit==0.0.1\n")
    result = run_module(
        tmp_path, python=sys.executable, project_dir=str(project), venvs_dir=str(tmp_path / "venvs"), server_packages=[]
    )
    assert result["failed"] is True
    assert result["msg"].startswith("pip install failed with status 1:")
    assert "this-package-does-not-exist-fastapi-kit" in result["stderr"]
    assert not Path(result["venv"]).exists()


def test_a_python_that_is_not_there_says_what_builds_it(tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("")
    missing = tmp_path / "pyenv" / "versions" / "3.99.0" / "bin" / "python3"
    result = run_module(tmp_path, python=str(missing), project_dir=str(project), venvs_dir=str(tmp_path / "venvs"))
    assert result["failed"] is True
    assert result["msg"] == (
        f"{missing} is not there: this server's Python was not built. Run playbooks/site.yml (or app.yml), "
        "whose pyenv role builds it, then deploy again."
    )
    assert not (tmp_path / "venvs").exists()


TINY_UV_LOCK = """version = 1
revision = 3
requires-python = ">=3.11"

[[package]]
name = "tiny"
version = "0.1.0"
source = { virtual = "." }
"""


def test_a_uv_project_gets_the_pinned_uv_the_first_time_then_syncs(tmp_path):
    """uv from PyPI into its own virtualenv, only when a uv project needs it; the next build reuses it."""
    project = tmp_path / "release" / "app"
    project.mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[project]\nname = "tiny"\nversion = "0.1.0"\nrequires-python = ">=3.11"\ndependencies = []\n'
    )
    (project / "uv.lock").write_text(TINY_UV_LOCK)
    uv = tmp_path / "uv-0.13.9" / "bin" / "uv"
    common = {
        "python": sys.executable,
        "project_dir": str(project),
        "venvs_dir": str(tmp_path / "venvs"),
        "uv": str(uv),
        "uv_requirement": "uv==0.13.9",
    }
    first = run_module(tmp_path, **common)
    assert first.get("failed") is not True, first
    assert (first["method"], first["built"]) == ("uv", True)
    version = subprocess.run([str(uv), "--version"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("uv 0.13.9")
    installed = uv.stat().st_mtime_ns
    (project / "uv.lock").write_text(TINY_UV_LOCK + "\n")  # another key: a new build, with the same uv
    second = run_module(tmp_path, **common)
    assert second.get("failed") is not True, second
    assert second["built"] and second["venv"] != first["venv"] and uv.stat().st_mtime_ns == installed


def test_a_requirements_app_never_gets_uv(tmp_path):
    project = tmp_path / "app"
    project.mkdir()
    (project / "requirements.txt").write_text("")
    uv = tmp_path / "uv-0.13.9" / "bin" / "uv"
    result = run_module(
        tmp_path,
        python=sys.executable,
        project_dir=str(project),
        venvs_dir=str(tmp_path / "venvs"),
        uv=str(uv),
        uv_requirement="uv==0.13.9",
    )
    assert result.get("failed") is not True, result
    assert result["method"] == "requirements" and not uv.parent.parent.exists()
