"""What deploy/ sets is what the services read: every CREDSTACK_ name is a real setting, every service
starts in production mode from what it is given, nothing is left at a developer's loopback default,
and the URLs the services call each other on and publish agree with the topology around them."""

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from services.cli import SERVICES
from shared.settings import ServiceSettings
from tests.deploy.deployment_files import (
    Workload,
    all_workloads,
    compose_document,
    compose_workloads,
    image_environment,
    k8s_objects,
    k8s_workloads,
    reachable_services,
)
from tests.deploy.production import (
    SETTINGS_CLASSES,
    PlatformKeys,
    build_app,
    build_settings,
    dev_defaults_left,
    settings_env_names,
)

SettingsOf = Callable[[Workload, str], ServiceSettings]
WORKLOADS = all_workloads()
SERVICE_WORKLOADS = [workload for workload in WORKLOADS if workload.service]
# The settings that name a sibling service's internal URL, and which service each must reach.
SIBLING_URL_FIELDS = {"taxonomy_url": "taxonomy_api", "issuer_url": "badge_issuer", "gap_engine_url": "gap_engine"}
# Where each service's pages are announced to the others (the shared CREDSTACK_*_PAGE_URL names).
PAGE_URL_FIELDS = {"taxonomy_api": "taxonomy_page_url", "badge_issuer": "issuer_page_url", "gap_engine": "gap_page_url"}


def _services_of(workload: Workload) -> tuple[str, ...]:
    """The services whose settings a container reads: the one it runs, or all three for `migrate`."""
    if workload.service:
        return (workload.service,)
    assert workload.argv[1:2] == ["migrate"], f"{workload.label}: unexpected command {workload.argv}"
    return tuple(workload.argv[2:]) or SERVICES


@pytest.fixture(scope="module")
def keys() -> PlatformKeys:
    return PlatformKeys.generate()


@pytest.fixture
def settings_of(keys: PlatformKeys, tmp_path: Path) -> SettingsOf:
    return lambda workload, service: build_settings(workload, service, keys, tmp_path)


@pytest.mark.parametrize("workload", WORKLOADS, ids=lambda workload: workload.label)
def test_every_credstack_name_is_a_setting_of_the_service(workload: Workload) -> None:
    known: dict[str, str] = {}
    for service in _services_of(workload):
        known |= settings_env_names(SETTINGS_CLASSES[service])
    unknown = sorted(name for name in workload.environment if name.startswith("CREDSTACK_") and name not in known)
    assert unknown == [], f"{workload.label} sets names no settings class of {_services_of(workload)} reads"


def test_the_image_sets_only_shared_settings() -> None:
    """The image runs any of the three services: its own CREDSTACK_ names must be read by all."""
    shared = set.intersection(*(set(settings_env_names(cls)) for cls in SETTINGS_CLASSES.values()))
    assert {name for name in image_environment() if name.startswith("CREDSTACK_")} <= shared


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda workload: workload.label)
def test_service_starts_in_production_from_what_it_is_given(
    workload: Workload, keys: PlatformKeys, tmp_path: Path
) -> None:
    """The app builds as `credstack run` builds it: production refuses to start without its master
    key or token key, so this fails when deploy/ stops providing one."""
    settings = build_settings(workload, workload.service, keys, tmp_path)
    assert settings.environment == "production"
    assert dev_defaults_left(settings) == [], f"{workload.label} leaves these at their dev defaults"
    assert settings.resolved_database_url.startswith("postgresql+asyncpg://")
    app = build_app(workload, keys, tmp_path)
    assert app.state.settings.public_base_url == settings.public_base_url


@pytest.mark.parametrize("workload", [w for w in WORKLOADS if not w.service], ids=lambda workload: workload.label)
def test_migration_reaches_every_database(workload: Workload, settings_of: SettingsOf) -> None:
    urls = [settings_of(workload, service).resolved_database_url for service in _services_of(workload)]
    assert all(url.startswith("postgresql+asyncpg://") for url in urls), urls
    assert len(set(urls)) == len(urls), "each service owns its database"


def test_each_service_owns_its_database(settings_of: SettingsOf) -> None:
    for workloads in (compose_workloads(), k8s_workloads()):
        urls = {w.service: settings_of(w, w.service).resolved_database_url for w in workloads if w.service}
        assert sorted(urls) == sorted(SERVICES)
        assert len({url.rsplit("/", 1)[1] for url in urls.values()}) == len(SERVICES)
        migrate = next(w for w in workloads if not w.service)
        assert {service: settings_of(migrate, service).resolved_database_url for service in SERVICES} == urls


@pytest.mark.parametrize("workload", SERVICE_WORKLOADS, ids=lambda workload: workload.label)
def test_services_call_each_other_where_the_other_listens(workload: Workload, settings_of: SettingsOf) -> None:
    settings = settings_of(workload, workload.service)
    reachable = reachable_services(workload.origin)
    for field, target in SIBLING_URL_FIELDS.items():
        if field not in type(settings).model_fields:
            continue
        url = getattr(settings, field)
        assert url, f"{workload.label}: {field} is not set"
        parts = urlsplit(url)
        assert reachable.get((parts.hostname, parts.port or 80)) == target, f"{workload.label}: {field}={url}"


def test_public_urls_agree_across_services(settings_of: SettingsOf) -> None:
    """Each service's public base URL is https and is the page URL the other services link to; the
    docs pages' token URL is the taxonomy's; its CORS list lets the other docs origins in."""
    for workloads in (compose_workloads(), k8s_workloads()):
        settings = {w.service: settings_of(w, w.service) for w in workloads if w.service}
        public = {service: settings[service].public_base_url for service in SERVICES}
        assert all(urlsplit(url).scheme == "https" for url in public.values()), public
        assert len(set(public.values())) == len(SERVICES)
        for service_settings in settings.values():
            assert {s: getattr(service_settings, PAGE_URL_FIELDS[s]) for s in SERVICES} == public
            assert service_settings.public_token_url == public["taxonomy_api"] + "/oauth/token"
        assert set(settings["taxonomy_api"].token_cors_origins) == {public["badge_issuer"], public["gap_engine"]}


def test_ingress_serves_each_service_at_its_public_host(settings_of: SettingsOf) -> None:
    public_hosts = {
        w.service: urlsplit(settings_of(w, w.service).public_base_url).hostname for w in k8s_workloads() if w.service
    }
    reachable = reachable_services("k8s")
    service_ports = {
        (svc["metadata"]["name"], port.get("name")): port["port"]
        for svc in k8s_objects("Service")
        for port in svc["spec"]["ports"]
    }
    (ingress,) = k8s_objects("Ingress")
    served = {}
    for rule in ingress["spec"]["rules"]:
        (path,) = rule["http"]["paths"]
        assert (path["path"], path["pathType"]) == ("/", "Prefix")
        backend = path["backend"]["service"]
        port = backend["port"].get("number") or service_ports[(backend["name"], backend["port"]["name"])]
        served[rule["host"]] = reachable[(backend["name"], port)]
    assert served == {host: service for service, host in public_hosts.items()}
    (tls,) = ingress["spec"]["tls"]
    assert set(tls["hosts"]) == set(served)


# shared/db.py's Database keeps a pool of 2 (+2 overflow) beside the main one for side transactions.
SIDE_CONNECTIONS = 4


def test_compose_postgres_admits_every_connection_the_services_may_open(settings_of: SettingsOf) -> None:
    """One process per service in compose: their pools together must fit max_connections, or a busy
    moment answers 'too many clients' (a 503) instead of waiting for a pooled connection."""
    command = compose_document()["services"]["postgres"]["command"]
    setting = next(part for part in command if part.startswith("max_connections="))
    max_connections = int(setting.split("=", 1)[1])
    needed = 0
    for workload in compose_workloads():
        if workload.service:
            settings = settings_of(workload, workload.service)
            needed += settings.db_pool_size + settings.db_max_overflow + SIDE_CONNECTIONS
    reserved_for_migrations_and_operators = 10
    assert needed + reserved_for_migrations_and_operators <= max_connections
