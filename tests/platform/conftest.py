"""Fixtures for checks that every service must pass alike."""

import pytest

from services.badge_issuer.app import create_app as create_issuer
from services.badge_issuer.settings import IssuerSettings
from services.gap_engine.app import create_app as create_gap_engine
from services.gap_engine.settings import GapSettings
from services.taxonomy_api.app import create_app as create_taxonomy
from services.taxonomy_api.settings import TaxonomySettings
from tests.conftest import asgi_client

SERVICES = [
    (create_taxonomy, TaxonomySettings, "taxonomy_api"),
    (create_issuer, IssuerSettings, "badge_issuer"),
    (create_gap_engine, GapSettings, "gap_engine"),
]


@pytest.fixture
def each_service(service_settings):
    """Run a check on all three services in turn (apps built fresh, engines disposed after);
    `overrides` gives settings per service name."""

    async def run(check, **overrides) -> None:
        for create, settings_class, name in SERVICES:
            app = create(service_settings(settings_class, name, **overrides.get(name, {})))
            async for client in asgi_client(app):
                await check(app, client, name)

    return run
