"""The skills taxonomy service, and the token authority of the platform."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI

from services.taxonomy_api.api import (
    auth,
    case_provider,
    exports,
    governance_pages,
    imports,
    public,
    sign_in,
    single_sign_on,
    taxonomy,
    versions,
)
from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.domain.import_jobs import run_import_worker
from services.taxonomy_api.settings import TaxonomySettings
from shared.api_docs import PathCORSMiddleware
from shared.auth import TOKEN_PATH, TokenAuthority
from shared.mail import Mailer
from shared.read_cache import RevisionedCache
from shared.safe_fetch import SafeFetcher
from shared.secret_box import SecretBox, resolve_master_key
from shared.service_app import PageLink, build_service_app


def create_app(settings: TaxonomySettings | None = None) -> FastAPI:
    settings = settings or TaxonomySettings()
    read_cache = RevisionedCache(revision_ttl_seconds=settings.read_cache_revision_ttl_ms / 1000)
    app = build_service_app(
        settings,
        title="CredStack taxonomy API",
        description="Skills, proficiency scales, roles, credential definitions and pathways; "
        "and the OAuth2 token endpoint shared by all CredStack services.",
        routers=[
            auth.router,
            sign_in.router,
            single_sign_on.router,
            sign_in.api,
            single_sign_on.api,
            taxonomy.router,
            public.router,
            imports.router,
            versions.router,
            exports.router,
            governance_pages.router,
            *case_provider.routers,
        ],
        templates=Path(__file__).parent / "templates",
        page_links=[
            PageLink("Sign in", "/sign-in", "For the people of an organisation: dashboards, wallet, taxonomy."),
            PageLink(
                "Taxonomy versions", "/taxonomy/versions", "Drafts, reviews, publications and what is due for review."
            ),
        ],
        session_class=TaxonomySession,
        session_info={"read_cache": read_cache},
        larger_bodies={imports.UPLOADS_PATH: settings.max_upload_bytes},
    )
    app.state.token_authority = TokenAuthority.from_settings(settings)
    app.state.read_cache = read_cache
    app.state.mailer = Mailer(
        relay_host=settings.smtp_host,
        relay_port=settings.smtp_port,
        sender=settings.mail_from,
        starttls=settings.smtp_starttls,
        username=settings.smtp_username,
        password=settings.smtp_password,
        dev_log=settings.environment == "dev",
    )
    # The other services' docs pages post to the token endpoint from their own origins.
    app.add_middleware(PathCORSMiddleware, paths=frozenset({TOKEN_PATH}), allow_origins=settings.token_cors_origins)
    app.state.secret_box = _secret_box(settings)
    # Identity providers' metadata, keys and token endpoints, under the outbound policy (fetch_*).
    fetcher = SafeFetcher(settings.fetch_policy())
    app.state.fetcher = fetcher
    service_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with service_lifespan(application):
            stop = asyncio.Event()
            worker = (
                asyncio.create_task(run_import_worker(application.state.database, settings.import_roots, stop))
                if settings.import_worker
                else None
            )
            try:
                yield
            finally:
                stop.set()
                if worker is not None:
                    # A job cut short here is leased, not lost: the next worker runs it again.
                    worker.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await worker
        await fetcher.aclose()

    app.router.lifespan_context = lifespan
    return app


def _secret_box(settings: TaxonomySettings) -> SecretBox | None:
    """The box that seals identity providers' client secrets. Without a master key in production the
    service still starts (single sign-on is optional) and says what is missing when an admin sets one up;
    a malformed key stops it at once."""
    if settings.master_key is None and settings.environment != "dev":
        return None
    return SecretBox(
        resolve_master_key(
            settings.master_key,
            dev_file=settings.master_key_file,
            environment=settings.environment,
            variable="CREDSTACK_TAXONOMY_MASTER_KEY",
        )
    )
