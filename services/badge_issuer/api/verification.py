"""Public verification of a credential someone shows (no account needed): as JSON, or baked in an image."""

from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.api.deps import verify_and_count
from services.badge_issuer.domain import presented as presented_input
from shared.db import get_session
from shared.rate_limit import public_rate_limit
from shared.schemas.issuer import VerificationOut
from shared.uploads import is_multipart, read_upload

router = APIRouter(prefix="/v1", tags=["public"], dependencies=[Depends(public_rate_limit)])

# The body is read by hand (JSON or multipart), so its two shapes are described here for OpenAPI.
_REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "description": 'A credential with a Data Integrity proof, or {"jwt": "<compact VC-JWT>"}; or an '
                'Open Badges 2.0 hosted assertion as JSON, or {"jwt": "<its JWS>"} for a signed one.',
            },
            "example": {"jwt": "eyJhbGciOiJFZERTQSIs..."},
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "file": {
                        "type": "string",
                        "format": "binary",
                        "description": "A baked PNG or SVG (OB 3.0, or OB 2.0: `openbadges` chunk or element).",
                    }
                },
                "required": ["file"],
            }
        },
    },
}


async def _presented(request: Request) -> dict[str, Any]:
    """What was shown: a JSON body, or the credential extracted from an uploaded baked image."""
    if is_multipart(request):
        upload = await read_upload(request, "file", "Send the baked PNG or SVG in the multipart field `file`.")
        return presented_input.from_image(upload.data, request.app.state.settings.max_body_bytes)
    return presented_input.from_json_body(await request.body())


@router.post(
    "/verify",
    summary="Verify a credential (JSON, compact JWT, or a baked PNG/SVG)",
    response_model=VerificationOut,
    openapi_extra={"requestBody": _REQUEST_BODY},
    responses={
        413: {"description": "The uploaded image is too large"},
        422: {"description": "The body is not a JSON object, or the image is malformed, hostile or not baked"},
        429: {"description": "Rate limited"},
    },
)
async def verify_credential(request: Request, session: AsyncSession = Depends(get_session)) -> Response:
    """Public. Checks the signature (this service's keys from its database, did:key and did:jwk offline,
    a JOSE `jwk` header, did:web and https keys / JWKS fetched), that the signer is the issuer, the
    1EdTech schema of the credential's type (OB 3.0, EndorsementCredential, CLR 2.0 with each credential
    it holds), the validity window and the revocation bit (this service's lists locally, others fetched
    and their proof checked). Answers 200 with every check, its reason and `code`, even after an earlier
    one failed; `verified` is false if any failed, and a self-asserted key is a `warning` with
    `issuer_bound: false`. Nothing the credential names is fetched before its schema check passed. Remote
    documents are fetched over https from public addresses only, with a deadline and a size cap; a
    refused or failed fetch fails its check with the reason. A baked image is checked for bombs and
    entity expansion before anything is decoded. An Open Badges 2.0 assertion (context
    https://w3id.org/openbadges/v2) is checked as that spec says: a hosted one against its hosted
    copy, BadgeClass and issuer Profile; a signed one (JWS) with the issuer Profile's key and
    revocation list; `format` is then `ob2-hosted` or `ob2-signed`."""
    presented = await _presented(request)
    result = await verify_and_count(request, session, presented)
    if is_multipart(request):
        result.extracted = presented
    # The model we built, serialised once: FastAPI would validate it against itself again first.
    return Response(content=result.model_dump_json(), media_type="application/json")
