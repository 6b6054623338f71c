"""The gap engine runs the same cross-tenant walk; it has no organisation data yet, so the walk's job
today is to fail as soon as a route is added without an auth rule or without a place in this walk."""

import uuid

from services.gap_engine.app import create_app
from services.gap_engine.settings import GapSettings
from tests.conftest import asgi_client
from tests.tenancy import TenantWalk, authenticated_routes, walk_every_authenticated_route


async def test_every_authenticated_route_is_scoped_to_the_callers_organisation(service_settings, bearer):
    app = create_app(service_settings(GapSettings, "gap_engine"))
    owner, intruder = uuid.uuid4(), uuid.uuid4()
    async for client in asgi_client(app):
        walked = await walk_every_authenticated_route(
            client,
            app,
            TenantWalk(
                owner_headers=bearer(owner),
                intruder_headers=bearer(intruder),
                path_params={},
                bodies={},
                owner_markers={str(owner)},
            ),
        )
    assert walked == len(authenticated_routes(app))
