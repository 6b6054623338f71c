"""Each deployed container's settings, built from the environment deploy/ gives it, as the service
itself would build them at start: every CREDSTACK_ name it receives, placeholders replaced with real
key material of the right shape, mounted key files written where the settings point."""

import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from pydantic import AliasChoices

from services.badge_issuer.settings import IssuerSettings
from services.cli import APP_FACTORIES, SERVICES
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.settings import TaxonomySettings
from shared.auth import public_key_pem
from shared.secret_box import generate_master_key_text
from shared.settings import ServiceSettings
from tests.deploy.deployment_files import Workload

SETTINGS_CLASSES: dict[str, type[ServiceSettings]] = {
    "taxonomy_api": TaxonomySettings,
    "badge_issuer": IssuerSettings,
    "gap_engine": GapSettings,
}
PLACEHOLDER = "CHANGE_ME"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "[::1]")


def settings_env_names(settings_class: type[ServiceSettings]) -> dict[str, str]:
    """Every environment name the class reads -> its field (pydantic-settings: an alias replaces the
    prefixed name; names are case-insensitive)."""
    prefix = settings_class.model_config.get("env_prefix", "")
    names: dict[str, str] = {}
    for field_name, field in settings_class.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            choices = [choice for choice in alias.choices if isinstance(choice, str)]
        elif isinstance(alias, str):
            choices = [alias]
        else:
            choices = [prefix + field_name]
        names |= {choice.upper(): field_name for choice in choices}
    return names


@dataclass
class PlatformKeys:
    """Key material standing in for the operator's: one token signing key pair for the platform."""

    private_pem: bytes
    public_pem: str

    @classmethod
    def generate(cls) -> "PlatformKeys":
        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return cls(private, public_key_pem(key.public_key()))


def _filled(workload: Workload, name: str, value: str, keys: PlatformKeys) -> str:
    if PLACEHOLDER not in value:
        return value
    if name.endswith("_MASTER_KEY"):
        return generate_master_key_text()
    if name.endswith("_DATABASE_URL"):
        return value.replace(PLACEHOLDER, "not-a-real-password")
    if name == "CREDSTACK_AUTH_PUBLIC_KEY_PEM":
        return keys.public_pem
    raise AssertionError(f"{workload.label}: {name} holds a placeholder this test does not know how to fill")


def _path_fields(settings_class: type[ServiceSettings]) -> set[str]:
    return {name for name, field in settings_class.model_fields.items() if field.annotation is Path}


@contextmanager
def deployed_environment(workload: Workload, keys: PlatformKeys, scratch: Path) -> Iterator[dict[str, str]]:
    """The container's CREDSTACK_ names in os.environ (nothing else reaches the settings); a setting
    naming a file must name one mounted into the container, and reads the test's key from there."""
    environment = {
        name: _filled(workload, name, value, keys)
        for name, value in workload.environment.items()
        if name.startswith("CREDSTACK_")
    }
    for name, value in list(environment.items()):
        fields = [settings_env_names(cls).get(name.upper()) for cls in SETTINGS_CLASSES.values()]
        is_path = any(field in _path_fields(cls) for field, cls in zip(fields, SETTINGS_CLASSES.values(), strict=True))
        if not is_path:
            continue
        assert value in workload.mounted_files, f"{workload.label}: {name}={value} but nothing is mounted there"
        local = scratch / value.strip("/").replace("/", "_")
        local.write_bytes(keys.private_pem)
        environment[name] = str(local)
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.upper().startswith("CREDSTACK_")]:
            patch.delenv(name)
        for name, value in environment.items():
            patch.setenv(name, value)
        yield environment


def build_settings(workload: Workload, service: str, keys: PlatformKeys, scratch: Path) -> ServiceSettings:
    with deployed_environment(workload, keys, scratch):
        return SETTINGS_CLASSES[service]()


def build_app(workload: Workload, keys: PlatformKeys, scratch: Path) -> FastAPI:
    """The service's app exactly as `credstack run` would create it in this container (no database
    connection is made until a request needs one)."""
    service = workload.service
    assert service in SERVICES, f"{workload.label} runs {workload.argv}, not a service"
    module_name, factory_name = APP_FACTORIES[service].split(":")
    factory = getattr(importlib.import_module(module_name), factory_name)
    with deployed_environment(workload, keys, scratch):
        return factory()


def dev_defaults_left(settings: ServiceSettings) -> list[str]:
    """Settings still at a default that only makes sense on a developer's machine: a loopback URL
    (the embedded platform's ports) or the SQLite file under var/."""
    left = []
    for name, field in type(settings).model_fields.items():
        if name in settings.model_fields_set:
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, str) and any(f"//{host}" in default for host in LOOPBACK_HOSTS):
            left.append(name)
    if settings.resolved_database_url.startswith("sqlite"):
        left.append("database_url")
    return left
