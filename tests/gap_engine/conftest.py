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
from tests.shared.remote_web import RemoteWeb

ISSUER_HOST = "issuer.credstack.test"


def build_issuer_app(service_settings, taxonomy_app, remote_web: RemoteWeb | None = None, **overrides: Any):
    """The real badge issuer (its public verifier is what the gap engine asks), on the same taxonomy
    app; its verifier's remote documents come from `remote_web`; `overrides` are issuer settings."""
    settings = service_settings(
        IssuerSettings,
        "badge_issuer",
        master_key=base64.b64encode(os.urandom(32)).decode(),
        taxonomy_url="http://taxonomy.test",
        public_base_url="https://issuer.credstack.test",
        **overrides,
    )
    if remote_web is None:
        return create_issuer_app(settings, taxonomy_transport=httpx.ASGITransport(app=taxonomy_app))
    return create_issuer_app(
        settings,
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        fetch_transport=remote_web.transport,
        fetch_resolver=remote_web.resolve,
    )


async def close_issuer_app(app) -> None:
    await app.state.taxonomy.http.aclose()
    await app.state.fetcher.aclose()
    await app.state.database.dispose()


@pytest.fixture
def remote_web() -> RemoteWeb:
    """Other issuers' hosts (their status lists, DID documents), served in process; the outbound
    policies of both the issuer's verifier and the gap engine's sweep still vet every URL."""
    return RemoteWeb()


class StatusListRoutes(httpx.AsyncBaseTransport):
    """Where the gap engine's status-list fetches go: our issuer's host to the issuer app, any other
    to `remote_web`. Every exchange is kept in `exchanges` (URL, If-None-Match sent, status answered)."""

    def __init__(self, issuer_app, remote_web: RemoteWeb) -> None:
        self.issuer = httpx.ASGITransport(app=issuer_app)
        self.web = remote_web
        self.exchanges: list[tuple[str, str | None, int]] = []
        self.etags: list[str | None] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        own = request.headers["host"] == ISSUER_HOST
        target = self.issuer if own else self.web.transport
        response = await target.handle_async_request(request)
        self.exchanges.append((str(request.url), request.headers.get("if-none-match"), response.status_code))
        self.etags.append(response.headers.get("etag"))
        return response


@pytest.fixture
async def issuer_app(service_settings, taxonomy_app, remote_web):
    app = build_issuer_app(service_settings, taxonomy_app, remote_web)
    yield app
    await close_issuer_app(app)


@pytest.fixture
async def gap_app(service_settings, taxonomy_app, issuer_app, remote_web):
    """The gap engine, reaching the real taxonomy and issuer apps in process (no mock of what it reads)."""
    routes = StatusListRoutes(issuer_app, remote_web)
    app = create_gap_app(
        service_settings(
            GapSettings,
            "gap_engine",
            taxonomy_url="http://taxonomy.test",
            issuer_url=f"https://{ISSUER_HOST}",
            fetch_allowed_hosts=[ISSUER_HOST],
        ),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
        issuer_transport=httpx.ASGITransport(app=issuer_app),
        fetch_transport=routes,
        fetch_resolver=remote_web.resolve,
    )
    app.state.status_list_routes = routes
    yield app
    await app.state.taxonomy.http.aclose()
    await app.state.verifier.http.aclose()
    await app.state.status_fetcher.aclose()
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
