"""Public, unauthenticated, rate-limited reads: the URLs that appear inside issued credentials."""

import uuid
from typing import Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api import pages
from services.badge_issuer.api.deps import base_url, key_vault
from services.badge_issuer.baking import MEDIA_TYPES
from services.badge_issuer.db.tables import Credential
from services.badge_issuer.domain import baked_images, issuers, status_lists
from shared.db import get_session
from shared.errors import NotFound
from shared.etag import bytes_with_etag, json_with_etag
from shared.rate_limit import public_rate_limit
from shared.web.negotiation import prefers_html

# No prefix: a did:web DID document has to live at the path its DID maps to (/issuers/{id}/did.json).
router = APIRouter(tags=["public"], dependencies=[Depends(public_rate_limit)])
PREFIX = "/v1/public"
NOT_FOUND = {404: {"description": "No such object"}, 429: {"description": "Rate limited"}}


FormatQuery = Query(None, description="Overrides the Accept header, e.g. for a plain link to the JSON from the page.")


def _wants_html(request: Request, format: str | None) -> bool:  # noqa: A002 - the query parameter's public name
    return format == "html" or (format is None and prefers_html(request.headers.get("accept")))


@router.get(
    PREFIX + "/issuers/{issuer_id}",
    summary="An issuer's Open Badges 3.0 Profile (JSON), or its page (HTML)",
    responses={**NOT_FOUND, 200: {"content": {"application/ld+json": {}, "text/html": {}}}},
)
async def public_issuer_profile(
    request: Request,
    issuer_id: uuid.UUID,
    format: Literal["json", "html"] | None = FormatQuery,  # noqa: A002 - the query parameter's public name
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public. Name, contact and DID of the issuer; `otherIdentifier` lists the DIDs of its retired keys.
    A browser (Accept ranking text/html above JSON) gets the issuer's page: its identifiers, its keys
    and the achievements it has awarded."""
    issuer = await issuers.public_issuer(session, issuer_id)
    if _wants_html(request, format):
        return await pages.issuer_page(request, session, issuer)
    profile = issuers.ob3_profile(issuer, await issuers.issuer_keys(session, issuer))
    return json_with_etag(request, profile, media_type="application/ld+json")


@router.get(
    PREFIX + "/issuers/{issuer_id}/jwks.json",
    summary="An issuer's public keys (JWKS)",
    responses={**NOT_FOUND, 200: {"content": {"application/jwk-set+json": {"schema": {"type": "object"}}}}},
)
async def public_issuer_jwks(
    request: Request, issuer_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. Every key the issuer has signed with, retired ones included, compromised ones
    withdrawn; `kid` is what VC-JWTs carry."""
    issuer = await issuers.public_issuer(session, issuer_id)
    return json_with_etag(
        request, issuers.jwks(await issuers.issuer_keys(session, issuer)), media_type="application/jwk-set+json"
    )


@router.get(
    PREFIX + "/issuers/{issuer_id}/keys/{key_id}",
    summary="One public key of an issuer (JWK), what an https kid names",
    responses={**NOT_FOUND, 200: {"content": {"application/jwk+json": {}}}},
)
async def public_issuer_key(
    request: Request, issuer_id: uuid.UUID, key_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. The JWK an https `kid` dereferences to (OB 3.0 VC-JWT); a compromised key is 404."""
    issuer = await issuers.public_issuer(session, issuer_id)
    jwk = issuers.published_key(issuer, await issuers.issuer_keys(session, issuer), key_id)
    return json_with_etag(request, jwk, media_type="application/jwk+json")


@router.get(
    "/issuers/{issuer_id}/did.json",
    summary="A did:web issuer's DID document",
    responses={**NOT_FOUND, 200: {"content": {"application/did+ld+json": {}}}},
)
async def did_web_document(
    request: Request, issuer_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. Where `did:web:<host>:issuers:<issuer_id>` resolves (did:web path form): every key not
    revoked as compromised, retired ones included, in assertionMethod and authentication. 404 for an
    issuer whose identifier is not did:web."""
    issuer = await issuers.public_issuer(session, issuer_id)
    if issuer.identifier != "did:web":
        raise NotFound(f"Issuer {issuer_id} is not identified by a did:web.")
    document = issuers.did_web_document(issuer, await issuers.issuer_keys(session, issuer))
    return json_with_etag(request, document, media_type="application/did+ld+json")


@router.get(
    PREFIX + "/credentials/{credential_id}",
    summary="A credential, as issued (JSON), or its page (HTML)",
    responses={
        **NOT_FOUND,
        200: {"content": {"application/ld+json": {}, "application/vc+jwt": {}, "text/html": {}}},
    },
)
async def public_credential(
    request: Request,
    credential_id: uuid.UUID,
    format: Literal["json", "jwt", "html"] | None = Query(  # noqa: A002 - the query parameter's public name
        None,
        description="Overrides the Accept header: `json` the credential document (for a VC-JWT, its payload's "
        "credential), `jwt` the compact token (VC-JWT credentials only), `html` the page.",
    ),
    session: AsyncSession = Depends(get_session),
) -> Response:
    """Public: the shareable link of a credential. Data Integrity credentials are the JSON document;
    VC-JWT credentials are the compact token (`application/vc+jwt`). A browser (Accept ranking
    text/html above JSON) gets a readable page instead, with the credential verified as it is shown;
    JSON stays the default so verifiers that follow the link get the credential. Revoked credentials
    are still served and shown revoked."""
    credential = await session.get(Credential, credential_id)
    if credential is None:
        raise NotFound(f"No credential {credential_id}.")
    if format == "jwt" and not credential.compact_jwt:
        raise NotFound(f"Credential {credential_id} was not issued as a VC-JWT; its JSON is ?format=json.")
    if _wants_html(request, format):
        return await pages.credential_page(request, session, credential)
    if format == "json":
        response = json_with_etag(request, credential.document, media_type="application/ld+json")
    elif credential.compact_jwt:
        response = bytes_with_etag(request, credential.compact_jwt.encode(), media_type="application/vc+jwt")
    else:
        response = json_with_etag(request, credential.document, media_type="application/ld+json")
    response.headers["Vary"] = "Accept"
    return response


@router.get(
    PREFIX + "/credentials/{credential_id}/baked.png",
    summary="A credential baked into its badge image (PNG)",
    responses={**NOT_FOUND, 200: {"content": {MEDIA_TYPES["png"]: {}}}},
    response_class=Response,
)
async def public_baked_png(
    request: Request, credential_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. The badge image with the credential in an `iTXt` chunk (keyword `openbadgecredential`):
    the compact JWT for VC-JWT credentials, the signed JSON for Data Integrity ones."""
    baked = await baked_images.baked_credential(session, credential_id, "png")
    return bytes_with_etag(request, baked, media_type=MEDIA_TYPES["png"])


@router.get(
    PREFIX + "/credentials/{credential_id}/baked.svg",
    summary="A credential baked into its badge image (SVG)",
    responses={**NOT_FOUND, 200: {"content": {MEDIA_TYPES["svg"]: {}}}},
    response_class=Response,
)
async def public_baked_svg(
    request: Request, credential_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. The badge image with the credential in an `openbadges:credential` element."""
    baked = await baked_images.baked_credential(session, credential_id, "svg")
    return bytes_with_etag(request, baked, media_type=MEDIA_TYPES["svg"])


@router.get(
    PREFIX + "/status-lists/{status_list_id}",
    summary="A signed Bitstring Status List credential",
    responses={
        **NOT_FOUND,
        200: {"content": {"application/vc+ld+json": {"schema": {"type": "object"}}}},
        304: {"description": "Not modified: the client's If-None-Match holds the current ETag"},
    },
)
async def public_status_list(
    request: Request, status_list_id: uuid.UUID, session: AsyncSession = Depends(get_session)
) -> Response:
    """Public. The BitstringStatusListCredential (W3C, GZIP + base64url, 131,072 entries), signed with
    eddsa-rdfc-2022 by the key whose credentials it covers; re-signed only when a bit changes."""
    signed = await status_lists.signed_status_list(session, status_list_id, key_vault(request), base_url(request))
    await session.commit()
    # Sorted keys: PostgreSQL's JSONB hands the stored copy back in its own key order, and the ETag
    # must not change between the read that signed the list and the reads that reuse it.
    body = orjson.dumps(signed, option=orjson.OPT_SORT_KEYS)
    return bytes_with_etag(request, body, media_type="application/vc+ld+json")
