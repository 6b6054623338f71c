"""The skills taxonomy service, and the token authority of the platform."""

from fastapi import FastAPI

from services.taxonomy_api.api import auth, public, taxonomy
from services.taxonomy_api.db.revisions import TaxonomySession
from services.taxonomy_api.settings import TaxonomySettings
from shared.api_docs import PathCORSMiddleware
from shared.auth import TOKEN_PATH, TokenAuthority
from shared.read_cache import RevisionedCache
from shared.service_app import build_service_app


def create_app(settings: TaxonomySettings | None = None) -> FastAPI:
    settings = settings or TaxonomySettings()
    read_cache = RevisionedCache(revision_ttl_seconds=settings.read_cache_revision_ttl_ms / 1000)
    app = build_service_app(
        settings,
        title="CredStack taxonomy API",
        description="Skills, proficiency scales, roles, credential definitions and pathways; "
        "and the OAuth2 token endpoint shared by all CredStack services.",
        routers=[auth.router, taxonomy.router, public.router],
        session_class=TaxonomySession,
        session_info={"read_cache": read_cache},
    )
    app.state.token_authority = TokenAuthority.from_settings(settings)
    app.state.read_cache = read_cache
    # The other services' docs pages post to the token endpoint from their own origins.
    app.add_middleware(PathCORSMiddleware, paths=frozenset({TOKEN_PATH}), allow_origins=settings.token_cors_origins)
    return app
