"""The Dockerfile's build, replayed without a container engine: only what its COPY lines bring, its own
`uv sync` commands (offline, from uv's cache), and the result must be a working `credstack` that finds
its migrations and carries no dev dependency."""

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.deployment_files import REPO, Stage, dockerfile_stages

BOOTSTRAP = REPO / "scripts" / "bootstrap.sh"
UV_IMAGE = re.compile(r"--from=ghcr\.io/astral-sh/uv:(\S+)")


def _build_stage() -> Stage:
    return dockerfile_stages()[0]


def test_the_image_uses_the_uv_version_the_repository_pins() -> None:
    pinned = re.search(r"^UV_VERSION=(\S+)$", BOOTSTRAP.read_text(), re.MULTILINE).group(1)
    versions = {match.group(1) for copy in _build_stage().values("COPY") if (match := UV_IMAGE.search(copy))}
    assert versions == {pinned}


@pytest.fixture(scope="module")
def built_app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """/app as the build stage leaves it, in a scratch directory."""
    uv = shutil.which("uv")
    assert uv, "uv is installed by scripts/bootstrap.sh"
    app = tmp_path_factory.mktemp("image") / "app"
    app.mkdir()
    stage = _build_stage()
    (workdir,) = stage.values("WORKDIR")
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("UV_", "VIRTUAL_ENV"))}
    for value in stage.values("ENV"):
        for pair in shlex.split(value):
            key, _, setting = pair.partition("=")
            environment[key] = setting.replace(workdir, str(app))
    # Bytecode compilation only costs time here; the interpreter is this machine's Python 3.11.
    environment |= {"UV_COMPILE_BYTECODE": "0", "UV_LINK_MODE": "hardlink", "UV_PYTHON": sys.executable}
    for instruction, value in stage.instructions:
        if instruction == "COPY" and not value.startswith("--"):
            *sources, target = value.split()
            for source in sources:
                origin = REPO / source
                into_directory = len(sources) > 1 or target.endswith("/")
                destination = app / target / origin.name if into_directory else app / target
                if origin.is_dir():
                    shutil.copytree(origin, destination, ignore=shutil.ignore_patterns("__pycache__"))
                else:
                    shutil.copy2(origin, destination)
        elif instruction == "RUN" and " uv sync " in f" {value} ":
            command = shlex.split(value[value.index("uv sync") :])
            arguments = [uv, *command[1:], "--offline", "--quiet"]
            subprocess.run(arguments, cwd=app, env=environment, check=True)  # noqa: S603 - the Dockerfile's own command
    return app


def _run(app: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith(("CREDSTACK_", "VIRTUAL_ENV"))}
    return subprocess.run(  # noqa: S603 - the built environment's own executables
        [str(app / ".venv" / "bin" / argv[0]), *argv[1:]],
        cwd="/",
        env=environment | {"CREDSTACK_ENVIRONMENT": "production"},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_built_environment_runs_credstack(built_app: Path) -> None:
    result = _run(built_app, "credstack", "run", "--help")
    assert result.returncode == 0, result.stderr
    assert "{taxonomy_api,badge_issuer,gap_engine}" in result.stdout


DEV_ONLY_MODULES = ("pytest", "ruff", "playwright", "kubernetes_validate")


def test_the_built_environment_finds_its_migrations_and_apps_and_no_dev_tool(built_app: Path) -> None:
    probe = (
        "import importlib, importlib.util, shared.settings as s, shared.migrations as m, services.cli as c\n"
        "print(s.REPO_ROOT)\n"
        "assert all(m.head_revision(service) for service in c.SERVICES)\n"
        "for factory in c.APP_FACTORIES.values(): importlib.import_module(factory.split(':')[0])\n"
        f"print([name for name in {DEV_ONLY_MODULES!r} if importlib.util.find_spec(name)])\n"
    )
    result = _run(built_app, "python", "-c", probe)
    assert result.returncode == 0, result.stderr
    root, dev_modules = result.stdout.strip().splitlines()
    assert root == str(built_app)
    assert dev_modules == "[]", "dev dependencies in the image"
