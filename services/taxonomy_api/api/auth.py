"""The token authority: OAuth2 client-credentials grant, its public key, and client management."""

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from jwt.algorithms import OKPAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import OAuthClient
from services.taxonomy_api.domain import organisations
from shared.auth import TOKEN_PATH, TokenAuthority, requires
from shared.db import get_session
from shared.errors import Unauthorized, Unprocessable
from shared.pagination import Page
from shared.schemas.taxonomy import ClientCreated, ClientIn, ClientOut, TokenResponse

router = APIRouter(tags=["auth"])
Admin = requires("admin")
SCOPE_EXAMPLE = "taxonomy:read gaps:read"


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("basic "):
        return None
    try:
        client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthorized("Malformed Basic credentials.", error="invalid_client") from exc
    return client_id, secret


@router.post(
    TOKEN_PATH,
    tags=["public"],
    response_model=TokenResponse,
    summary="Get an access token (client credentials)",
    responses={401: {"description": "invalid_client"}, 422: {"description": "unsupported grant or scope"}},
)
async def issue_token(
    request: Request,
    grant_type: Annotated[str, Form(max_length=64, examples=["client_credentials"])],
    client_id: Annotated[
        str | None, Form(max_length=64, description="Or HTTP Basic; the demo's is in var/demo-credentials.json")
    ] = None,
    client_secret: Annotated[str | None, Form(max_length=256, description="Or HTTP Basic")] = None,
    scope: Annotated[
        str | None,
        Form(
            max_length=1024,
            description="Space-separated subset of the client's scopes; all of them when absent",
            examples=[SCOPE_EXAMPLE],
        ),
    ] = None,
    session: AsyncSession = Depends(get_session),
) -> TokenResponse:
    """Public (client authentication by secret, form fields or HTTP Basic). Tokens are EdDSA JWTs
    accepted by all three services; request a subset of the client's scopes with `scope`."""
    if grant_type != "client_credentials":
        raise Unprocessable("Only grant_type=client_credentials is supported.", error="unsupported_grant_type")
    basic = _basic_credentials(request)
    if basic:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise Unauthorized("Client credentials are required.", error="invalid_client")
    principal = await organisations.authenticate_client(session, client_id, client_secret, scope)
    authority: TokenAuthority = request.app.state.token_authority
    token = authority.issue(org_id=principal.org_id, client_id=principal.client_id, scopes=principal.scopes)
    return TokenResponse(access_token=token, expires_in=authority.ttl_seconds, scope=" ".join(sorted(principal.scopes)))


@router.get("/.well-known/jwks.json", tags=["public"], summary="Public key of the token authority")
async def token_jwks(request: Request) -> Response:
    """Public. The services verify access tokens with this key."""
    authority: TokenAuthority = request.app.state.token_authority
    jwk = OKPAlgorithm.to_jwk(authority.private_key.public_key(), as_dict=True)
    return Response(
        content=f'{{"keys":[{{"kty":"{jwk["kty"]}","crv":"{jwk["crv"]}","x":"{jwk["x"]}","use":"sig","alg":"EdDSA"}}]}}',
        media_type="application/json",
    )


@router.post("/v1/clients", status_code=201, response_model=ClientCreated, summary="Create an API client")
async def create_client(body: ClientIn, caller: Admin, session: AsyncSession = Depends(get_session)) -> ClientCreated:
    """Admin. The secret is in this response only; store it now."""
    client, secret = await organisations.create_client(session, caller.org_id, body.name, body.scopes)
    await session.commit()
    return ClientCreated(**ClientOut.model_validate(client).model_dump(), client_secret=secret)


@router.get("/v1/clients", response_model=Page[ClientOut], summary="List API clients")
async def list_clients(
    caller: Admin, cursor: str | None = None, limit: int = 50, session: AsyncSession = Depends(get_session)
) -> Page[ClientOut]:
    """Admin. Clients of the caller's organisation; secrets are never shown."""
    repository = organisations.client_repository(session, caller.org_id)
    rows, next_cursor = await repository.page(
        repository.select(), (OAuthClient.client_id, OAuthClient.id), cursor=cursor, limit=max(1, min(limit, 200))
    )
    return Page[ClientOut](items=[ClientOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.delete("/v1/clients/{item_id}", status_code=204, response_class=Response, summary="Revoke an API client")
async def revoke_client(item_id: uuid.UUID, caller: Admin, session: AsyncSession = Depends(get_session)) -> Response:
    """Admin. The client can no longer get tokens (tokens already issued expire within their lifetime)."""
    client = await organisations.client_repository(session, caller.org_id).get(item_id)
    client.revoked = True
    await session.commit()
    return Response(status_code=204)
