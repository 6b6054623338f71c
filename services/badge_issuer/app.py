"""CredStack badge issuer."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.badge_issuer.api import assessments, credentials, issuers, public, verification
from services.badge_issuer.domain.key_vault import KeyVault, master_key_from_settings
from services.badge_issuer.domain.taxonomy_client import TaxonomyClient
from services.badge_issuer.settings import IssuerSettings
from shared.service_app import build_service_app


def create_app(
    settings: IssuerSettings | None = None, *, taxonomy_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`taxonomy_transport` lets tests serve taxonomy_api in process; by default it is reached over HTTP."""
    settings = settings or IssuerSettings()
    vault = KeyVault(master_key_from_settings(settings))  # refuses to start without a key in production
    app = build_service_app(
        settings,
        title="CredStack badge issuer",
        description="Issues, serves and verifies Open Badges 3.0 credentials: issuer profiles and keys, "
        "issuance from assessment results, revocation with Bitstring Status Lists, verification.",
        routers=[issuers.router, assessments.router, credentials.router, public.router, verification.router],
    )
    app.state.key_vault = vault
    taxonomy_http = httpx.AsyncClient(
        base_url=settings.taxonomy_url, transport=taxonomy_transport, timeout=settings.taxonomy_timeout_seconds
    )
    app.state.taxonomy = TaxonomyClient(taxonomy_http)
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(application):
            yield
        await taxonomy_http.aclose()

    app.router.lifespan_context = lifespan
    return app
