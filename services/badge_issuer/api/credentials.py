"""Issued credentials as the organisation sees them: read and revoke."""

import uuid
from datetime import datetime
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
    summary="The organisation's credentials, or one learner's wallet",
    response_model=Page[CredentialOut],
    responses={**ERRORS, 422: {"description": "An invalid cursor or date"}},
)
async def list_credentials(
    request: Request,
    caller: CredentialsReader,
    learner: Annotated[
        str | None, Query(min_length=1, max_length=320, description="Only this learner's (HRIS id or email).")
    ] = None,
    issued_since: Annotated[
        datetime | None, Query(description="Only credentials issued at or after this moment (with a timezone).")
    ] = None,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Credentials this organisation issued, oldest first, capstones and revoked ones included (see
    `status`): a learner's wallet with `learner`, or everything issued since a moment (what the gap
    engine reconciles its holdings against). ETagged so wallets can poll cheaply."""
    rows, next_cursor = await credentials.credential_page(
        session, caller.org_id, learner, issued_since=issued_since, cursor=cursor, limit=limit
    )
    items = [credentials.credential_json(row, base_url(request)) for row in rows]
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
