"""Test fixtures shared by every service's suite.

The same suite runs on SQLite (default) and on PostgreSQL when CREDSTACK_TEST_POSTGRES_URL is set
(e.g. postgresql+asyncpg://credstack@127.0.0.1:55432/postgres): a fresh database per service per run,
migrated with Alembic (never create_all). Tests isolate by tenant: each creates its own organisation.
"""

import asyncio
import inspect
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import SCOPES, TokenAuthority, load_or_create_private_key
from shared.migrations import upgrade

SERVICES = ("taxonomy_api", "badge_issuer", "gap_engine")
POSTGRES_URL = os.environ.get("CREDSTACK_TEST_POSTGRES_URL")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run every coroutine test on asyncio through anyio's pytest plugin."""
    for item in items:
        if inspect.iscoroutinefunction(getattr(item, "function", None)):
            item.add_marker(pytest.mark.anyio)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _on_postgres_server(*statements: str) -> None:
    """Run statements on the server's maintenance database (CREATE/DROP DATABASE cannot run in a transaction)."""
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_URL.replace("+asyncpg", ""))
    try:
        for statement in statements:
            await connection.execute(statement)
    finally:
        await connection.close()


def _create_postgres_databases(names: list[str]) -> None:
    asyncio.run(_on_postgres_server(*(f'CREATE DATABASE "{name}"' for name in names)))


def _drop_postgres_databases(names: list[str]) -> None:
    asyncio.run(_on_postgres_server(*(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in names)))


@pytest.fixture(scope="session")
def database_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per service for the whole run."""
    if POSTGRES_URL:
        run = uuid.uuid4().hex[:8]
        names = {service: f"credstack_test_{service}_{run}" for service in SERVICES}
        _create_postgres_databases(list(names.values()))
        base = POSTGRES_URL.rsplit("/", 1)[0]
        urls = {service: f"{base}/{name}" for service, name in names.items()}
    else:
        folder = tmp_path_factory.mktemp("databases")
        urls = {service: f"sqlite+aiosqlite:///{folder / service}.db" for service in SERVICES}
    for service, url in urls.items():
        upgrade(service, url)
    yield urls
    if POSTGRES_URL:
        _drop_postgres_databases(list(names.values()))


@pytest.fixture(scope="session")
def auth_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "auth_signing_key.pem"
    load_or_create_private_key(path, create=True)
    return path


@pytest.fixture
def service_settings(database_urls: dict[str, str], auth_key_file: Path):
    """Build a service's settings for tests: its test database, the shared test signing key."""

    def build(settings_class: type, service: str, **overrides: object):
        # The rate limit is counted in the session's database, so every test's public requests of the same
        # minute would spend one budget: a test about the limit sets a limiter of its own (a budget name).
        limits = {"public_rate_limit_per_minute": 1_000_000}
        return settings_class(
            database_url=database_urls[service],
            auth_private_key_file=auth_key_file,
            environment="dev",
            access_log=False,
            **{**limits, **overrides},
        )

    return build


@pytest.fixture
def token_authority(auth_key_file: Path) -> TokenAuthority:
    key = load_or_create_private_key(auth_key_file, create=False)
    return TokenAuthority(key, issuer="credstack", audience="credstack", ttl_seconds=900)


@pytest.fixture
def bearer(token_authority: TokenAuthority):
    """Authorization headers for an organisation with the given scopes (all by default)."""

    def headers(org_id: uuid.UUID, *scopes: str) -> dict[str, str]:
        token = token_authority.issue(org_id=org_id, client_id="test-client", scopes=frozenset(scopes or SCOPES.keys()))
        return {"Authorization": f"Bearer {token}"}

    return headers


async def asgi_client(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    """An in-process client; disposes the app's database engine afterwards."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        yield client
    await app.state.database.dispose()


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """An empty, unmigrated database on the backend under test (for migration tests)."""
    if POSTGRES_URL:
        name = f"credstack_test_fresh_{uuid.uuid4().hex[:8]}"
        _create_postgres_databases([name])
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
        _drop_postgres_databases([name])
    else:
        yield f"sqlite+aiosqlite:///{tmp_path}/fresh.db"


# --- an organisation with the demo taxonomy, in the real taxonomy app -----------------------------
# Shared by the issuer's and the gap engine's suites. tests/taxonomy_api/conftest.py overrides
# new_org / org / demo: its tests need organisations without the demo taxonomy.


@pytest.fixture
def taxonomy_app(service_settings):
    from services.taxonomy_api.app import create_app
    from services.taxonomy_api.settings import TaxonomySettings

    return create_app(service_settings(TaxonomySettings, "taxonomy_api"))


@pytest.fixture
def new_org(taxonomy_app):
    """A new organisation with the demo taxonomy; returns (org id, ids of the demo taxonomy)."""
    from services.taxonomy_api.domain import organisations
    from services.taxonomy_api.provisioning import seed_demo_taxonomy

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
