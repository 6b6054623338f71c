"""Public verification of a credential someone shows (no account needed)."""

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import base_url, key_vault
from services.badge_issuer.domain import verification
from shared.db import get_session
from shared.rate_limit import public_rate_limit
from shared.schemas.issuer import VerificationOut

router = APIRouter(prefix="/v1", tags=["public"], dependencies=[Depends(public_rate_limit)])


@router.post(
    "/verify",
    summary="Verify a credential",
    response_model=VerificationOut,
    responses={422: {"description": "The body is not a JSON object"}, 429: {"description": "Rate limited"}},
)
async def verify_credential(
    request: Request,
    presented: dict[str, Any] = Body(
        description='A credential with a Data Integrity proof, or {"jwt": "<compact VC-JWT>"}.',
        examples=[{"jwt": "eyJhbGciOiJFZERTQSIs..."}],
    ),
    session: AsyncSession = Depends(get_session),
) -> VerificationOut:
    """Public. Checks the signature (did:key offline, or this issuer's keys), that the signer is the
    issuer, the 1EdTech schema, the validity window and, for status lists this service publishes, the
    revocation bit. Answers 200 with every check and the reasons; `verified` is false if any failed."""
    result = await verification.verify_presented(
        session, presented, vault=key_vault(request), base_url=base_url(request)
    )
    await session.commit()  # a status list re-signed while checking is kept
    return result
