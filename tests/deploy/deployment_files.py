"""Reads deploy/ the way Docker, Compose and Kubernetes would, into one shape the tests compare:
each container that runs the image, with its full command line, its environment (env files,
ConfigMaps and Secrets resolved) and the files mounted into it."""

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from dockerfile_parse import DockerfileParser
from dotenv import dotenv_values

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
K8S_DIR = DEPLOY / "k8s"
# Applied by hand, never by kustomization.yaml: the Secrets are created out of band.
K8S_SECRETS_EXAMPLE = K8S_DIR / "secrets.example.yaml"
COMPOSE_SECRETS_DIR = "/run/secrets"
# Compose services that do not run the CredStack image.
THIRD_PARTY_COMPOSE_SERVICES = {"postgres"}


@dataclass
class Workload:
    """One container running the CredStack image, as its orchestrator would start it."""

    origin: str  # "compose" or "k8s"
    name: str  # compose service name, or the k8s Deployment / Job name
    image: str
    argv: list[str]
    environment: dict[str, str]
    # Path inside the container -> what provides it (a description, for messages).
    mounted_files: dict[str, str] = field(default_factory=dict)
    container_ports: list[int] = field(default_factory=list)
    # "readiness" / "liveness" / "healthcheck" -> (path, port) the probe requests.
    probes: dict[str, tuple[str, int | str]] = field(default_factory=dict)
    read_only_root: bool = False
    writable_dirs: list[str] = field(default_factory=list)
    run_as_user: int | None = None

    @property
    def label(self) -> str:
        return f"{self.origin}:{self.name}"

    @property
    def service(self) -> str | None:
        """The CredStack service this container runs (`credstack run SERVICE`), None for other commands."""
        return self.argv[2] if self.argv[1:2] == ["run"] and len(self.argv) > 2 else None


def load_yaml_documents(path: Path) -> list[dict[str, Any]]:
    return [document for document in yaml.safe_load_all(path.read_text()) if document]


# --- Dockerfile ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stage:
    base_image: str
    name: str | None
    instructions: list[tuple[str, str]]  # (INSTRUCTION, value)

    def values(self, instruction: str) -> list[str]:
        return [value for name, value in self.instructions if name == instruction]


@cache
def dockerfile_stages() -> list[Stage]:
    parser = DockerfileParser(str(DOCKERFILE))
    arguments: dict[str, str] = {}
    stages: list[Stage] = []
    for item in parser.structure:
        instruction, value = item["instruction"], item["value"]
        if instruction == "ARG" and not stages and "=" in value:
            key, default = value.split("=", 1)
            arguments[key.strip()] = default.strip()
        elif instruction == "FROM":
            parts = value.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda match: arguments.get(match.group(1), match.group(0)), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(image, name, []))
        elif stages and instruction != "COMMENT":
            stages[-1].instructions.append((instruction, value))
    return stages


def final_stage() -> Stage:
    return dockerfile_stages()[-1]


def _exec_form(value: str) -> list[str]:
    """ENTRYPOINT / CMD / HEALTHCHECK CMD in exec form (a JSON array): the only form used here."""
    parsed = yaml.safe_load(value)
    if not isinstance(parsed, list) or not all(isinstance(part, str) for part in parsed):
        raise AssertionError(f"{value!r} is not in exec form (a JSON array of strings)")
    return parsed


def image_entrypoint() -> list[str]:
    (entrypoint,) = final_stage().values("ENTRYPOINT")[-1:]
    return _exec_form(entrypoint)


def image_cmd() -> list[str]:
    (cmd,) = final_stage().values("CMD")[-1:]
    return _exec_form(cmd)


def image_environment() -> dict[str, str]:
    environment: dict[str, str] = {}
    for value in final_stage().values("ENV"):
        for key, _, setting in (pair.partition("=") for pair in re.split(r"\s+", value.strip())):
            environment[key] = setting
    return environment


def image_healthcheck_command() -> list[str]:
    (healthcheck,) = final_stage().values("HEALTHCHECK")[-1:]
    return _exec_form(healthcheck[healthcheck.index("CMD") + len("CMD") :].strip())


def image_user() -> str:
    users = final_stage().values("USER")
    return users[-1] if users else "root"


# --- URLs inside health check commands ----------------------------------------------------------

_LOCAL_URL = re.compile(r"https?://(?:127\.0\.0\.1|localhost):(\d+)(/[^'\"\s]*)")


def probe_in_command(command: list[str] | str) -> tuple[str, int]:
    """The (path, port) a health-check command requests on the container's own loopback."""
    text = command if isinstance(command, str) else " ".join(command)
    match = _LOCAL_URL.search(text)
    if match is None:
        raise AssertionError(f"no http://127.0.0.1:PORT/PATH in health check {text!r}")
    return match.group(2), int(match.group(1))


# --- Compose ---------------------------------------------------------------------------------------


def compose_document() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _env_file_paths(service: dict[str, Any]) -> list[Path]:
    entries = service.get("env_file", [])
    entries = [entries] if isinstance(entries, str) else entries
    return [COMPOSE_FILE.parent / (entry if isinstance(entry, str) else entry["path"]) for entry in entries]


def example_of(env_file: Path) -> Path:
    """The committed example of an env file the operator fills in (never committed itself)."""
    return env_file.with_name(env_file.name + ".example")


def _compose_environment(service: dict[str, Any]) -> dict[str, str]:
    environment: dict[str, str] = {}
    for env_file in _env_file_paths(service):
        values = dotenv_values(example_of(env_file))
        environment |= {key: value or "" for key, value in values.items()}
    declared = service.get("environment", {})
    if isinstance(declared, list):
        declared = dict(item.split("=", 1) for item in declared)
    return environment | {key: str(value) for key, value in declared.items()}


def compose_workloads() -> list[Workload]:
    document = compose_document()
    workloads = []
    for name, service in document["services"].items():
        if name in THIRD_PARTY_COMPOSE_SERVICES:
            continue
        environment = image_environment() | _compose_environment(service)
        command = service.get("command", image_cmd())
        entrypoint = service.get("entrypoint", image_entrypoint())
        mounted = {}
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            target = source if isinstance(secret, str) else secret.get("target", source)
            path = target if target.startswith("/") else f"{COMPOSE_SECRETS_DIR}/{target}"
            mounted[path] = f"compose secret {source} ({document['secrets'][source]['file']})"
        probes = {}
        if "healthcheck" in service:
            probes["healthcheck"] = probe_in_command(service["healthcheck"]["test"])
        ports = [int(str(port).rsplit(":", 1)[-1].split("/")[0]) for port in service.get("ports", [])]
        workloads.append(
            Workload(
                origin="compose",
                name=name,
                image=service["image"],
                argv=[*entrypoint, *command],
                environment=environment,
                mounted_files=mounted,
                container_ports=ports,
                probes=probes,
                read_only_root=bool(service.get("read_only")),
                writable_dirs=[entry.split(":")[0] for entry in service.get("tmpfs", [])],
            )
        )
    return workloads


# --- Kubernetes ------------------------------------------------------------------------------------


def k8s_manifest_files() -> list[Path]:
    return sorted(path for path in K8S_DIR.glob("*.yaml") if path.name != "kustomization.yaml")


def kustomization() -> dict[str, Any]:
    return yaml.safe_load((K8S_DIR / "kustomization.yaml").read_text())


@cache
def _k8s_objects_cached() -> tuple[tuple[str, dict[str, Any]], ...]:
    return tuple((path.name, document) for path in k8s_manifest_files() for document in load_yaml_documents(path))


def k8s_objects(kind: str | None = None, *, applied_only: bool = True) -> list[dict[str, Any]]:
    """Objects in deploy/k8s/; `applied_only` leaves out the out-of-band Secrets' example."""
    return [
        document
        for file_name, document in _k8s_objects_cached()
        if (kind is None or document["kind"] == kind) and (not applied_only or file_name != K8S_SECRETS_EXAMPLE.name)
    ]


def _named(kind: str, name: str, *, applied_only: bool = True) -> dict[str, Any]:
    matches = [item for item in k8s_objects(kind, applied_only=applied_only) if item["metadata"]["name"] == name]
    if len(matches) != 1:
        raise AssertionError(f"{len(matches)} {kind} named {name!r} in deploy/k8s")
    return matches[0]


def _secret_value(name: str, key: str) -> str:
    secret = _named("Secret", name, applied_only=False)
    values = secret.get("stringData", {})
    if key not in values:
        raise AssertionError(f"Secret {name} (secrets.example.yaml) has no key {key!r}")
    return values[key]


def _container_environment(container: dict[str, Any]) -> dict[str, str]:
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            environment |= _named("ConfigMap", source["configMapRef"]["name"]).get("data", {})
        elif "secretRef" in source:
            environment |= _named("Secret", source["secretRef"]["name"], applied_only=False).get("stringData", {})
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
            continue
        reference = variable["valueFrom"]
        if "secretKeyRef" in reference:
            ref = reference["secretKeyRef"]
            environment[variable["name"]] = _secret_value(ref["name"], ref["key"])
        elif "configMapKeyRef" in reference:
            ref = reference["configMapKeyRef"]
            environment[variable["name"]] = _named("ConfigMap", ref["name"])["data"][ref["key"]]
        else:
            raise AssertionError(f"unsupported valueFrom for {variable['name']}: {reference}")
    return environment


def _mounted_files(pod: dict[str, Any], container: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    volumes = {volume["name"]: volume for volume in pod.get("volumes", [])}
    files: dict[str, str] = {}
    directories: list[str] = []
    for mount in container.get("volumeMounts", []):
        volume = volumes[mount["name"]]
        if "emptyDir" in volume and not mount.get("readOnly"):
            directories.append(mount["mountPath"])
        if "secret" in volume:
            secret_name = volume["secret"]["secretName"]
            items = volume["secret"].get("items") or [
                {"key": key, "path": key} for key in _named("Secret", secret_name, applied_only=False)["stringData"]
            ]
            for item in items:
                _secret_value(secret_name, item["key"])  # the key exists
                files[f"{mount['mountPath'].rstrip('/')}/{item['path']}"] = f"Secret {secret_name} key {item['key']}"
    return files, directories


def _probe(probe: dict[str, Any]) -> tuple[str, int | str]:
    return probe["httpGet"]["path"], probe["httpGet"]["port"]


def k8s_workloads() -> list[Workload]:
    workloads = []
    for kind in ("Deployment", "Job"):
        for item in k8s_objects(kind):
            pod = item["spec"]["template"]["spec"]
            for container in pod["containers"]:
                files, directories = _mounted_files(pod, container)
                probes = {
                    kind_: _probe(container[key])
                    for kind_, key in (("readiness", "readinessProbe"), ("liveness", "livenessProbe"))
                    if key in container
                }
                security = {**pod.get("securityContext", {}), **container.get("securityContext", {})}
                workloads.append(
                    Workload(
                        origin="k8s",
                        name=item["metadata"]["name"],
                        image=container["image"],
                        argv=[*container.get("command", image_entrypoint()), *container.get("args", image_cmd())],
                        environment=image_environment() | _container_environment(container),
                        mounted_files=files,
                        container_ports=[port["containerPort"] for port in container.get("ports", [])],
                        probes=probes,
                        read_only_root=bool(security.get("readOnlyRootFilesystem")),
                        writable_dirs=directories,
                        run_as_user=security.get("runAsUser"),
                    )
                )
    return workloads


def named_port(workload_name: str, port: int | str) -> int:
    """A probe's port as a number: k8s probes may name the container port."""
    if isinstance(port, int):
        return port
    deployment = _named("Deployment", workload_name)
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        for declared in container.get("ports", []):
            if declared.get("name") == port:
                return declared["containerPort"]
    raise AssertionError(f"{workload_name} declares no container port named {port!r}")


def all_workloads() -> list[Workload]:
    return compose_workloads() + k8s_workloads()


def reachable_services(origin: str) -> dict[tuple[str, int], str]:
    """(host, port) inside the deployment -> the CredStack service answering there."""
    if origin == "compose":
        return {(w.name, port): w.service for w in compose_workloads() if w.service for port in serving_ports(w)}
    deployments = {item["metadata"]["name"]: item for item in k8s_objects("Deployment")}
    runs = {w.name: w for w in k8s_workloads() if w.service}
    reachable = {}
    for service in k8s_objects("Service"):
        selector = service["spec"]["selector"]
        for name, deployment in deployments.items():
            labels = deployment["spec"]["template"]["metadata"]["labels"]
            if selector.items() <= labels.items():
                for port in service["spec"]["ports"]:
                    target = named_port(name, port.get("targetPort", port["port"]))
                    if target in serving_ports(runs[name]):
                        reachable[(service["metadata"]["name"], port["port"])] = runs[name].service
    return reachable


def serving_ports(workload: Workload) -> list[int]:
    """The port `credstack run` listens on, from its command line."""
    return [int(workload.argv[workload.argv.index("--port") + 1])]
