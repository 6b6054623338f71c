"""Issued credentials as the organisation sees them: read and revoke."""

import uuid

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, CredentialsReader, CredentialsRevoker, base_url
from services.badge_issuer.domain import credentials
from shared.db import get_session
from shared.etag import json_with_etag
from shared.schemas.issuer import CredentialOut, RevocationIn

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])


@router.get("/{credential_id}", summary="Read an issued credential", response_model=CredentialOut, responses=ERRORS)
async def read_credential(
    request: Request, credential_id: uuid.UUID, caller: CredentialsReader, session: AsyncSession = Depends(get_session)
) -> Response:
    """The credential as issued, and whether it has been revoked."""
    credential = await credentials.repository(session, caller.org_id).get(credential_id)
    return json_with_etag(request, credentials.describe_credential(credential, base_url(request)))


@router.post(
    "/{credential_id}/revoke",
    summary="Revoke a credential",
    response_model=CredentialOut,
    responses={**ERRORS, 409: {"description": "Already revoked"}, 422: {"description": "No reason given"}},
)
async def revoke_credential(
    request: Request,
    credential_id: uuid.UUID,
    body: RevocationIn,
    caller: CredentialsRevoker,
    session: AsyncSession = Depends(get_session),
) -> CredentialOut:
    """Sets the credential's bit in its status list, so every verifier sees it revoked; the reason and
    the caller are audited."""
    credential = await credentials.revoke_credential(
        session, caller.org_id, credential_id, body.reason, caller.client_id
    )
    described = credentials.describe_credential(credential, base_url(request))
    await session.commit()
    return described
