"""Service-to-service routes for the organisation's own services (authenticated, never anonymous)."""

from fastapi import APIRouter, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, CredentialsReader, base_url, key_vault, metrics
from services.badge_issuer.domain import issued_verification
from shared.db import get_session
from shared.errors import TooManyRequests
from shared.rate_limit import SharedWindowLimiter, app_limiter
from shared.schemas.issuer import IssuedVerificationIn, IssuedVerificationOut

router = APIRouter(prefix="/v1/internal", tags=["internal"])


def _batch_limiter(request: Request) -> SharedWindowLimiter:
    """Per organisation, as many requests a minute as the authenticated budget (60,000 by default),
    each of at most MAX_ISSUED_VERIFICATIONS credentials, counted in the database like every limit, so
    replicas share it. A webhook's intake asks for one credential a request: counting a request as a
    full batch would hold it to 300 a minute. Anonymous callers never reach or spend this budget."""
    per_minute = request.app.state.settings.authenticated_rate_limit_per_minute
    return app_limiter(request, "issued_verification_limiter", per_minute, "issued-verification")


@router.post(
    "/credentials/verify",
    summary="Read and verify a batch of the organisation's own credentials (for its services)",
    response_model=IssuedVerificationOut,
    responses={**ERRORS, 422: {"description": "No ids, or more than 200"}, 429: {"description": "Rate limited"}},
)
async def verify_issued_credentials(
    request: Request,
    body: IssuedVerificationIn,
    caller: CredentialsReader,
    session: AsyncSession = Depends(get_session),
) -> IssuedVerificationOut:
    """Needs `credentials:read`; only the caller's organisation's credentials are found (another's id is
    `found: false`, as an unknown one). For each id: the credential as its public URL serves it and what
    POST /v1/verify answers for it, from the same verifier (signature, issuer binding, schema, validity,
    status). Up to 200 ids a request; the organisation's requests are bounded per minute (429)."""
    spent = await _batch_limiter(request).spend(request.app.state.database, str(caller.org_id))
    if not spent.allowed:
        raise TooManyRequests(
            f"Too many batch verifications for this organisation; retry in {spent.retry_after} s.",
            retry_after=spent.retry_after,
        )
    counted = metrics(request)
    result = await issued_verification.verify_issued(
        session,
        caller.org_id,
        body.ids,
        vault=key_vault(request),
        base_url=base_url(request),
        fetcher=request.app.state.fetcher,
        observe=lambda out, seconds: counted.observe_verification(out.format, out.verified, seconds),
    )
    await session.commit()  # a status list re-signed while checking is kept
    return result
