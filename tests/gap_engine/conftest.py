"""Fixtures for the gap engine: the real taxonomy and issuer apps in process, seeded with the demo taxonomy."""

import base64
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.badge_issuer.app import create_app as create_issuer_app
from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.app import create_app as create_gap_app
from services.gap_engine.settings import GapSettings
from tests.conftest import asgi_client


def build_issuer_app(service_settings, taxonomy_app, **overrides: Any):
    """The real badge issuer (its public verifier is what the gap engine asks), on the same taxonomy
    app; `overrides` are issuer settings (e.g. hosts it may fetch from)."""
    settings = service_settings(
        IssuerSettings,
        "badge_issuer",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        taxonomy_url="http://taxonomy.test",
        public_base_url="https://issuer.credstack.test",
        **overrides,
    )
    return create_issuer_app(settings, taxonomy_transport=httpx.ASGITransport(app=taxonomy_app))


async def close_issuer_app(app) -> None:
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()
    await app.state.database.dispose()


@pytest.fixture
async def issuer_app(service_settings, taxonomy_app):
    app = build_issuer_app(service_settings, taxonomy_app)
    yield app
    await close_issuer_app(app)


@pytest.fixture
async def gap_app(service_settings, taxonomy_app, issuer_app):
    """The gap engine, reaching the real taxonomy and issuer apps in process (no mock of what it reads)."""
    app = create_gap_app(
        service_settings(
            GapSettings, "gap_engine", taxonomy_url="http://taxonomy.test", issuer_url="https://issuer.credstack.test"
        ),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        issuer_transport=httpx.ASGITransport(app=issuer_app),
    )
    yield app
    await app.state.taxonomy.http.aclose()
    await app.state.verifier.http.aclose()
    await taxonomy_app.state.database.dispose()


@pytest.fixture
async def issuer_client(issuer_app) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=issuer_app), base_url="https://issuer.credstack.test"
    ) as client:
        yield client


@pytest.fixture
async def client(gap_app) -> AsyncIterator[httpx.AsyncClient]:
    async for client in asgi_client(gap_app):
        yield client


@pytest.fixture
async def roles(taxonomy_app, headers) -> dict[str, uuid.UUID]:
    """Demo role ids by name, read through taxonomy_api's own API (the gap engine only knows ids)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://taxonomy.test"
    ) as taxonomy:
        response = await taxonomy.get("/v1/roles", headers=headers)
    assert response.status_code == 200, response.text
    return {role["name"]: uuid.UUID(role["id"]) for role in response.json()["items"]}


@pytest.fixture
async def issuer(issuer_client, headers) -> dict:
    """An issuer of the demo organisation at the badge issuer."""
    body = {"name": "CredStack Academy", "url": "https://academy.credstack.example", "email": "b@credstack.example"}
    response = await issuer_client.post("/v1/issuers", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def api_client_of(taxonomy_app, headers) -> dict:
    """A new API client of the organisation with credentials:read (what a webhook source signs in with)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://taxonomy.test"
    ) as tx:
        created = await tx.post(
            "/v1/clients", json={"name": "gap engine", "scopes": ["credentials:read"]}, headers=headers
        )
    assert created.status_code == 201, created.text
    return created.json()


def employee(hris_id: str, **fields: Any) -> dict[str, Any]:
    return {"hris_id": hris_id, "name": f"Person {hris_id}", **fields}


def fact(hris_id: str, skill_id: uuid.UUID, level: int, **fields: Any) -> dict[str, Any]:
    return {
        "hris_id": hris_id,
        "skill_id": str(skill_id),
        "level": level,
        "credential_id": f"urn:uuid:{uuid.uuid4()}",
        "issuer_id": "did:key:z6MkTest",
        "earned_at": "2026-01-15T09:30:00Z",
        **fields,
    }
