"""What deploy/ commits holds placeholders only: every secret a service reads (a SecretStr setting, a
database password, a private key) is CHANGE_ME in the env examples and the Secrets' example."""

import re

from dotenv import dotenv_values
from pydantic import SecretStr
from sqlalchemy.engine import make_url

from tests.deploy.deployment_files import COMPOSE_FILE, DEPLOY, all_workloads, compose_document, example_of
from tests.deploy.production import PLACEHOLDER, SETTINGS_CLASSES, settings_env_names

PEM_BODY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----\s*(\S+)")


def _secret_names() -> set[str]:
    names = set()
    for settings_class in SETTINGS_CLASSES.values():
        env_names = settings_env_names(settings_class)
        for env_name, field_name in env_names.items():
            annotation = settings_class.model_fields[field_name].annotation
            if SecretStr in getattr(annotation, "__args__", (annotation,)) or field_name.endswith("password"):
                names.add(env_name)
    return names


def test_every_secret_setting_given_is_a_placeholder() -> None:
    secret_names = _secret_names()
    assert "CREDSTACK_ISSUER_MASTER_KEY" in secret_names
    leaked = []
    for workload in all_workloads():
        for name, value in workload.environment.items():
            if name in secret_names and PLACEHOLDER not in value:
                leaked.append(f"{workload.label}: {name}")
            if name.endswith("_DATABASE_URL") and make_url(value).password not in (None, PLACEHOLDER):
                leaked.append(f"{workload.label}: the password in {name}")
    assert leaked == []


def test_no_private_key_is_committed_under_deploy() -> None:
    for path in DEPLOY.rglob("*"):
        if path.is_file():
            for body in PEM_BODY.findall(path.read_text(errors="replace")):
                assert body.startswith(PLACEHOLDER), f"{path} holds a private key"


def test_the_database_password_is_a_placeholder() -> None:
    postgres = compose_document()["services"]["postgres"]
    for env_file in postgres["env_file"]:
        values = dotenv_values(example_of(COMPOSE_FILE.parent / env_file))
        assert values.get("POSTGRES_PASSWORD", PLACEHOLDER) == PLACEHOLDER
