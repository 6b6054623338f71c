"""taxonomy → issuer → webhook → gap engine, with the three real apps served by uvicorn on loopback
ports and nothing in between but HTTP: the issuer's own outbox worker delivers the signed
credential.issued event, and the gap engine's report shows the level it verified for itself. No admin
trusts the issuer: it is the organisation's own, so its first delivery trusts it (origin "own").

The services get databases of their own (not the session's shared ones), so the issuer's worker
has no other test's pending deliveries to send.
"""

import asyncio
import base64
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.app import create_app as create_gap_app
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy_app
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from shared.migrations import upgrade
from tests.conftest import POSTGRES_URL, SERVICES, _create_postgres_databases, _drop_postgres_databases

STARTUP_SECONDS = 15.0
DELIVERY_SECONDS = 10.0


@pytest.fixture
def own_databases(tmp_path: Path) -> Iterator[dict[str, str]]:
    """Fresh migrated databases for the three services (SQLite files, or PostgreSQL when configured)."""
    if POSTGRES_URL:
        run = uuid.uuid4().hex[:8]
        names = {service: f"credstack_it_{service}_{run}" for service in SERVICES}
        _create_postgres_databases(list(names.values()))
        base = POSTGRES_URL.rsplit("/", 1)[0]
        urls = {service: f"{base}/{name}" for service, name in names.items()}
    else:
        urls = {service: f"sqlite+aiosqlite:///{tmp_path / service}.db" for service in SERVICES}
    for service, url in urls.items():
        upgrade(service, url)
    yield urls
    if POSTGRES_URL:
        _drop_postgres_databases(list(names.values()))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def _serving(app, port: int) -> Iterator[str]:  # noqa: ANN001
    """The app on a real port in a background thread (its own event loop and lifespan), stopped after."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_SECONDS
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, f"the app on port {port} did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(STARTUP_SECONDS)
        assert not thread.is_alive(), f"the app on port {port} did not stop"


def three_apps(databases: dict[str, str], ports: dict[str, int], auth_key_file: Path) -> tuple:
    """The three apps for loopback ports, each knowing where the others are; the taxonomy app's
    settings are at app.state.settings."""
    urls = {service: f"http://127.0.0.1:{port}" for service, port in ports.items()}
    common = {"auth_private_key_file": auth_key_file, "environment": "dev", "access_log": False}
    taxonomy_app = create_taxonomy_app(
        TaxonomySettings(
            database_url=databases["taxonomy_api"],
            public_base_url=urls["taxonomy_api"],
            taxonomy_page_url=urls["taxonomy_api"],
            **common,
        )
    )
    issuer_app = create_issuer_app(
        IssuerSettings(
            database_url=databases["badge_issuer"],
            master_key=base64.b64encode(os.urandom(32)).decode(),
            taxonomy_url=urls["taxonomy_api"],
            public_base_url=urls["badge_issuer"],
            **common,
        )
    )
    gap_app = create_gap_app(
        GapSettings(
            database_url=databases["gap_engine"],
            taxonomy_url=urls["taxonomy_api"],
            issuer_url=urls["badge_issuer"],
            public_base_url=urls["gap_engine"],
            **common,
        )
    )
    return taxonomy_app, issuer_app, gap_app


async def _seed_organisation(app) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:  # noqa: ANN001
    """A new organisation with the demo taxonomy, written before the app starts serving; the engine is
    disposed so the server's event loop opens its own connections."""
    async with app.state.database.sessions() as session:
        organisation = await organisations.create_organisation(session, f"it-{uuid.uuid4().hex[:10]}")
        ids = await seed_demo_taxonomy(session, organisation.id)
        await session.commit()
    await app.state.database.dispose()
    return organisation.id, ids


def _ok(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, f"{response.request.method} {response.request.url}: {response.text}"
    return response.json()


async def test_an_assessment_at_the_issuer_reaches_the_gap_report_through_the_webhook(
    own_databases, auth_key_file, bearer
):
    ports = {service: _free_port() for service in SERVICES}
    taxonomy_app, issuer_app, gap_app = three_apps(own_databases, ports, auth_key_file)
    org, demo = await _seed_organisation(taxonomy_app)
    headers = bearer(org)

    with (
        _serving(taxonomy_app, ports["taxonomy_api"]) as taxonomy_url,
        _serving(issuer_app, ports["badge_issuer"]) as issuer_url,
        _serving(gap_app, ports["gap_engine"]) as gap_url,
    ):
        async with httpx.AsyncClient(headers=headers, timeout=10.0) as http:
            roles = _ok(await http.get(f"{taxonomy_url}/v1/roles"), 200)["items"]
            role_id = next(role["id"] for role in roles if role["name"] == "Project Manager")
            body = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@x.example"}
            issuer = _ok(await http.post(f"{issuer_url}/v1/issuers", json=body), 201)

            source_id = str(uuid.uuid4())
            hook = f"{gap_url}/v1/webhooks/issuer/{source_id}"
            subscription = _ok(await http.post(f"{issuer_url}/v1/webhook-subscriptions", json={"url": hook}), 201)
            source = {"id": source_id, "name": "academy", "secret": subscription["secret"]}
            assert _ok(await http.post(f"{gap_url}/v1/webhook-sources", json=source), 201)["webhook_path"] in hook
            _ok(await http.put(f"{gap_url}/v1/employees/E-1001", json={"name": "Ada", "target_role_id": role_id}), 201)
            _ok(await http.post(f"{gap_url}/v1/roles/{role_id}/sync"), 200)

            skill_id = str(demo["Active listening"])
            gap = f"{gap_url}/v1/employees/E-1001/gap"
            before = _ok(await http.get(gap), 200)
            assert next(r["verified_level"] for r in before["requirements"] if r["skill_id"] == skill_id) is None

            result = {
                "learner": {"hris_id": "E-1001", "email": "ada@example.com"},
                "achievement_id": str(demo["badge:Active listening"]),
                "issuer_id": issuer["id"],
                "score": 86,
                "completed_at": "2026-01-15T09:30:00Z",
            }
            issued = await http.post(
                f"{issuer_url}/v1/assessment-results", json=result, headers={"Idempotency-Key": uuid.uuid4().hex}
            )
            _ok(issued, 201)

            # The issuer's worker polls every second; bounded wait for the delivery's effect.
            deadline = time.monotonic() + DELIVERY_SECONDS
            while True:
                report = _ok(await http.get(gap), 200)
                level = next(r["verified_level"] for r in report["requirements"] if r["skill_id"] == skill_id)
                if level is not None or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert level == 1, f"no verified level after {DELIVERY_SECONDS} s: {report}"
            assert report["readiness"] > before["readiness"]
            received = _ok(await http.get(f"{gap_url}/v1/employees/E-1001/credentials"), 200)["items"]
            assert [(item["status"], item["issuer_id"]) for item in received] == [("verified", issuer["did"])]
            registry = _ok(await http.get(f"{gap_url}/v1/trusted-issuers"), 200)["items"]
            assert [(t["issuer_id"], t["origin"], t["issuer_ref"]) for t in registry] == [
                (issuer["did"], "own", issuer["id"])
            ]
