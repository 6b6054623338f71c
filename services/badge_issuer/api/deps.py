"""Dependencies the issuer's routers share: who may call, and the app's collaborators."""

import time
from typing import Any

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.domain import verification
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.domain.taxonomy_client import TaxonomyClient
from shared.auth import requires
from shared.observability import ServiceMetrics
from shared.schemas.issuer import VerificationOut

Admin = requires("admin")
CredentialsReader = requires("credentials:read")
CredentialsRevoker = requires("credentials:revoke")
AssessmentsWriter = requires("assessments:write")

ERRORS = {
    401: {"description": "No or invalid access token"},
    403: {"description": "The token lacks the scope"},
    404: {"description": "Not found in the caller's organisation"},
}


def key_vault(request: Request) -> KeyVault:
    return request.app.state.key_vault


def taxonomy(request: Request) -> TaxonomyClient:
    return request.app.state.taxonomy


def base_url(request: Request) -> str:
    return request.app.state.settings.public_base_url


def metrics(request: Request) -> ServiceMetrics:
    return request.app.state.metrics


async def verify_and_count(request: Request, session: AsyncSession, presented: dict[str, Any]) -> VerificationOut:
    """A shown credential verified (for the API and the page alike), committed and counted."""
    started = time.perf_counter()
    result = await verification.verify_presented(
        session, presented, vault=key_vault(request), base_url=base_url(request), fetcher=request.app.state.fetcher
    )
    if session.in_transaction():  # a status list re-signed while checking is kept; else nothing to end
        await session.commit()
    metrics(request).observe_verification(result.format, result.verified, time.perf_counter() - started)
    return result
