"""Schemathesis against each service's own OpenAPI document, in process, with every check on.

Each service's app is called through ASGI (schemathesis.openapi.from_asgi) on the test databases of the
run (SQLite, or PostgreSQL with CREDSTACK_TEST_POSTGRES_URL), as an organisation's admin client holding
every scope, with a token got from the real token endpoint. A few objects of each kind are seeded
first, and generated path ids are swapped for theirs part of the time, so id routes reach real rows as
well as 404s. A case fails on any 5xx, any status code or content type the document does not list,
a body that does not match its schema, and the other built-in checks.

The run is reproducible (derandomized, fixed seed, no example database). CREDSTACK_FUZZ_EXAMPLES sets
the examples per operation for the fuzzing phase (the examples and coverage phases add their own).
"""

from __future__ import annotations

import asyncio
import base64
import os
import re
import tempfile
import uuid
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.app import create_app as create_gap_app
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy_app
from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from shared.auth import SCOPES, load_or_create_private_key
from shared.db import Database
from shared.safe_fetch import SafeFetcher
from tests.conftest import SERVICES

pytestmark = [pytest.mark.fuzz]

# 60 gives a few thousand cases per service (about 8,000 / 2,600 / 3,500) in about four minutes.
EXAMPLES_PER_OPERATION = int(os.environ.get("CREDSTACK_FUZZ_EXAMPLES", "60"))
SEED = 20_260_415
# Every name any service reaches out to resolves to this documentation-range-like public address, and
# the transport below answers every request in process: nothing leaves the machine, no name is looked up.
OUTSIDE_ADDRESS = "93.184.215.14"
ISSUER_HOST = "issuer.credstack.test"
TAXONOMY_HOST = "taxonomy.test"


async def _resolve_in_process(host: str, port: int) -> list[str]:
    return [OUTSIDE_ADDRESS]


def _outside_world() -> httpx.MockTransport:
    """The internet as the fuzzed services see it: every URL is a 404, answered without a socket."""
    return httpx.MockTransport(lambda request: httpx.Response(404, json={"detail": "not found"}))


class LifespanPerTest:
    """A service app as schemathesis calls it. Schemathesis starts and ends an ASGI app's lifespan
    around every test (one per operation), but a service opens its HTTP clients once, in create_app,
    and closes them when its lifespan ends: a second lifespan would find them closed. So here a lifespan
    only hands back every database connection when it ends (they belong to schemathesis' event loop);
    the background workers it would start (outbox, sweeps, imports) are not what is fuzzed."""

    def __init__(self, app: Any, databases: list[Any]) -> None:
        self.app = app
        self.databases = databases

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await self.app(scope, receive, send)
            return
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
                continue
            for database in self.databases:
                await database.dispose()
            await send({"type": "lifespan.shutdown.complete"})
            return


@dataclass
class FuzzedPlatform:
    taxonomy: Any
    issuer: Any
    gap_engine: Any
    headers: dict[str, str]
    # Real path parameter values by (route template, parameter name): seeded rows for the id routes.
    known_ids: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    cases: Counter = field(default_factory=Counter)
    statuses: dict[str, Counter] = field(default_factory=dict)

    def app(self, service: str) -> LifespanPerTest:
        apps = {"taxonomy_api": self.taxonomy, "badge_issuer": self.issuer, "gap_engine": self.gap_engine}
        return LifespanPerTest(apps[service], [app.state.database for app in apps.values()])

    def know(self, template: str, name: str, *values: Any) -> None:
        self.known_ids.setdefault((template, name), []).extend(str(value) for value in values)


def _build_apps(database_urls: dict[str, str], auth_key_file: Path) -> tuple[Any, Any, Any]:
    common = {"auth_private_key_file": auth_key_file, "environment": "dev", "access_log": False, "log_level": "ERROR"}
    # The fuzz sends thousands of requests a minute from one address: the public budget is raised so
    # the routes behind it are fuzzed, not only the 429 in front of them (which stays documented).
    limits = {"public_rate_limit_per_minute": 1_000_000, "authenticated_rate_limit_per_minute": 1_000_000}
    taxonomy = create_taxonomy_app(
        TaxonomySettings(
            database_url=database_urls["taxonomy_api"],
            import_worker=False,
            access_token_ttl_seconds=3600,
            public_base_url=f"http://{TAXONOMY_HOST}",
            **common,
            **limits,
        )
    )
    taxonomy.state.fetcher = SafeFetcher(
        taxonomy.state.settings.fetch_policy(), transport=_outside_world(), resolver=_resolve_in_process
    )
    issuer = create_issuer_app(
        IssuerSettings(
            database_url=database_urls["badge_issuer"],
            master_key=base64.b64encode(os.urandom(32)).decode(),
            taxonomy_url=f"http://{TAXONOMY_HOST}",
            public_base_url=f"https://{ISSUER_HOST}",
            fetch_timeout_seconds=2.0,
            **common,
            **limits,
        ),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy),
        webhook_transport=_outside_world(),
        fetch_transport=_outside_world(),
        fetch_resolver=_resolve_in_process,
    )
    gap_engine = create_gap_app(
        GapSettings(
            database_url=database_urls["gap_engine"],
            taxonomy_url=f"http://{TAXONOMY_HOST}",
            issuer_url=f"https://{ISSUER_HOST}",
            fetch_allowed_hosts=[ISSUER_HOST],
            status_sweep_enabled=False,
            **common,
            **limits,
        ),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy),
        issuer_transport=httpx.ASGITransport(app=issuer),
        fetch_transport=httpx.ASGITransport(app=issuer),
        fetch_resolver=_resolve_in_process,
    )
    return taxonomy, issuer, gap_engine


async def _new_organisation(url: str) -> tuple[str, str, dict[str, uuid.UUID]]:
    """An organisation with the demo taxonomy and an admin client; its own engine, disposed here, so no
    connection outlives this event loop (the apps are served on schemathesis' own loop)."""
    database = Database(url, session_class=TaxonomySession)
    try:
        async with database.sessions() as session:
            organisation = await organisations.create_organisation(session, f"fuzz-{uuid.uuid4().hex[:10]}")
            client, secret = await organisations.create_client(session, organisation.id, "fuzz", list(SCOPES))
            ids = await seed_demo_taxonomy(session, organisation.id)
            await session.commit()
            return client.client_id, secret, ids
    finally:
        await database.dispose()


def _created(response: Any, expected: int = 201) -> dict[str, Any]:
    assert response.status_code == expected, f"{response.request.method} {response.url}: {response.text}"
    return response.json()


def _seed(platform: FuzzedPlatform, taxonomy_url: str, demo: dict[str, uuid.UUID]) -> None:
    """A few objects of each kind, through the services' own APIs, and their ids for the id routes."""
    headers = platform.headers
    with asgi.get_client(platform.app("taxonomy_api")) as taxonomy:
        for kind in ("scales", "capabilities", "skills", "roles", "achievements", "pathways"):
            items = _created(taxonomy.get(f"/v1/{kind}", headers=headers), 200)["items"]
            ids = [item["id"] for item in items[:3]]
            platform.know(f"/v1/{kind}/{{item_id}}", "item_id", *ids)
            if kind == "pathways":
                platform.know("/v1/pathways/{item_id}/progress", "item_id", *ids)
                platform.know("/v1/public/pathways/{pathway_id}/progress", "pathway_id", *ids)
            if kind == "achievements":
                platform.know("/v1/public/achievements/{achievement_id}", "achievement_id", *ids)
                platform.know("/v1/public/achievements/{achievement_id}/pathways", "achievement_id", *ids)
            if kind == "skills":
                platform.know("/v1/public/skills/{skill_id}", "skill_id", *ids)
        roles = _created(taxonomy.get("/v1/roles", headers=headers), 200)["items"]
        clients = _created(taxonomy.get("/v1/clients", headers=headers), 200)
        client_ids = [item["id"] for item in (clients["items"] if isinstance(clients, dict) else clients)]
        platform.know("/v1/clients/{item_id}", "item_id", *client_ids)

    with asgi.get_client(platform.app("badge_issuer")) as issuer_client:
        issuer = _created(
            issuer_client.post(
                "/v1/issuers",
                json={"name": "Fuzz Academy", "url": "https://academy.fuzz.example", "email": "b@fuzz.example"},
                headers=headers,
            )
        )
        assessment = {
            "learner": {"hris_id": "E-1001", "email": "ada@example.com"},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 86,
            "evidence": {"urls": ["https://lms.example/attempts/4711"], "narrative": "Observed customer call."},
            "assessor": "Grace Hopper",
            "completed_at": "2026-01-15T09:30:00Z",
        }
        subscription = _created(
            issuer_client.post(
                "/v1/webhook-subscriptions", json={"url": "https://hris.fuzz.example/hooks"}, headers=headers
            )
        )
        issued = _created(
            issuer_client.post(
                "/v1/assessment-results", json=assessment, headers={**headers, "Idempotency-Key": uuid.uuid4().hex}
            )
        )
        credential = issued["credential"]
        deliveries = _created(
            issuer_client.get(f"/v1/webhook-subscriptions/{subscription['id']}/deliveries", headers=headers), 200
        )["items"]
        link = _created(issuer_client.post("/v1/wallet-links", json={"learner_hris_id": "E-1001"}, headers=headers))
        issuer_id, key_id = issuer["id"], issuer["keys"][0]["id"]
        for template in (
            "/v1/issuers/{issuer_id}",
            "/v1/issuers/{issuer_id}/keys/rotate",
            "/v1/issuers/{issuer_id}/keys/{key_id}/revoke",
            "/v1/public/issuers/{issuer_id}",
            "/v1/public/issuers/{issuer_id}/jwks.json",
            "/v1/public/issuers/{issuer_id}/keys/{key_id}",
            "/issuers/{issuer_id}/did.json",
        ):
            platform.know(template, "issuer_id", issuer_id)
        for template in (
            "/v1/issuers/{issuer_id}/keys/{key_id}/revoke",
            "/v1/public/issuers/{issuer_id}/keys/{key_id}",
        ):
            platform.know(template, "key_id", key_id)
        for template in (
            "/v1/credentials/{credential_id}",
            "/v1/credentials/{credential_id}/revoke",
            "/v1/public/credentials/{credential_id}",
            "/v1/public/credentials/{credential_id}/baked.png",
            "/v1/public/credentials/{credential_id}/baked.svg",
        ):
            platform.know(template, "credential_id", credential["id"])
        status_list = re.search(r"status-lists/([0-9a-f-]{36})", str(credential))
        if status_list:
            platform.know("/v1/public/status-lists/{status_list_id}", "status_list_id", status_list.group(1))
        for template in (
            "/v1/webhook-subscriptions/{subscription_id}",
            "/v1/webhook-subscriptions/{subscription_id}/deliveries",
            "/v1/webhook-subscriptions/{subscription_id}/deliveries/replay",
            "/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
        ):
            platform.know(template, "subscription_id", subscription["id"])
        platform.know(
            "/v1/webhook-subscriptions/{subscription_id}/deliveries/{delivery_id}/replay",
            "delivery_id",
            *(delivery["id"] for delivery in deliveries),
        )
        platform.know("/v1/wallet-links/{link_id}/revoke", "link_id", link["id"])

    with asgi.get_client(platform.app("gap_engine")) as gap:
        role_id = next(role["id"] for role in roles if role["name"] == "Project Manager")
        _created(gap.post(f"/v1/roles/{role_id}/sync", headers=headers), 200)
        employee = {"name": "Ada Example", "email": "ada@example.com", "team": "Support", "target_role_id": role_id}
        _created(gap.put("/v1/employees/E-1001", json=employee, headers=headers))
        trusted = _created(gap.post("/v1/trusted-issuers", json={"issuer_id": issuer["did"]}, headers=headers))
        mapping = _created(
            gap.post(
                "/v1/alignment-mappings",
                json={
                    "target": "https://partner.fuzz.example/listening",
                    "skill_id": str(demo["Active listening"]),
                    "level": 2,
                },
                headers=headers,
            )
        )
        source = _created(
            gap.post(
                "/v1/webhook-sources", json={"name": "academy", "secret": "whsec_" + "c2VjcmV0" * 4}, headers=headers
            )
        )
        for template in (
            "/v1/employees/{hris_id}",
            "/v1/employees/{hris_id}/gap",
            "/v1/employees/{hris_id}/skills",
            "/v1/employees/{hris_id}/recommendations",
            "/v1/employees/{hris_id}/credentials",
            "/v1/employees/{hris_id}/credentials/baked",
            "/v1/employees/{hris_id}/did-challenges",
            "/v1/employees/{hris_id}/did-proofs",
            "/v1/employees/{hris_id}/dids",
        ):
            platform.know(template, "hris_id", "E-1001")
        for template in (
            "/v1/roles/{role_id}/sync",
            "/v1/roles/{role_id}/requirements",
            "/v1/roles/{role_id}/candidates",
        ):
            platform.know(template, "role_id", role_id)
        platform.know("/v1/teams/{team}/gaps", "team", "Support")
        platform.know("/v1/reports/teams/{team}", "team", "Support")
        platform.know("/v1/trusted-issuers/{trusted_issuer_id}", "trusted_issuer_id", trusted["id"])
        platform.know("/v1/alignment-mappings/{mapping_id}", "mapping_id", mapping["id"])
        platform.know("/v1/webhooks/issuer/{source_id}", "source_id", source["id"])


@pytest.fixture(scope="module")
def fuzzed_platform(database_urls: dict[str, str], auth_key_file: Path) -> Iterator[FuzzedPlatform]:
    taxonomy, issuer, gap_engine = _build_apps(database_urls, auth_key_file)
    client_id, secret, demo = asyncio.run(_new_organisation(database_urls["taxonomy_api"]))
    platform = FuzzedPlatform(taxonomy, issuer, gap_engine, {})
    with asgi.get_client(platform.app("taxonomy_api")) as client:
        token = _created(
            client.post(
                "/oauth/token",
                data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
            ),
            200,
        )["access_token"]
    platform.headers["Authorization"] = f"Bearer {token}"
    _seed(platform, f"http://{TAXONOMY_HOST}", demo)
    yield platform
    asgi.shutdown_lifespans()  # the last test's: every database connection handed back
    total = sum(platform.cases.values())
    print(f"\nfuzz cases by service: {dict(platform.cases)}, total {total}")
    for service, statuses in platform.statuses.items():
        print(f"  {service}: {dict(sorted(statuses.items()))}")


def _config() -> SchemathesisConfig:
    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES_PER_OPERATION,
                "deterministic": True,
                "database": "none",
                "no-shrink": True,
            },
            "checks": {
                "enabled": True,
                # Pydantic's lax mode (the services' wire schemas) takes JSON true/false for a number and
                # a Unix timestamp for a date, as its documentation says it does; what is stored is the
                # number or the date so read. A request the schema calls invalid is thus sometimes
                # served, never wrongly: this check would only report that conversion.
                "negative_data_rejection": {"enabled": False},
                # A JSON Schema cannot say everything the domain checks (a cursor this server issued, a
                # pathway without cycles, levels in order, no NUL character): a schema-valid request
                # breaking such a rule is a 422 problem naming the field, which this check must allow.
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "3xx", "401", "403", "404", "409", "422", "429"]
                },
            },
            "phases": {"stateful": {"enabled": False}},
            "operations": [
                {
                    # Another route serves these paths too (the verify page's GET; PUT and GET of
                    # /v1/employees/{hris_id}, whose id may be "bulk"): a 405 there truthfully allows
                    # methods that this path's own operation does not list.
                    "include-path": path,
                    "checks": {
                        "allow_header_conformance": {"enabled": False},
                        "unsupported_method": {"enabled": False},
                    },
                }
                for path in ("/v1/verify", "/v1/employees/bulk")
            ],
            "suppress-health-check": ["all"],
        }
    )


def _openapi_documents() -> dict[str, dict[str, Any]]:
    """Each service's OpenAPI document, read at collection from apps that never open their database."""
    with tempfile.TemporaryDirectory() as folder:
        key_file = Path(folder) / "key.pem"
        load_or_create_private_key(key_file, create=True)
        urls = {service: f"sqlite+aiosqlite:///{folder}/{service}.db" for service in SERVICES}
        apps = _build_apps(urls, key_file)
        return {service: app.openapi() for service, app in zip(SERVICES, apps, strict=True)}


def _aim_at_seeded_rows(case: Any, platform: FuzzedPlatform) -> None:
    """In a positive case, a path id is one of the seeded rows about half the time (and the generated
    one, mostly a 404, otherwise); which, is read from the generated value, so a run is reproducible.
    A negative case keeps its invalid value."""
    meta = case.meta
    if meta is None or meta.generation.mode is not GenerationMode.POSITIVE:
        return
    for name, value in list((case.path_parameters or {}).items()):
        known = platform.known_ids.get((case.operation.path, name))
        pick = zlib.crc32(str(value).encode())
        if known and pick % 2:
            case.path_parameters[name] = known[(pick // 2) % len(known)]


def _run(case: Any, platform: FuzzedPlatform, service: str) -> None:
    _aim_at_seeded_rows(case, platform)
    # The document was read from another instance of the app; the checks that send a request of their
    # own (without the token, with another method) reach the schema's app, so it is this run's.
    case.operation.app = case.operation.schema.app = platform.app(service)
    platform.cases[service] += 1
    response = case.call(headers=platform.headers)
    platform.statuses.setdefault(service, Counter())[response.status_code] += 1
    case.validate_response(response, headers=platform.headers, transport_kwargs={"headers": platform.headers})


DOCUMENTS = _openapi_documents()
taxonomy = schemathesis.openapi.from_dict(DOCUMENTS["taxonomy_api"], config=_config())
issuer = schemathesis.openapi.from_dict(DOCUMENTS["badge_issuer"], config=_config())
gap_engine = schemathesis.openapi.from_dict(DOCUMENTS["gap_engine"], config=_config())


@taxonomy.parametrize()
def test_taxonomy_api_answers_as_its_openapi_says(case, fuzzed_platform):
    _run(case, fuzzed_platform, "taxonomy_api")


@issuer.parametrize()
def test_badge_issuer_answers_as_its_openapi_says(case, fuzzed_platform):
    _run(case, fuzzed_platform, "badge_issuer")


@gap_engine.parametrize()
def test_gap_engine_answers_as_its_openapi_says(case, fuzzed_platform):
    _run(case, fuzzed_platform, "gap_engine")
