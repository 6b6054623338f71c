"""Fixtures shared by the badge issuer tests."""

from __future__ import annotations

import base64
import copy
import json
import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.db.tables import WebhookDelivery
from services.badge_issuer.settings import IssuerSettings
from tests.badge_issuer.loopback_endpoints import LoopbackEndpoint
from tests.conftest import asgi_client
from tests.material import SHARED_DIR
from tests.shared.remote_web import RemoteWeb

DATA_DIR = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def ob3_dir() -> Path:
    """The official OB 3.0 material (contexts, schemas, examples, vectors) in /work/shared/ob3."""
    path = SHARED_DIR / "ob3"
    assert path.is_dir(), f"OB 3.0 reference material not found at {path}"
    return path


@pytest.fixture(scope="session")
def _sample_credential() -> dict[str, Any]:
    return json.loads((DATA_DIR / "sample-credential.json").read_text(encoding="utf-8"))


@pytest.fixture
def sample_credential(_sample_credential: dict[str, Any]) -> dict[str, Any]:
    """An unsigned OB 3.0 credential shaped like the ones the issuer emits (a fresh copy)."""
    return copy.deepcopy(_sample_credential)


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


# --- the issuer service, with the real taxonomy service in process -----------------------------


ISSUER_BASE_URL = "https://issuer.credstack.test"


@pytest.fixture(scope="session")
def master_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def issuer_settings(service_settings, master_key):
    """Outbound policy as in production (https to public addresses), except the in-process webhook
    receiver `receiver.test`, which is trusted and reached over http."""

    def build(**overrides: object) -> IssuerSettings:
        values = {
            "master_key": master_key,
            "taxonomy_url": "http://taxonomy.test",
            "public_base_url": ISSUER_BASE_URL,
            "fetch_allowed_hosts": [RECEIVER_HOST],
            "fetch_allow_http_hosts": [RECEIVER_HOST],
            "fetch_timeout_seconds": 2.0,
        }
        return service_settings(IssuerSettings, "badge_issuer", **{**values, **overrides})

    return build


RECEIVER_HOST = "receiver.test"


@pytest.fixture
def remote_web() -> RemoteWeb:
    """The rest of the internet for the verifier: names and documents served in process (the real
    outbound policy still vets every URL first)."""
    return RemoteWeb()


@pytest.fixture
async def issuer_app(issuer_settings, taxonomy_app, remote_web):
    """The issuer, reaching the real taxonomy app in process (no mock of what is under test)."""
    app = create_issuer_app(
        issuer_settings(),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        fetch_transport=remote_web.transport,
        fetch_resolver=remote_web.resolve,
    )
    yield app
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()
    await taxonomy_app.state.database.dispose()


@pytest.fixture
async def client(issuer_app) -> AsyncIterator[httpx.AsyncClient]:
    async for client in asgi_client(issuer_app):
        yield client


@pytest.fixture
async def issuer(client, headers) -> dict[str, Any]:
    body = {
        "name": "CredStack Academy",
        "url": "https://academy.credstack.example",
        "email": "badges@credstack.example",
    }
    response = await client.post("/v1/issuers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def assessment(demo, issuer):
    """An assessment-result body for the demo's foundational badge (pass mark 70 of 100)."""

    def build(**overrides: Any) -> dict[str, Any]:
        body = {
            "learner": {"hris_id": "E-1001", "email": "ada@example.com"},
            "achievement_id": str(demo["badge:Active listening"]),
            "issuer_id": issuer["id"],
            "score": 86,
            "evidence": {"urls": ["https://lms.example/attempts/4711"], "narrative": "Observed customer call."},
            "assessor": "Grace Hopper",
            "completed_at": "2026-01-15T09:30:00Z",
        }
        body.update(overrides)
        return body

    return build


def idempotent(headers: dict[str, str], key: str | None = None) -> dict[str, str]:
    return {**headers, "Idempotency-Key": key or uuid.uuid4().hex}


def checks_of(result: dict) -> dict[str, dict]:
    """A verification answer's checks by name."""
    return {check["check"]: check for check in result["checks"]}


async def verify_json(client, body: dict) -> dict:
    """POST /v1/verify with a JSON body; the verifier answers 200 whatever it finds."""
    response = await client.post("/v1/verify", json=body)
    assert response.status_code == 200, response.text
    return response.json()


# --- the issuer posting webhooks to real loopback sockets (outbox timing, isolation, shutdown) ----

LOOPBACK = "127.0.0.1"
LOOPBACK_FETCH_TIMEOUT_SECONDS = 5.0


async def no_names(host: str, port: int) -> list[str]:
    """Tests resolve nothing: every endpoint here is a loopback address literal."""
    raise OSError(f"name resolution is off in this test ({host})")


@pytest.fixture
async def loopback_issuer(issuer_settings, taxonomy_app) -> AsyncIterator[FastAPI]:
    """The issuer allowed to post to loopback over http (as an operator's allowlist would allow an
    internal receiver). Deliveries other tests left pending are set aside: they are not ours to send."""
    settings = issuer_settings(
        fetch_allowed_hosts=[LOOPBACK],
        fetch_allow_http_hosts=[LOOPBACK],
        fetch_timeout_seconds=LOOPBACK_FETCH_TIMEOUT_SECONDS,
    )
    app = create_issuer_app(settings, taxonomy_transport=httpx.ASGITransport(app=taxonomy_app), fetch_resolver=no_names)
    async with app.state.database.sessions() as session:
        await session.execute(
            update(WebhookDelivery).where(WebhookDelivery.status == "pending").values(status="set-aside-by-test")
        )
        await session.commit()
    yield app
    await app.state.webhook_http.aclose()
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()


@pytest.fixture
async def loopback_client(loopback_issuer) -> AsyncIterator[httpx.AsyncClient]:
    async for client in asgi_client(loopback_issuer):
        yield client


@pytest.fixture
async def endpoints() -> AsyncIterator[Callable[..., Any]]:
    started: list[LoopbackEndpoint] = []

    async def start(**options: Any) -> LoopbackEndpoint:
        endpoint = await LoopbackEndpoint(**options).start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        await endpoint.stop()
