"""deploy/ is valid for the tools that will read it: every Kubernetes object against the API schemas
that kubernetes-validate bundles (strict: an unknown field is an error), the compose file against the
Compose Specification's JSON schema, and every file they name exists."""

import json
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest

from tests.deploy.deployment_files import (
    COMPOSE_FILE,
    DEPLOY,
    K8S_DIR,
    K8S_SECRETS_EXAMPLE,
    compose_document,
    k8s_manifest_files,
    kustomization,
    load_yaml_documents,
)

COMPOSE_SCHEMA = Path(__file__).parent / "compose_spec" / "compose-spec.json"
# The oldest Kubernetes minor the manifests are written for (autoscaling/v2, policy/v1 PDBs, Ingress
# networking.k8s.io/v1 with ingressClassName), and the newest kubernetes-validate ships schemas for.
KUBERNETES_VERSIONS = ("1.30.0", kubernetes_validate.utils.latest_version())


def _objects() -> list[tuple[str, dict]]:
    return [(path.name, document) for path in k8s_manifest_files() for document in load_yaml_documents(path)]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    ("file_name", "document"),
    _objects(),
    ids=[f"{name}:{doc['kind']}/{doc['metadata']['name']}" for name, doc in _objects()],
)
def test_every_kubernetes_object_validates_strictly(file_name: str, document: dict, version: str) -> None:
    # A kind or apiVersion the schemas do not know is an error here, not the CLI's warning.
    kubernetes_validate.validate(document, version, strict=True)


def test_kubernetes_objects_name_no_namespace() -> None:
    """`kubectl apply -k deploy/k8s -n NAME` puts everything in the operator's namespace."""
    assert [(name, doc["metadata"]["name"]) for name, doc in _objects() if "namespace" in doc["metadata"]] == []


def test_kustomization_applies_every_manifest_but_the_secrets_example() -> None:
    expected = {path.name for path in k8s_manifest_files()} - {K8S_SECRETS_EXAMPLE.name}
    resources = kustomization()["resources"]
    assert len(resources) == len(set(resources))
    assert set(resources) == expected
    assert "namespace" not in kustomization()


def test_object_names_are_unique_per_kind() -> None:
    seen = [(doc["kind"], doc["metadata"]["name"]) for _, doc in _objects()]
    assert len(seen) == len(set(seen))


def test_compose_file_validates_against_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    # The schema names draft-07 by a URI without the trailing '#', which jsonschema does not map.
    assert schema["$schema"].startswith("https://json-schema.org/draft-07/schema")
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft7Validator(schema).iter_errors(compose_document()), key=lambda error: list(error.path)
    )
    assert [f"{'/'.join(map(str, error.path))}: {error.message}" for error in errors] == []


def test_files_the_compose_file_names_exist() -> None:
    """Build context, Dockerfile, bind mounts and env files (as their committed .example); the
    secrets' files are the operator's, generated as the compose file's header says."""
    document = compose_document()
    base = COMPOSE_FILE.parent
    missing = []
    for name, service in document["services"].items():
        build = service.get("build")
        if build:
            context = (base / build["context"]).resolve()
            if not (context / build["dockerfile"]).is_file():
                missing.append(f"{name}: build {build}")
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith(".") and not (base / source).exists():
                missing.append(f"{name}: volume {source}")
        entries = service.get("env_file", [])
        for entry in [entries] if isinstance(entries, str) else entries:
            path = base / (entry if isinstance(entry, str) else entry["path"])
            if not path.with_name(path.name + ".example").is_file():
                missing.append(f"{name}: env file {path.name}.example")
    assert missing == []
    for secret in document.get("secrets", {}).values():
        assert (base / secret["file"]).resolve().is_relative_to(DEPLOY / "secrets")


def test_filled_in_env_files_and_secrets_are_ignored_by_git() -> None:
    ignored = (DEPLOY / ".gitignore").read_text().split()
    assert "env/*.env" in ignored and "secrets/" in ignored
    dockerignored = (DEPLOY.parent / ".dockerignore").read_text().split()
    assert "deploy/env/*.env" in dockerignored and "deploy/secrets/" in dockerignored


def test_k8s_directory_holds_only_manifests_and_the_kustomization() -> None:
    assert {path.suffix for path in K8S_DIR.iterdir()} == {".yaml"}
