"""Received credentials and the trusted-issuer registry: thin routes over domain/."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.api.deps import ERRORS, WRITE_ERRORS, Admin, GapReader, HrisWriter, taxonomy, verifier
from services.gap_engine.domain import received_credentials, trusted_issuers
from shared.db import get_session
from shared.schemas.gaps import (
    ReceivedCredentialList,
    ReceivedCredentialOut,
    TrustedIssuerIn,
    TrustedIssuerList,
    TrustedIssuerOut,
)

router = APIRouter(prefix="/v1")
HrisIdPath = Annotated[str, Path(min_length=1, max_length=128)]
_CREDENTIAL_BODY = Body(
    description='A credential with a Data Integrity proof, or {"jwt": "<compact VC-JWT>"}.',
    examples=[{"jwt": "eyJhbGciOiJFZERTQSIs..."}],
)


@router.post(
    "/trusted-issuers",
    tags=["trusted issuers"],
    summary="Trust an issuer",
    status_code=201,
    response_model=TrustedIssuerOut,
    responses=WRITE_ERRORS,
)
async def trust_issuer(
    body: TrustedIssuerIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> TrustedIssuerOut:
    """Credentials already received from this issuer start counting now, without being posted again."""
    trusted = await trusted_issuers.trust_issuer(session, caller.org_id, body)
    await session.commit()
    return trusted


@router.get(
    "/trusted-issuers",
    tags=["trusted issuers"],
    summary="The organisation's trusted issuers",
    response_model=TrustedIssuerList,
    responses=ERRORS,
)
async def list_trusted_issuers(caller: GapReader, session: AsyncSession = Depends(get_session)) -> TrustedIssuerList:
    return await trusted_issuers.list_trusted(session, caller.org_id)


@router.delete(
    "/trusted-issuers/{trusted_issuer_id}",
    tags=["trusted issuers"],
    summary="Stop trusting an issuer",
    status_code=204,
    responses=ERRORS,
)
async def distrust_issuer(
    trusted_issuer_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Its credentials stop counting at once but stay on record as `issuer_not_trusted`."""
    await trusted_issuers.distrust_issuer(session, caller.org_id, trusted_issuer_id)
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/employees/{hris_id}/credentials",
    tags=["credentials"],
    summary="Receive a credential an employee earned",
    status_code=201,
    response_model=ReceivedCredentialOut,
    responses={**WRITE_ERRORS, 503: {"description": "The verifier or taxonomy_api is unreachable"}},
)
async def receive_credential(
    request: Request,
    hris_id: HrisIdPath,
    caller: HrisWriter,
    body: Annotated[dict[str, Any], _CREDENTIAL_BODY],
    session: AsyncSession = Depends(get_session),
) -> ReceivedCredentialOut:
    """Every credential is verified by the issuer's public verifier and kept with its outcome (201 even
    when rejected: the status and reasons say so). Its skills come from taxonomy_api, read with the
    caller's token (which therefore also needs taxonomy:read)."""
    received = await received_credentials.receive_credential(
        session,
        caller.org_id,
        hris_id,
        body,
        verifier=verifier(request),
        taxonomy=taxonomy(request),
        authorization=request.headers["authorization"],
    )
    await session.commit()
    return received


@router.get(
    "/employees/{hris_id}/credentials",
    tags=["credentials"],
    summary="The credentials received for an employee, with their status",
    response_model=ReceivedCredentialList,
    responses=ERRORS,
)
async def list_credentials(
    hris_id: HrisIdPath, caller: GapReader, session: AsyncSession = Depends(get_session)
) -> ReceivedCredentialList:
    return await received_credentials.list_received(session, caller.org_id, hris_id)
