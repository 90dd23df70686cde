#!/usr/bin/python
"""Build or reuse the virtualenv of an app release, whatever its dependency files."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import tomllib

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: app_virtualenv
short_description: Build or reuse the virtualenv of an app release
description:
  - >-
    Installs the app's dependencies the way its project says: a requirements file
    (C(pip install -r)), a PEP 621 C(pyproject.toml) (C(pip install .)), or a
    C(uv.lock) (C(uv sync --frozen --no-dev --no-editable)). O(install=auto) takes
    C(uv.lock), else the requirements file, else C(pyproject.toml).
  - >-
    Then adds the server packages (O(server_packages): Gunicorn, the Uvicorn worker,
    ...) that the app did not install itself, constrained to the versions the app
    installed: an app that pins its own Gunicorn keeps it.
  - >-
    The virtualenv is named after everything that goes into it (the Python, the
    method, the dependency files' contents, the server packages, the extra
    arguments): a release whose dependencies did not change reuses it. The release's
    own code is imported from the release directory (see O(project_dir)), ahead of
    any copy installed in the virtualenv.
  - A build that fails half way is redone from scratch next time (a marker file is written last).
options:
  python:
    description: The Python the virtualenv is made with.
    type: path
    required: true
  project_dir:
    description: The app's directory in the release (where its dependency files are).
    type: path
    required: true
  venvs_dir:
    description: Directory the virtualenvs live in, one per key.
    type: path
    required: true
  install:
    description: How to install the app's dependencies.
    type: str
    choices: [auto, requirements, pyproject, uv]
    default: auto
  requirements_file:
    description: Requirements file, relative to O(project_dir).
    type: str
    default: requirements.txt
  server_packages:
    description: Requirements the kit adds when the app has not installed a distribution of that name.
    type: list
    elements: str
    default: []
  pip_extra_args:
    description: Extra arguments for pip install (requirements and pyproject only).
    type: str
    default: ""
  uv:
    description: The uv executable, needed for uv projects.
    type: path
  uv_requirement:
    description:
      - What to install uv from (C(uv==0.13.9)) when a uv project needs it and O(uv) is not there yet.
      - It goes into a virtualenv of its own, the directory above O(uv)'s C(bin/), made with O(python).
        Apps installed otherwise never get uv.
    type: str
  link:
    description: A symlink made to point at the virtualenv (the release's C(.venv)).
    type: path
author: fastapi-kit
"""

EXAMPLES = r"""
- name: Build or reuse the release's virtualenv
  app_virtualenv:
    python: /opt/pyenv/versions/3.13.5/bin/python3
    project_dir: /srv/webapp/releases/0123456789ab/app
    venvs_dir: /srv/webapp/venvs
    server_packages: [gunicorn==27.0.1, uvicorn-worker==0.4.0]
    uv: /opt/fastapi-kit/uv-0.13.9/bin/uv
    uv_requirement: uv==0.13.9
    link: /srv/webapp/releases/0123456789ab/.venv
"""

RETURN = r"""
venv:
  description: The virtualenv's path.
  type: str
  returned: always
method:
  description: How the dependencies were (or would be) installed.
  type: str
  returned: always
built:
  description: Whether the virtualenv was built by this run (false when an existing one was reused).
  type: bool
  returned: always
added:
  description: The server packages the kit added to the app's own.
  type: list
  returned: when built
python_path:
  description: >-
    Directories to put first on PYTHONPATH, so the release's code is imported from the
    release (its src/ directory in a src layout, else the app directory).
  type: list
  returned: always
"""

MARKER = ".complete"
# uv as a server runs it: no Python downloads, no user configuration, and the system's
# certificate store (uv's own roots know no company proxy or private index CA).
UV_ENVIRONMENT = {"UV_PYTHON_DOWNLOADS": "never", "UV_NO_CONFIG": "1", "UV_NATIVE_TLS": "1"}
LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; print(json.dumps({d.name: d.version for d in m.distributions()}))"
)
NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")


class ProjectError(Exception):
    """The release cannot be installed as configured."""


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution a requirement names ('uvicorn[standard]==0.54.0' -> 'uvicorn')."""
    match = NAME.match(requirement)
    if not match:
        raise ProjectError(f"not a requirement: {requirement!r}")
    return canonical(match.group(1))


def detect_method(project_dir: str, install: str, requirements_file: str) -> str:
    """The install method: the one asked for, or the one the project's files call for."""
    if install != "auto":
        return install
    if os.path.isfile(os.path.join(project_dir, "uv.lock")):
        return "uv"
    if os.path.isfile(os.path.join(project_dir, requirements_file)):
        return "requirements"
    if os.path.isfile(os.path.join(project_dir, "pyproject.toml")):
        return "pyproject"
    raise ProjectError(
        f"{project_dir} has none of uv.lock, {requirements_file} or pyproject.toml: "
        "set app_install and app_requirements_file, or app_repo_subdir"
    )


def requirement_files(path: str, seen: set[str] | None = None) -> list[str]:
    """A requirements file and every file it includes (-r, -c), in the order pip reads them."""
    seen = set() if seen is None else seen
    real = os.path.realpath(path)
    if real in seen:
        return []
    seen.add(real)
    files = [path]
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            match = INCLUDE.match(line)
            if match:
                files += requirement_files(os.path.join(os.path.dirname(path), match.group(1)), seen)
    return files


def dependency_files(project_dir: str, method: str, requirements_file: str) -> list[str]:
    """The files whose contents decide what the method installs."""
    if method == "requirements":
        path = os.path.join(project_dir, requirements_file)
        if not os.path.isfile(path):
            raise ProjectError(f"app_install is requirements, but {path} does not exist")
        return requirement_files(path)
    pyproject = os.path.join(project_dir, "pyproject.toml")
    if not os.path.isfile(pyproject):
        raise ProjectError(f"app_install is {method}, but {pyproject} does not exist")
    with open(pyproject, "rb") as handle:
        try:
            project = tomllib.load(handle).get("project")
        except tomllib.TOMLDecodeError as error:
            raise ProjectError(f"{pyproject} is not valid TOML: {error}") from None
    if not isinstance(project, dict) or "name" not in project:
        raise ProjectError(f"{pyproject} has no [project] table with a name (PEP 621)")
    if method == "pyproject":
        return [pyproject]
    lock = os.path.join(project_dir, "uv.lock")
    if not os.path.isfile(lock):
        raise ProjectError(f"app_install is uv, but {lock} does not exist: run `uv lock` and commit it")
    return [pyproject, lock]


def venv_key(python: str, method: str, files: list[str], server_packages: list[str], extra: str, uv: str) -> str:
    """What goes into a virtualenv, as the 16 hex digits that name it."""
    digest = hashlib.sha256()
    header = {
        "python": os.path.realpath(python),
        "method": method,
        "server": sorted(server_packages),
        "extra": extra,
        "uv": uv if method == "uv" else "",
    }
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in files:
        digest.update(b"\0" + os.path.basename(path).encode() + b"\0")
        with open(path, "rb") as handle:
            digest.update(handle.read())
    return digest.hexdigest()[:16]


def missing_server_packages(server_packages: list[str], installed: list[str]) -> list[str]:
    """The server packages whose distribution the app did not install itself."""
    have = {canonical(name) for name in installed}
    return [requirement for requirement in server_packages if requirement_name(requirement) not in have]


class Builder:
    """Runs the commands that make one virtualenv, failing the module with their output."""

    def __init__(self, module: AnsibleModule, venv: str, project_dir: str):
        self.module, self.venv, self.project_dir = module, venv, project_dir
        self.python = os.path.join(venv, "bin", "python")

    def run(self, argv: list[str], what: str, **env: str) -> str:
        environ = {"PIP_NO_INPUT": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1", **env}
        rc, out, err = self.module.run_command(argv, cwd=self.project_dir, environ_update=environ)
        if rc != 0:
            shutil.rmtree(self.venv, ignore_errors=True)
            self.module.fail_json(
                msg=f"{what} failed with status {rc}: {' '.join(argv)}", rc=rc, stdout=out, stderr=err, venv=self.venv
            )
        return out

    def installed(self) -> dict[str, str]:
        """The distributions in the virtualenv, name to version."""
        return json.loads(self.run([self.python, "-c", LIST_DISTRIBUTIONS], "Listing the installed distributions"))


def write_constraints(installed: dict[str, str]) -> str:
    """The installed versions as a constraints file: the server packages must fit the app's pins."""
    with tempfile.NamedTemporaryFile("w", suffix=".txt", prefix="constraints-", delete=False) as handle:
        handle.writelines(f"{name}=={version}\n" for name, version in sorted(installed.items()))
    return handle.name


def build(module: AnsibleModule, method: str, venv: str, params: dict) -> list[str]:
    """Make the virtualenv; return the server packages added to the app's own."""
    project_dir, extra = params["project_dir"], params["pip_extra_args"].split()
    shutil.rmtree(venv, ignore_errors=True)
    builder = Builder(module, venv, project_dir)
    uv = params["uv"]
    if method == "uv":
        if not uv:
            module.fail_json(msg="This app is a uv project (uv.lock): give the uv executable (uv)")
        if not os.access(uv, os.X_OK):
            install_uv(builder, uv, params["uv_requirement"], params["python"])
        builder.run(
            [uv, "sync", "--frozen", "--no-dev", "--no-editable", "--compile-bytecode", "--python", params["python"]],
            "uv sync",
            UV_PROJECT_ENVIRONMENT=venv,
            **UV_ENVIRONMENT,
        )
    else:
        builder.run([params["python"], "-m", "venv", venv], "Creating the virtualenv")
        source = ["-r", params["requirements_file"]] if method == "requirements" else ["."]
        builder.run([builder.python, "-m", "pip", "install", "--quiet", *extra, *source], "pip install")
    installed = builder.installed()
    added = missing_server_packages(params["server_packages"], list(installed))
    if added:
        constraints = write_constraints(installed)
        try:
            if method == "uv":
                command = [uv, "pip", "install", "--python", builder.python, "-c", constraints, *added]
                builder.run(command, "Adding the server packages", **UV_ENVIRONMENT)
            else:
                command = [builder.python, "-m", "pip", "install", "--quiet", *extra, "-c", constraints, *added]
                builder.run(command, "Adding the server packages")
        finally:
            os.unlink(constraints)
    with open(os.path.join(venv, MARKER), "w", encoding="utf-8") as handle:
        json.dump({"method": method, "added": added}, handle)
    return added


def install_uv(builder: Builder, uv: str, requirement: str | None, python: str) -> None:
    """uv in a virtualenv of its own (the directory above uv's bin/), for every uv project on the server."""
    if not requirement:
        builder.module.fail_json(msg=f"This app is a uv project (uv.lock) and {uv} is not there: give uv_requirement")
    bin_dir = os.path.dirname(uv)
    if os.path.basename(bin_dir) != "bin":
        builder.module.fail_json(msg=f"uv must be <virtualenv>/bin/uv to be installed by the kit, not {uv}")
    home = os.path.dirname(bin_dir)
    shutil.rmtree(home, ignore_errors=True)  # a half-made one from an interrupted run
    builder.run([python, "-m", "venv", home], "Creating uv's virtualenv")
    builder.run([os.path.join(bin_dir, "python"), "-m", "pip", "install", "--quiet", requirement], "Installing uv")


def python_path(project_dir: str) -> list[str]:
    """Where the release's own code is imported from: src/ in a src layout, else the app directory."""
    source = os.path.join(project_dir, "src")
    return [source] if os.path.isdir(source) else [project_dir]


def point_link(module: AnsibleModule, link: str, venv: str) -> bool:
    """Make link point at venv (replaced atomically); True when it changed."""
    if os.path.islink(link) and os.readlink(link) == venv:
        return False
    if not module.check_mode:
        temporary = f"{link}.new"
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(venv, temporary)
        os.replace(temporary, link)
    return True


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "python": {"type": "path", "required": True},
            "project_dir": {"type": "path", "required": True},
            "venvs_dir": {"type": "path", "required": True},
            "install": {"type": "str", "choices": ["auto", "requirements", "pyproject", "uv"], "default": "auto"},
            "requirements_file": {"type": "str", "default": "requirements.txt"},
            "server_packages": {"type": "list", "elements": "str", "default": []},
            "pip_extra_args": {"type": "str", "default": ""},
            "uv": {"type": "path"},
            "uv_requirement": {"type": "str"},
            "link": {"type": "path"},
        },
        supports_check_mode=True,
    )
    params = module.params
    if module.check_mode and not os.path.isdir(params["project_dir"]):
        # A new release is not exported in check mode: it would get a virtualenv.
        module.exit_json(
            changed=True, venv=os.path.join(params["venvs_dir"], "(new)"), method="unknown", built=True, python_path=[]
        )
    if not os.access(params["python"], os.X_OK):
        module.fail_json(
            msg=f"{params['python']} is not there: this server's Python was not built. Run playbooks/site.yml "
            "(or app.yml), whose pyenv role builds it, then deploy again."
        )
    try:
        method = detect_method(params["project_dir"], params["install"], params["requirements_file"])
        files = dependency_files(params["project_dir"], method, params["requirements_file"])
        for requirement in params["server_packages"]:
            requirement_name(requirement)
    except (ProjectError, OSError) as error:
        module.fail_json(msg=str(error))
    key = venv_key(
        params["python"], method, files, params["server_packages"], params["pip_extra_args"], params["uv"] or ""
    )
    venv = os.path.join(params["venvs_dir"], key)
    built, added = False, []
    if not os.path.isfile(os.path.join(venv, MARKER)):
        built = True
        if not module.check_mode:
            added = build(module, method, venv, params)
    linked = point_link(module, params["link"], venv) if params["link"] else False
    module.exit_json(
        changed=built or linked,
        venv=venv,
        method=method,
        built=built,
        added=added,
        python_path=python_path(params["project_dir"]),
    )


if __name__ == "__main__":
    main()
