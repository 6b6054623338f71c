"""CredStack gap engine."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from services.gap_engine.api import employees, gaps
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from services.gap_engine.settings import GapSettings
from shared.service_app import build_service_app


def create_app(
    settings: GapSettings | None = None, *, taxonomy_transport: httpx.AsyncBaseTransport | None = None
) -> FastAPI:
    """`taxonomy_transport` lets tests serve taxonomy_api in process; by default it is reached over HTTP."""
    settings = settings or GapSettings()
    app = build_service_app(
        settings,
        title="CredStack gap engine",
        description="Role competencies against verified skills: employees and KPIs from the HRIS, role "
        "requirements from taxonomy_api, gap reports, internal mobility and ROI estimates.",
        routers=[employees.router, gaps.router],
    )
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
