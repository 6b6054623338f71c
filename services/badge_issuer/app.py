"""CredStack badge issuer."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI

from services.badge_issuer.api import (
    assessments,
    credentials,
    internal,
    issuers,
    pages,
    public,
    verification,
    wallet,
    webhooks,
)
from services.badge_issuer.db.key_revision import SESSION_KEY, IssuerSession, OwnKeyCache
from services.badge_issuer.domain import outbox
from services.badge_issuer.domain.key_vault import KeyVault, master_key_from_settings
from services.badge_issuer.domain.outbox_lag import register_outbox_gauges
from services.badge_issuer.domain.taxonomy_client import TaxonomyClient
from services.badge_issuer.settings import IssuerSettings
from shared.safe_fetch import Resolver, SafeFetcher
from shared.service_app import PageLink, build_service_app


def create_app(
    settings: IssuerSettings | None = None,
    *,
    taxonomy_transport: httpx.AsyncBaseTransport | None = None,
    webhook_transport: httpx.AsyncBaseTransport | None = None,
    fetch_transport: httpx.AsyncBaseTransport | None = None,
    fetch_resolver: Resolver | None = None,
) -> FastAPI:
    """`taxonomy_transport` lets tests serve taxonomy_api in process; by default it is reached over HTTP.
    `webhook_transport` likewise routes webhook deliveries (tests deliver to an in-process receiver), and
    `fetch_transport` / `fetch_resolver` the verifier's fetches of remote documents. Whatever the
    transport, the outbound policy (settings.fetch_*) vets every URL first."""
    settings = settings or IssuerSettings()
    vault = KeyVault(master_key_from_settings(settings))  # refuses to start without a key in production
    own_key_cache: OwnKeyCache[object] = OwnKeyCache(revision_ttl_seconds=settings.key_revision_ttl_seconds)
    app = build_service_app(
        settings,
        session_class=IssuerSession,
        session_info={
            "status_index_block_size": settings.status_index_block_size,
            "status_revision_ttl_seconds": settings.status_revision_ttl_seconds,
            SESSION_KEY: own_key_cache,
        },
        title="CredStack badge issuer",
        description="Issues, serves and verifies Open Badges 3.0 credentials: issuer profiles and keys, "
        "issuance from assessment results, revocation with Bitstring Status Lists, verification.",
        routers=[
            issuers.router,
            assessments.router,
            credentials.router,
            public.router,
            verification.router,
            internal.router,
            webhooks.router,
            pages.router,
            wallet.router,
            wallet.pages,
        ],
        templates=Path(__file__).resolve().parent / "templates",
        page_links=[
            PageLink(
                "Verify a badge",
                "/verify",
                "Paste, upload or link an Open Badge: is it genuine, current, and whose? No account needed.",
            ),
            PageLink("My wallet", "/wallet", "Your credentials, pathway progress, share links and a portable export."),
        ],
    )
    app.state.key_vault = vault
    app.state.own_key_cache = own_key_cache
    register_outbox_gauges(app.state.metrics)
    taxonomy_http = httpx.AsyncClient(
        base_url=settings.taxonomy_url, transport=taxonomy_transport, timeout=settings.taxonomy_timeout_seconds
    )
    app.state.taxonomy = TaxonomyClient(taxonomy_http, cache_ttl_seconds=settings.taxonomy_cache_ttl_seconds)
    policy = settings.fetch_policy()
    app.state.fetcher = SafeFetcher(policy, transport=fetch_transport, resolver=fetch_resolver)
    webhook_http = SafeFetcher(policy, transport=webhook_transport, resolver=fetch_resolver)
    app.state.webhook_http = webhook_http
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(application):
            # The outbox worker lives with the app: pending events are delivered after a restart.
            stop = asyncio.Event()
            policy = outbox.DeliveryPolicy(
                concurrency=settings.webhook_concurrency,
                lanes=settings.webhook_lanes,
                lease=timedelta(seconds=settings.webhook_lease_seconds),
            )
            worker = asyncio.create_task(
                outbox.run_worker(
                    application.state.database.sessions,
                    vault,
                    webhook_http,
                    stop,
                    application.state.metrics,
                    policy=policy,
                )
            )
            try:
                yield
            finally:
                stop.set()
                # The worker lets its POSTs in flight end (each within the fetch timeout) and releases
                # its leases; past that, wait_for cancels it and an unfinished delivery is re-sent.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker, settings.fetch_timeout_seconds + 5)
        await taxonomy_http.aclose()
        await webhook_http.aclose()
        await application.state.fetcher.aclose()

    app.router.lifespan_context = lifespan
    return app
