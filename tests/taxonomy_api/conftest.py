import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from services.taxonomy_api.domain import organisations, people
from services.taxonomy_api.provisioning import seed_demo_taxonomy
from tests.conftest import asgi_client
from tests.live_platform import free_port, serving
from tests.taxonomy_api.oidc_provider import StubOpenIDProvider, provider_app


@pytest.fixture
async def client(taxonomy_app) -> AsyncIterator[httpx.AsyncClient]:
    async for client in asgi_client(taxonomy_app):
        yield client


@pytest.fixture
def new_org(taxonomy_app):
    """Create an organisation (unique name) and return its id."""

    async def create(prefix: str = "org") -> uuid.UUID:
        async with taxonomy_app.state.database.sessions() as session:
            organisation = await organisations.create_organisation(session, f"{prefix}-{uuid.uuid4().hex[:10]}")
            await session.commit()
            return organisation.id

    return create


@pytest.fixture
async def org(new_org) -> uuid.UUID:
    return await new_org()


@pytest.fixture
async def demo(taxonomy_app, org) -> dict[str, uuid.UUID]:
    """The demo taxonomy seeded into `org`: skill ids by name, badge ids under 'badge:<skill>'."""
    async with taxonomy_app.state.database.sessions() as session:
        ids = await seed_demo_taxonomy(session, org)
        await session.commit()
    return ids


@pytest.fixture(scope="session")
def served_provider() -> Iterator[StubOpenIDProvider]:
    """The test OpenID provider on a loopback port for the whole run (a real HTTP peer)."""
    provider = StubOpenIDProvider()
    port = free_port()
    provider.issuer = f"http://127.0.0.1:{port}"
    with serving(provider_app(provider), port):
        yield provider


@pytest.fixture
def identity_provider(served_provider: StubOpenIDProvider) -> Iterator[StubOpenIDProvider]:
    served_provider.reset()
    yield served_provider
    served_provider.reset()


PASSWORD = "correct horse battery staple"


@pytest.fixture
def add_person(taxonomy_app, org):
    async def add(role: str = "analyst", *, password: str | None = PASSWORD, hris_id: str | None = None) -> str:
        email = f"{uuid.uuid4().hex[:8]}@example.com"
        async with taxonomy_app.state.database.sessions() as session:
            await people.add_user(
                session, org, email=email, name="Pat Example", role=role, hris_id=hris_id, password=password
            )
            await session.commit()
        return email

    return add


@pytest.fixture
def as_client(token_authority, org):
    """Headers for a named API client of the organisation: separation of duties needs several."""

    def headers(client_id: str, *scopes: str) -> dict[str, str]:
        token = token_authority.issue(org_id=org, client_id=client_id, scopes=frozenset(scopes or {"admin"}))
        return {"Authorization": f"Bearer {token}"}

    return headers
