"""Issuer profiles and their keys (organisation admins)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, Admin, CredentialsReader, base_url, key_vault
from services.badge_issuer.db.tables import IdempotencyRecord, Issuer
from services.badge_issuer.domain import issuers
from shared.db import get_session
from shared.etag import json_with_etag
from shared.idempotency import create_once
from shared.pagination import Page
from shared.schemas.issuer import IssuerIn, IssuerOut

router = APIRouter(prefix="/v1/issuers", tags=["issuers"])


@router.post(
    "",
    summary="Create an issuer profile",
    status_code=201,
    response_model=IssuerOut,
    responses={**ERRORS, 422: {"description": "Invalid body"}},
)
async def create_issuer(
    request: Request, body: IssuerIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Creates the profile and its first Ed25519 signing key; the issuer's id in credentials is that
    key's did:key. Honours `Idempotency-Key`."""

    async def create() -> tuple[int, Any]:
        issuer = await issuers.create_issuer(session, caller.org_id, body, key_vault(request), caller.client_id)
        described = issuers.describe_issuer(issuer, await issuers.issuer_keys(session, issuer), base_url(request))
        return status.HTTP_201_CREATED, described.model_dump(mode="json")

    return await create_once(session, IdempotencyRecord, request, body, org_id=caller.org_id, create=create)


@router.get("", summary="List issuer profiles", response_model=Page[IssuerOut], responses=ERRORS)
async def list_issuers(
    request: Request,
    caller: CredentialsReader,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    session: AsyncSession = Depends(get_session),
) -> Response:
    """The organisation's issuers, oldest first."""
    repository = issuers.repository(session, caller.org_id)
    rows, next_cursor = await repository.page(
        repository.select(), (Issuer.created_at, Issuer.id), cursor=cursor, limit=limit
    )
    items = [issuers.describe_issuer(row, await issuers.issuer_keys(session, row), base_url(request)) for row in rows]
    return json_with_etag(request, {"items": items, "next_cursor": next_cursor})


@router.get("/{issuer_id}", summary="Read an issuer profile", response_model=IssuerOut, responses=ERRORS)
async def read_issuer(
    request: Request, issuer_id: uuid.UUID, caller: CredentialsReader, session: AsyncSession = Depends(get_session)
) -> Response:
    """The profile with every key, retired ones included."""
    issuer = await issuers.repository(session, caller.org_id).get(issuer_id)
    described = issuers.describe_issuer(issuer, await issuers.issuer_keys(session, issuer), base_url(request))
    return json_with_etag(request, described)


@router.post("/{issuer_id}/keys/rotate", summary="Rotate the signing key", response_model=IssuerOut, responses=ERRORS)
async def rotate_key(
    request: Request, issuer_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)
) -> IssuerOut:
    """Creates a new current key and retires the old one, which stays published so what it signed keeps
    verifying. With did:key the issuer's DID is the key, so new credentials carry the new DID."""
    issuer = await issuers.rotate_key(session, caller.org_id, issuer_id, key_vault(request), caller.client_id)
    described = issuers.describe_issuer(issuer, await issuers.issuer_keys(session, issuer), base_url(request))
    await session.commit()
    return described
