"""Issuer profiles and their keys (organisation admins)."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import ERRORS, Admin, CredentialsReader, base_url, key_vault
from services.badge_issuer.db.tables import IdempotencyRecord, Issuer
from services.badge_issuer.domain import credentials, issuers
from shared.db import get_session
from shared.etag import json_with_etag
from shared.idempotency import HONOURS_IDEMPOTENCY_KEY, create_once
from shared.pagination import Page
from shared.schemas.issuer import IssuerIn, IssuerOut, KeyRevocationIn, KeyType

router = APIRouter(prefix="/v1/issuers", tags=["issuers"])


@router.post(
    "",
    summary="Create an issuer profile",
    status_code=201,
    response_model=IssuerOut,
    dependencies=[HONOURS_IDEMPOTENCY_KEY],
    responses={**ERRORS, 422: {"description": "Invalid body"}},
)
async def create_issuer(
    request: Request, body: IssuerIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Creates the profile with its Ed25519 key (Data Integrity proofs, status lists) and, when
    `jwt_key_type` is P-256 or RSA, a key of that type for VC-JWTs. The issuer's id in credentials
    follows `identifier`: the Ed25519 key's did:key (default), a did:web, or the https profile URL.
    Honours `Idempotency-Key`."""

    async def create() -> tuple[int, Any]:
        issuer = await issuers.create_issuer(
            session, caller.org_id, body, key_vault(request), caller.client_id, base_url(request)
        )
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


@router.post("/{issuer_id}/keys/rotate", summary="Rotate a signing key", response_model=IssuerOut, responses=ERRORS)
async def rotate_key(
    request: Request,
    issuer_id: uuid.UUID,
    caller: Admin,
    key_type: Annotated[KeyType, Query(description="Which of the issuer's keys to rotate (or create).")] = "Ed25519",
    session: AsyncSession = Depends(get_session),
) -> IssuerOut:
    """Creates a new current key of `key_type` and retires the old one of that type, which stays
    published so what it signed keeps verifying. With did:key, rotating the Ed25519 key changes the
    issuer's DID in new credentials."""
    issuer = await issuers.rotate_key(
        session, caller.org_id, issuer_id, key_vault(request), caller.client_id, base_url(request), key_type
    )
    described = issuers.describe_issuer(issuer, await issuers.issuer_keys(session, issuer), base_url(request))
    await session.commit()
    return described


@router.post(
    "/{issuer_id}/keys/{key_id}/revoke",
    summary="Revoke a compromised key",
    response_model=IssuerOut,
    responses={
        **ERRORS,
        409: {"description": "The key is already revoked"},
        422: {"description": "Invalid body, or compromised_since in the future"},
    },
)
async def revoke_key(
    request: Request,
    issuer_id: uuid.UUID,
    key_id: uuid.UUID,
    body: KeyRevocationIn,
    caller: Admin,
    session: AsyncSession = Depends(get_session),
) -> IssuerOut:
    """Withdraws a key as compromised, in one transaction: it leaves the DID document and JWKS and
    never signs again; an active key is replaced by a fresh one of its type; every credential it
    signed since `compromised_since` (default: the key's creation) is revoked with the reason
    "signing key compromised" (status bit, audit, `credential.revoked` event)."""
    issuer, key = await issuers.compromise_key(
        session,
        caller.org_id,
        issuer_id,
        key_id,
        reason=body.reason,
        compromised_since=body.compromised_since,
        vault=key_vault(request),
        actor=caller.client_id,
        base_url=base_url(request),
    )
    await credentials.revoke_signed_by_compromised_key(session, caller.org_id, key, caller.client_id)
    described = issuers.describe_issuer(issuer, await issuers.issuer_keys(session, issuer), base_url(request))
    await session.commit()
    return described
