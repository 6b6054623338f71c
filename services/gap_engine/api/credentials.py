"""Received credentials, the trusted-issuer registry, alignment mappings for third-party badges and the
taxonomy refresh: thin routes over domain/."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.api.deps import ERRORS, WRITE_ERRORS, Admin, GapReader, HrisWriter, taxonomy, verifier
from services.gap_engine.domain import (
    alignment_mappings,
    employees,
    holder_dids,
    received_credentials,
    roles,
    trusted_issuers,
)
from shared.db import get_session
from shared.errors import Unprocessable
from shared.schemas.gaps import (
    AlignmentMappingIn,
    AlignmentMappingList,
    AlignmentMappingOut,
    DidChallengeIn,
    DidChallengeOut,
    DidProofIn,
    EmployeeDidList,
    EmployeeDidOut,
    ReceivedCredentialList,
    ReceivedCredentialOut,
    TaxonomyRefreshOut,
    TrustedIssuerIn,
    TrustedIssuerList,
    TrustedIssuerOut,
    TrustedIssuerUpdate,
)
from shared.uploads import is_multipart, read_upload

_BAKED_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {"file": {"type": "string", "format": "binary", "description": "A baked PNG or SVG."}},
                "required": ["file"],
            }
        }
    },
}

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
    """Credentials already received from this issuer start counting now, at its weight, without being
    posted again. The organisation's own issuers need no entry: they are trusted automatically (origin
    `own`) when their credentials arrive; posting the DID of an own issuer an admin distrusted trusts it
    again."""
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


@router.patch(
    "/trusted-issuers/{trusted_issuer_id}",
    tags=["trusted issuers"],
    summary="Change an issuer's weight or note",
    response_model=TrustedIssuerOut,
    responses=WRITE_ERRORS,
)
async def update_trusted_issuer(
    trusted_issuer_id: uuid.UUID,
    body: TrustedIssuerUpdate,
    caller: Admin,
    session: AsyncSession = Depends(get_session),
) -> TrustedIssuerOut:
    """Every skill fact already derived from this issuer's credentials takes the new weight (for an own
    issuer, under each DID it has issued under), so gap reports change at once."""
    updated = await trusted_issuers.update_trusted(session, caller.org_id, trusted_issuer_id, body)
    await session.commit()
    return updated


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
    """Its credentials stop counting at once but stay on record as `issuer_not_trusted`. An own issuer
    stays listed with `trusted` false, so its next delivery does not trust it again."""
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
    caller's token (which therefore also needs taxonomy:read): our achievements at their certified
    levels, a third-party badge through its alignments (external ids on our skills, or alignment
    mappings). When the token also has credentials:read and the issuer is one of the organisation's
    own at the badge issuer, that issuer is trusted automatically."""
    return await _receive(request, caller, hris_id, session, presented=body)


@router.post(
    "/employees/{hris_id}/credentials/baked",
    tags=["credentials"],
    summary="Receive a credential baked in a PNG or SVG badge image",
    status_code=201,
    response_model=ReceivedCredentialOut,
    openapi_extra={"requestBody": _BAKED_BODY},
    responses={**WRITE_ERRORS, 503: {"description": "The verifier or taxonomy_api is unreachable"}},
)
async def receive_baked_credential(
    request: Request, hris_id: HrisIdPath, caller: HrisWriter, session: AsyncSession = Depends(get_session)
) -> ReceivedCredentialOut:
    """As POST …/credentials, for a badge image (multipart field `file`): the issuer's verifier takes
    the credential out of the image (checking it for bombs first) and verifies it; what it found is
    kept as the presented credential."""
    await employees.get_employee(session, caller.org_id, hris_id)  # 404 before reading someone else's upload
    image = await _uploaded_image(request)
    return await _receive(request, caller, hris_id, session, image=image)


async def _uploaded_image(request: Request) -> received_credentials.BakedImage:
    if not is_multipart(request):
        raise Unprocessable("Send the baked PNG or SVG as multipart/form-data in the field `file`.", field="file")
    upload = await read_upload(request, "file", "Send the baked PNG or SVG in the multipart field `file`.")
    return received_credentials.BakedImage(
        data=upload.data, filename=upload.filename or "badge", content_type=upload.content_type
    )


async def _receive(
    request: Request,
    caller: Any,
    hris_id: str,
    session: AsyncSession,
    *,
    presented: dict[str, Any] | None = None,
    image: received_credentials.BakedImage | None = None,
) -> ReceivedCredentialOut:
    authorization = request.headers["authorization"]
    received = await received_credentials.receive_credential(
        session,
        caller.org_id,
        hris_id,
        presented or {},
        verifier=verifier(request),
        taxonomy=taxonomy(request),
        authorization=authorization,
        image=image,
    )
    if caller.has("credentials:read"):
        received = await trusted_issuers.trust_if_own(
            session, caller.org_id, received, verifier=verifier(request), authorization=authorization
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


@router.post(
    "/alignment-mappings",
    tags=["alignment mappings"],
    summary="Map a third-party alignment target to one of our skills",
    status_code=201,
    response_model=AlignmentMappingOut,
    responses={**WRITE_ERRORS, 503: {"description": "taxonomy_api is unreachable"}},
)
async def create_alignment_mapping(
    request: Request, body: AlignmentMappingIn, caller: Admin, session: AsyncSession = Depends(get_session)
) -> AlignmentMappingOut:
    """Credentials already received whose achievement aligns to `target` are mapped again at once (no
    re-posting). The skill must be one of this organisation's in taxonomy_api (the caller's token is
    used to check it)."""
    created = await alignment_mappings.create_mapping(
        session, caller.org_id, body, taxonomy=taxonomy(request), authorization=request.headers["authorization"]
    )
    await session.commit()
    return created


@router.get(
    "/alignment-mappings",
    tags=["alignment mappings"],
    summary="The organisation's alignment mappings",
    response_model=AlignmentMappingList,
    responses=ERRORS,
)
async def list_alignment_mappings(
    caller: GapReader, session: AsyncSession = Depends(get_session)
) -> AlignmentMappingList:
    return await alignment_mappings.list_mappings(session, caller.org_id)


@router.put(
    "/alignment-mappings/{mapping_id}",
    tags=["alignment mappings"],
    summary="Replace an alignment mapping",
    response_model=AlignmentMappingOut,
    responses={**WRITE_ERRORS, 503: {"description": "taxonomy_api is unreachable"}},
)
async def replace_alignment_mapping(
    request: Request,
    mapping_id: uuid.UUID,
    body: AlignmentMappingIn,
    caller: Admin,
    session: AsyncSession = Depends(get_session),
) -> AlignmentMappingOut:
    """Received credentials are mapped again under the new mapping."""
    replaced = await alignment_mappings.replace_mapping(
        session,
        caller.org_id,
        mapping_id,
        body,
        taxonomy=taxonomy(request),
        authorization=request.headers["authorization"],
    )
    await session.commit()
    return replaced


@router.delete(
    "/alignment-mappings/{mapping_id}",
    tags=["alignment mappings"],
    summary="Delete an alignment mapping",
    status_code=204,
    responses={**ERRORS, 503: {"description": "taxonomy_api is unreachable"}},
)
async def delete_alignment_mapping(
    request: Request, mapping_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)
) -> Response:
    """Credentials that counted only through it stop counting and are kept as `unmapped`."""
    await alignment_mappings.delete_mapping(
        session, caller.org_id, mapping_id, taxonomy=taxonomy(request), authorization=request.headers["authorization"]
    )
    await session.commit()
    return Response(status_code=204)


@router.post(
    "/taxonomy/refresh",
    tags=["roles"],
    summary="Follow a taxonomy change: re-sync roles and re-map received credentials",
    response_model=TaxonomyRefreshOut,
    responses={**ERRORS, 503: {"description": "taxonomy_api is unreachable"}},
)
async def refresh_taxonomy(
    request: Request, caller: Admin, session: AsyncSession = Depends(get_session)
) -> TaxonomyRefreshOut:
    """Every synced role's requirements are read again, and every valid received credential is mapped
    again (certified levels and alignments as taxonomy_api has them now, revalidated with ETags), so
    skill facts and gap reports follow the taxonomy. The caller's token needs taxonomy:read."""
    refreshed = await roles.refresh_from_taxonomy(
        session, caller.org_id, taxonomy(request), request.headers["authorization"]
    )
    await session.commit()
    return refreshed


@router.post(
    "/employees/{hris_id}/did-challenges",
    tags=["credentials"],
    summary="A challenge for the employee's wallet to prove a DID",
    status_code=201,
    response_model=DidChallengeOut,
    responses=WRITE_ERRORS,
)
async def create_did_challenge(
    request: Request,
    hris_id: HrisIdPath,
    body: DidChallengeIn,
    caller: HrisWriter,
    session: AsyncSession = Depends(get_session),
) -> DidChallengeOut:
    """The wallet signs the challenge in a presentation (POST …/did-proofs). Until then the DID is
    just a claim: credentials whose subject is that DID do not count as the employee's."""
    challenge = await holder_dids.issue_challenge(
        session, caller.org_id, hris_id, body.did, request.app.state.settings.public_base_url
    )
    await session.commit()
    return challenge


@router.post(
    "/employees/{hris_id}/did-proofs",
    tags=["credentials"],
    summary="Prove the employee controls a DID",
    status_code=201,
    response_model=EmployeeDidOut,
    responses=WRITE_ERRORS,
)
async def prove_did(
    request: Request,
    hris_id: HrisIdPath,
    body: DidProofIn,
    caller: HrisWriter,
    session: AsyncSession = Depends(get_session),
) -> EmployeeDidOut:
    """A Verifiable Presentation (compact JWT, EdDSA, did:key) over an open challenge. Credentials
    already received for the employee with that DID as their subject start counting at once."""
    proved = await holder_dids.prove_did(
        session, caller.org_id, hris_id, body.presentation, request.app.state.settings.public_base_url
    )
    await session.commit()
    return proved


@router.get(
    "/employees/{hris_id}/dids",
    tags=["credentials"],
    summary="DIDs the employee proved control of",
    response_model=EmployeeDidList,
    responses=ERRORS,
)
async def list_dids(
    hris_id: HrisIdPath, caller: GapReader, session: AsyncSession = Depends(get_session)
) -> EmployeeDidList:
    return EmployeeDidList(items=await holder_dids.list_dids(session, caller.org_id, hris_id))
