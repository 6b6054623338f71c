"""The skills taxonomy service, and the token authority of the platform."""

from pathlib import Path

from fastapi import FastAPI

from services.taxonomy_api.api import auth, public, sign_in, taxonomy
from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.settings import TaxonomySettings
from shared.api_docs import PathCORSMiddleware
from shared.auth import TOKEN_PATH, TokenAuthority
from shared.mail import Mailer
from shared.read_cache import RevisionedCache
from shared.service_app import PageLink, build_service_app


def create_app(settings: TaxonomySettings | None = None) -> FastAPI:
    settings = settings or TaxonomySettings()
    read_cache = RevisionedCache(revision_ttl_seconds=settings.read_cache_revision_ttl_ms / 1000)
    app = build_service_app(
        settings,
        title="CredStack taxonomy API",
        description="Skills, proficiency scales, roles, credential definitions and pathways; "
        "and the OAuth2 token endpoint shared by all CredStack services.",
        routers=[auth.router, sign_in.router, sign_in.api, taxonomy.router, public.router],
        templates=Path(__file__).parent / "templates",
        page_links=[
            PageLink("Sign in", "/sign-in", "For the people of an organisation: dashboards, wallet, taxonomy.")
        ],
        session_class=TaxonomySession,
        session_info={"read_cache": read_cache},
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
    return app
