"""The image and what runs it: built from the lock with uv in a stage the runtime does not carry, run
as a non-root user (the same uid the manifests require), every command a real `credstack` command
with a real service, every probe a real route, one image reference everywhere."""

import re
import tomllib
from pathlib import Path

import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from services import cli
from shared.migrations import MIGRATIONS_DIR
from shared.settings import REPO_ROOT
from tests.deploy.deployment_files import (
    REPO,
    Workload,
    all_workloads,
    compose_document,
    dockerfile_stages,
    final_stage,
    image_cmd,
    image_entrypoint,
    image_healthcheck_command,
    image_user,
    k8s_objects,
    named_port,
    probe_in_command,
    serving_ports,
)
from tests.deploy.production import PlatformKeys, build_app

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
WORKLOADS = all_workloads()
SERVICE_WORKLOADS = [workload for workload in WORKLOADS if workload.service]
ROOT_USERS = {"root", "0"}
# What compiles or installs: none of it belongs in the stage that runs.
BUILD_TOOLS = re.compile(r"\b(uv|uvx|pip|pip3|apt-get|apt|gcc|cc|make|build-essential|poetry)\b")


def _uid_created_in_final_stage() -> str:
    created = [re.search(r"useradd\b.*?--uid\s+(\d+)", run) for run in final_stage().values("RUN")]
    uids = [match.group(1) for match in created if match]
    assert len(uids) == 1, "the final stage creates one user, with an explicit --uid"
    return uids[0]


def test_the_image_runs_as_the_non_root_user_it_creates() -> None:
    user, _, group = image_user().partition(":")
    assert user not in ROOT_USERS and group not in ROOT_USERS
    assert user == _uid_created_in_final_stage(), "USER is the created user's numeric uid (runAsNonRoot checks it)"


def test_the_manifests_run_the_image_as_that_user() -> None:
    uid = int(_uid_created_in_final_stage())
    for kind in ("Deployment", "Job"):
        for item in k8s_objects(kind):
            pod = item["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True, item["metadata"]["name"]
            assert pod["securityContext"]["runAsUser"] == uid, item["metadata"]["name"]
            for container in pod["containers"]:
                security = container["securityContext"]
                assert security["allowPrivilegeEscalation"] is False
                assert security["capabilities"]["drop"] == ["ALL"]


def test_the_locked_environment_is_built_with_uv_in_an_earlier_stage() -> None:
    stages = dockerfile_stages()
    assert len(stages) >= 2, "multi-stage: build tools stay behind"
    build, runtime = stages[0], stages[-1]
    runs = " ".join(build.values("RUN"))
    assert "uv sync --frozen --no-dev" in runs
    assert any("uv.lock" in copy.split() for copy in build.values("COPY"))
    # The virtual environment's interpreter is the base image's: both stages use one base.
    assert build.base_image == runtime.base_image


def test_the_final_stage_carries_no_build_tool() -> None:
    runtime = final_stage()
    assert re.fullmatch(r"python:3\.11-slim(-\w+)?", runtime.base_image), runtime.base_image
    for run in runtime.values("RUN"):
        assert not BUILD_TOOLS.search(run), run
    build_stage = dockerfile_stages()[0].name
    for copy in runtime.values("COPY"):
        assert copy.startswith(f"--from={build_stage} "), f"the runtime copies only the built tree: {copy}"


def test_the_base_python_is_the_one_the_project_requires() -> None:
    version = re.match(r"python:(\d+\.\d+)", final_stage().base_image).group(1)
    required = PYPROJECT["project"]["requires-python"]
    assert f">={version}" in required and f"<{version.split('.')[0]}.{int(version.split('.')[1]) + 1}" in required


def test_the_image_copies_the_packages_and_the_migrations() -> None:
    """The project is installed editable, so REPO_ROOT is /app: migrations/ must sit beside the packages."""
    copied = {
        Path(copy.split()[0]).as_posix()
        for stage in dockerfile_stages()
        for copy in stage.values("COPY")
        if not copy.startswith("--")
    }
    packages = set(PYPROJECT["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"])
    assert packages | {MIGRATIONS_DIR.relative_to(REPO_ROOT).as_posix()} <= copied


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    """What `credstack` would start: the CLI's own parser and dispatch, uvicorn and Alembic left out."""
    calls: list[tuple] = []
    monkeypatch.setattr(cli, "run_service", lambda service, **options: calls.append(("run", service, options)))
    monkeypatch.setattr(cli, "migrate", lambda services: calls.append(("migrate", tuple(services))))
    return calls


def _run_cli(argv: list[str], recorded: list[tuple]) -> tuple:
    script = PYPROJECT["project"]["scripts"]
    assert argv[0] in script and script[argv[0]] == "services.cli:main", argv
    assert cli.main(argv[1:]) == 0
    (call,) = recorded
    return call


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda workload: workload.label)
def test_every_command_is_a_credstack_command_with_a_real_service(workload: Workload, recorded: list[tuple]) -> None:
    call = _run_cli(workload.argv, recorded)
    if call[0] == "migrate":
        assert set(call[1]) == set(cli.SERVICES)
        return
    _, service, options = call
    assert service in cli.SERVICES
    assert options["host"] == "0.0.0.0"  # noqa: S104 - inside a container, to be reachable at all
    assert options["port"] in workload.container_ports, "the port it listens on is the one published"


def test_the_image_default_command_is_one_too(recorded: list[tuple]) -> None:
    call = _run_cli([*image_entrypoint(), *image_cmd()], recorded)
    assert call[0] == "run" and call[1] in cli.SERVICES


def test_a_wrong_service_name_is_refused_by_the_cli(recorded: list[tuple]) -> None:
    """The check above can fail: argparse refuses what `credstack run` does not offer."""
    with pytest.raises(SystemExit):
        cli.main(["run", "badge-issuer", "--port", "8000"])
    assert recorded == []


@pytest.fixture(scope="module")
def production_apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    keys = PlatformKeys.generate()
    return {w.label: build_app(w, keys, tmp_path_factory.mktemp(w.name)) for w in SERVICE_WORKLOADS}


def _get_paths(app: object) -> set[str]:
    """Every GET route, those of included routers too (FastAPI keeps them nested)."""
    return {
        route.path_format
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and "GET" in route.methods
    }


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda workload: workload.label)
def test_probes_request_routes_the_service_serves(workload: Workload, production_apps: dict[str, object]) -> None:
    routes = _get_paths(production_apps[workload.label])
    expected = {"readiness": "/readyz", "liveness": "/healthz", "healthcheck": "/readyz"}
    assert workload.probes, f"{workload.label} has no probe"
    for kind, (path, port) in workload.probes.items():
        assert path == expected[kind] and path in routes, (kind, path)
        number = named_port(workload.name, port) if workload.origin == "k8s" else port
        assert number in serving_ports(workload), (kind, port)


def test_the_image_healthcheck_requests_liveness_on_every_service(production_apps: dict[str, object]) -> None:
    path, port = probe_in_command(image_healthcheck_command())
    assert path == "/healthz"
    assert all(path in _get_paths(app) for app in production_apps.values())
    assert all(port in serving_ports(w) for w in SERVICE_WORKLOADS)


def test_one_image_reference_everywhere_tagged_with_the_project_version() -> None:
    images = {workload.image for workload in WORKLOADS}
    assert len(images) == 1, images
    (image,) = images
    assert image.rsplit(":", 1)[1] == PYPROJECT["project"]["version"]
    builds = [service["build"] for service in compose_document()["services"].values() if "build" in service]
    assert all(build == builds[0] for build in builds)
    assert f"-t {image} " in (REPO / "deploy" / "Dockerfile").read_text(), "the build command in its header"


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda workload: workload.label)
def test_root_filesystem_is_read_only_with_a_writable_tmp(workload: Workload) -> None:
    """The services write only temporary files (import jobs unpack uploads with tempfile; large
    multipart bodies spool to disk): /tmp is the one writable place."""
    assert workload.read_only_root
    assert "/tmp" in workload.writable_dirs  # noqa: S108 - the container's own scratch mount
