"""CredStack gap engine."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.gap_engine.api import credentials, employees, gaps, insights, pages, reports, webhooks
from services.gap_engine.domain import status_sweep
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.page_tokens import PageAuthorizations
from services.gap_engine.domain.recheck_lag import register_recheck_gauges
from services.gap_engine.domain.service_tokens import ServiceTokens
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from services.gap_engine.settings import GapSettings
from shared.safe_fetch import Resolver, SafeFetcher
from shared.secret_box import SecretBox, resolve_master_key
from shared.service_app import PageLink, build_service_app

TEMPLATES = Path(__file__).resolve().parent / "templates"
PAGE_LINKS = [
    PageLink(
        "Dashboards",
        "/dashboard",
        "HR dashboards (signed in): role × skill heatmaps, top gaps, readiness, teams, one employee's path, "
        "internal candidates, KPI linkage and the ROI calculator, each table also as CSV.",
    )
]


def create_app(
    settings: GapSettings | None = None,
    *,
    taxonomy_transport: httpx.AsyncBaseTransport | None = None,
    issuer_transport: httpx.AsyncBaseTransport | None = None,
    fetch_transport: httpx.AsyncBaseTransport | None = None,
    fetch_resolver: Resolver | None = None,
) -> FastAPI:
    """The transports let tests serve taxonomy_api and the issuer in process; by default both are
    reached over HTTP. `fetch_transport` / `fetch_resolver` carry the sweep's fetches of status lists;
    whatever the transport, the outbound policy (settings.fetch_*) vets every URL first."""
    settings = settings or GapSettings()
    app = build_service_app(
        settings,
        title="CredStack gap engine",
        description="Role competencies against verified skills: employees and KPIs from the HRIS, role "
        "requirements from taxonomy_api, gap reports, internal mobility and ROI estimates.",
        routers=[
            employees.router,
            gaps.router,
            reports.router,
            insights.router,
            credentials.router,
            webhooks.router,
            pages.router,
        ],
        templates=TEMPLATES,
        page_links=PAGE_LINKS,
    )
    taxonomy_http = httpx.AsyncClient(
        base_url=settings.taxonomy_url, transport=taxonomy_transport, timeout=settings.taxonomy_timeout_seconds
    )
    app.state.taxonomy = TaxonomyClient(taxonomy_http)
    app.state.service_tokens = ServiceTokens(taxonomy_http)
    app.state.page_authorizations = PageAuthorizations(taxonomy_http)
    issuer_http = httpx.AsyncClient(
        base_url=settings.issuer_url, transport=issuer_transport, timeout=settings.taxonomy_timeout_seconds
    )
    app.state.verifier = IssuerVerifier(issuer_http)
    app.state.status_fetcher = SafeFetcher(settings.fetch_policy(), transport=fetch_transport, resolver=fetch_resolver)
    app.state.secret_box = SecretBox(
        resolve_master_key(
            settings.master_key,
            dev_file=settings.master_key_file,
            environment=settings.environment,
            variable="CREDSTACK_GAP_MASTER_KEY",
        )
    )
    service_lifespan = app.router.lifespan_context

    app.state.sweep_policy = status_sweep.SweepPolicy(
        recheck=timedelta(seconds=settings.status_recheck_seconds),
        grace=timedelta(seconds=settings.status_grace_seconds),
        lease=timedelta(seconds=settings.status_sweep_lease_seconds),
    )
    register_recheck_gauges(app.state.metrics, app.state.sweep_policy.recheck)

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(application):
            # The status sweep lives with the app; the lease keeps replicas from doubling its work.
            stop = asyncio.Event()
            sweeper = None
            if settings.status_sweep_enabled:
                sweeper = asyncio.create_task(
                    status_sweep.run_sweeper(
                        application.state.database.sessions,
                        application.state.verifier,
                        application.state.taxonomy,
                        application.state.service_tokens,
                        application.state.secret_box,
                        application.state.sweep_policy,
                        stop,
                        settings.status_sweep_poll_seconds,
                        timedelta(seconds=settings.reconcile_seconds),
                        application.state.metrics,
                        application.state.status_fetcher,
                    )
                )
            try:
                yield
            finally:
                stop.set()
                if sweeper is not None:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(sweeper, settings.taxonomy_timeout_seconds * 2)
        await taxonomy_http.aclose()
        await issuer_http.aclose()
        await application.state.status_fetcher.aclose()

    app.router.lifespan_context = lifespan
    return app
