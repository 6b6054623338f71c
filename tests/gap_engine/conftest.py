"""Fixtures for the gap engine: the real taxonomy app in process, seeded with the demo taxonomy."""

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.gap_engine.app import create_app as create_gap_app
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy_app
from services.taxonomy_api.domain import organisations
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from tests.conftest import asgi_client


@pytest.fixture
def taxonomy_app(service_settings):
    return create_taxonomy_app(service_settings(TaxonomySettings, "taxonomy_api"))


@pytest.fixture
async def gap_app(service_settings, taxonomy_app):
    """The gap engine, reaching the real taxonomy app in process (no mock of what it reads)."""
    app = create_gap_app(
        service_settings(GapSettings, "gap_engine", taxonomy_url="http://taxonomy.test"),
        taxonomy_transport=httpx.ASGITransport(app=taxonomy_app),
    )
    yield app
    await app.state.taxonomy.http.aclose()
    await taxonomy_app.state.database.dispose()


@pytest.fixture
async def client(gap_app) -> AsyncIterator[httpx.AsyncClient]:
    async for client in asgi_client(gap_app):
        yield client


@pytest.fixture
def new_org(taxonomy_app):
    """A new organisation with the demo taxonomy; returns (org id, ids of the demo taxonomy)."""

    async def create(prefix: str = "org") -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
        async with taxonomy_app.state.database.sessions() as session:
            organisation = await organisations.create_organisation(session, f"{prefix}-{uuid.uuid4().hex[:10]}")
            ids = await seed_demo_taxonomy(session, organisation.id)
            await session.commit()
            return organisation.id, ids

    return create


@pytest.fixture
async def seeded(new_org) -> tuple[uuid.UUID, dict[str, uuid.UUID]]:
    return await new_org()


@pytest.fixture
def org(seeded) -> uuid.UUID:
    return seeded[0]


@pytest.fixture
def demo(seeded) -> dict[str, uuid.UUID]:
    return seeded[1]


@pytest.fixture
def headers(bearer, org) -> dict[str, str]:
    return bearer(org)


@pytest.fixture
async def roles(taxonomy_app, headers) -> dict[str, uuid.UUID]:
    """Demo role ids by name, read through taxonomy_api's own API (the gap engine only knows ids)."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=taxonomy_app), base_url="http://taxonomy.test"
    ) as taxonomy:
        response = await taxonomy.get("/v1/roles", headers=headers)
    assert response.status_code == 200, response.text
    return {role["name"]: uuid.UUID(role["id"]) for role in response.json()["items"]}


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
