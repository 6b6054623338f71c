"""Health, readiness, metrics, request ids and error shapes, the same on all three services."""

from sqlalchemy import select

from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.db.tables import Organisation
from services.taxonomy_api.provisioning import DEMO_ORGANISATION, bootstrap_organisation, seed_demo_organisation
from services.taxonomy_api.settings import TaxonomySettings
from tests.conftest import asgi_client
from tests.tenancy import authenticated_routes, page_routes_without_an_auth_rule


async def test_health_readiness_and_metrics(each_service):
    async def check(app, client, name):
        assert (await client.get("/healthz")).json() == {"status": "ok", "service": name}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        metrics = await client.get("/metrics")
        assert 'http_requests_total{method="GET",route="/readyz",service="' + name + '",status="200"}' in metrics.text

    await each_service(check)


async def test_request_id_is_echoed_or_made(each_service):
    async def check(app, client, name):
        assert (await client.get("/healthz", headers={"X-Request-ID": "abc-123"})).headers["x-request-id"] == "abc-123"
        assert len((await client.get("/healthz")).headers["x-request-id"]) == 32

    await each_service(check)


async def test_unknown_route_is_a_problem_not_html(each_service):
    async def check(app, client, name):
        response = await client.get("/v1/nowhere")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    await each_service(check)


async def test_every_route_has_an_explicit_auth_rule(each_service):
    async def check(app, client, name):
        authenticated_routes(app)  # asserts each route is authenticated or explicitly public

    await each_service(check)


async def test_not_ready_on_an_unmigrated_database(tmp_path, service_settings):
    settings = service_settings(TaxonomySettings, "taxonomy_api")
    settings.database_url = f"sqlite+aiosqlite:///{tmp_path}/empty.db"
    app = create_taxonomy(settings)
    async for client in asgi_client(app):
        response = await client.get("/readyz")
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/problem+json"


async def test_database_down_is_a_503_problem(service_settings):
    settings = service_settings(TaxonomySettings, "taxonomy_api")
    settings.database_url = "postgresql+asyncpg://nobody@127.0.0.1:9/none"
    app = create_taxonomy(settings)
    async for client in asgi_client(app):
        response = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials", "client_id": "x", "client_secret": "y"}
        )
        assert response.status_code == 503
        assert response.headers["retry-after"] == "2"


async def test_bootstrap_and_demo_seed(service_settings):
    settings = service_settings(TaxonomySettings, "taxonomy_api")
    created = await bootstrap_organisation(settings, "Bootstrap Test Co", "admin")
    assert created["client_id"].startswith("cs_") and len(created["client_secret"]) >= 40
    first = await seed_demo_organisation(settings)
    second = await seed_demo_organisation(settings)
    assert (first is None) or second is None  # seeding twice never duplicates
    app = create_taxonomy(settings)
    async with app.state.database.sessions() as session:
        demo = list(await session.scalars(select(Organisation).where(Organisation.name == DEMO_ORGANISATION)))
    await app.state.database.dispose()
    assert len(demo) == 1
    async for client in asgi_client(app):
        token = await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": created["client_id"],
                "client_secret": created["client_secret"],
            },
        )
        assert token.status_code == 200


async def test_every_page_route_states_who_may_see_it(each_service):
    async def check(app, client, name):
        assert page_routes_without_an_auth_rule(app) == [], name

    await each_service(check)
