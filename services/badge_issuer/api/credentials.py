"""Issued credentials as the organisation sees them: read and revoke."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, CredentialsReader, CredentialsRevoker, base_url
from services.badge_issuer.domain import credentials
from shared.db import get_session
from shared.etag import json_with_etag
from shared.pagination import Page
from shared.schemas.issuer import CredentialOut, RevocationIn

router = APIRouter(prefix="/v1/credentials", tags=["credentials"])


@router.get(
    "",
    summary="A learner's wallet: the credentials issued to them",
    response_model=Page[CredentialOut],
    responses={**ERRORS, 422: {"description": "No learner, or an invalid cursor"}},
)
async def list_learner_credentials(
    request: Request,
    caller: CredentialsReader,
    learner: Annotated[str, Query(min_length=1, max_length=320, description="The learner's HRIS id or email.")],
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Every credential this organisation issued to the learner, oldest first, capstones and revoked
    ones included (see `status`); ETagged so wallets can poll cheaply."""
    rows, next_cursor = await credentials.wallet_page(session, caller.org_id, learner, cursor=cursor, limit=limit)
    items = [credentials.describe_credential(row, base_url(request)).model_dump(mode="json") for row in rows]
    return json_with_etag(request, {"items": items, "next_cursor": next_cursor})


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
