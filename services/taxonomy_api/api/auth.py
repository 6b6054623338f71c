"""The token authority: OAuth2 client-credentials grant, its public key, and client management."""

import base64
import binascii
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request, Response
from jwt.algorithms import OKPAlgorithm
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import OAuthClient
from services.taxonomy_api.domain import organisations, people
from shared.auth import PAGE_TOKEN_TYPE, TOKEN_EXCHANGE_GRANT, TOKEN_PATH, TokenAuthority, requires
from shared.db import get_session
from shared.errors import Forbidden, Unauthorized, Unprocessable
from shared.pagination import Page
from shared.schemas.taxonomy import ClientCreated, ClientIn, ClientOut, TokenResponse
from shared.web.session import ROLE_SCOPES, page_audience

router = APIRouter(tags=["auth"])
# What a page token is exchanged for: the catalogue a page reads from another service, nothing more.
EXCHANGED_SCOPES = frozenset({"taxonomy:read"})
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
    summary="Get an access token (client credentials, or a signed-in person's page token exchanged)",
    responses={
        401: {"description": "invalid_client, or a page token that is invalid or whose session ended"},
        403: {"description": "The signed-in person's role reads no API"},
        422: {"description": "unsupported grant or scope"},
    },
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
    subject_token: Annotated[str | None, Form(max_length=8192)] = None,
    subject_token_type: Annotated[str | None, Form(max_length=128)] = None,
    session: AsyncSession = Depends(get_session),
) -> TokenResponse:
    """Public (client authentication by secret, form fields or HTTP Basic). Tokens are EdDSA JWTs
    accepted by all three services; request a subset of the client's scopes with `scope`.
    A service serving a page (the gap engine's dashboards read the achievement catalogue) exchanges
    the signed-in person's page token (RFC 8693: grant_type token-exchange, subject_token_type
    urn:credstack:params:oauth:token-type:page) for an API token with the scopes of the person's role."""
    if grant_type == TOKEN_EXCHANGE_GRANT:
        return await _exchange_page_token(request, session, subject_token, subject_token_type)
    if grant_type != "client_credentials":
        raise Unprocessable(
            "Only grant_type=client_credentials or token-exchange is supported.", error="unsupported_grant_type"
        )
    basic = _basic_credentials(request)
    if basic:
        client_id, client_secret = basic
    if not client_id or not client_secret:
        raise Unauthorized("Client credentials are required.", error="invalid_client")
    principal = await organisations.authenticate_client(session, client_id, client_secret, scope)
    authority: TokenAuthority = request.app.state.token_authority
    token = authority.issue(org_id=principal.org_id, client_id=principal.client_id, scopes=principal.scopes)
    return TokenResponse(access_token=token, expires_in=authority.ttl_seconds, scope=" ".join(sorted(principal.scopes)))


async def _exchange_page_token(
    request: Request, session: AsyncSession, subject_token: str | None, subject_token_type: str | None
) -> TokenResponse:
    """Only while the person's session is live, for a role that reads anything, and only for the
    taxonomy catalogue the pages read across services: a manager's pages are narrowed to their teams,
    an API token with gaps:read would not be. The API token lives no longer than an API client's."""
    if subject_token_type != PAGE_TOKEN_TYPE or not subject_token:
        raise Unprocessable(f"Exchange a page token (subject_token_type {PAGE_TOKEN_TYPE}).", error="invalid_request")
    claims = request.app.state.token_verifier.claims(subject_token, audience=page_audience(request.app.state.settings))
    try:
        user_id = uuid.UUID(str(claims["sub"]).removeprefix("user:"))
        session_id = uuid.UUID(str(claims["sid"]))
    except (KeyError, ValueError) as exc:
        raise Unauthorized("The page token is not a person's.", error="invalid_grant") from exc
    user = await people.user_of_live_session(session, session_id, user_id)
    if user is None:
        raise Unauthorized("The page token's session has ended; sign in again.", error="invalid_grant")
    if not ROLE_SCOPES[user.role]:
        raise Forbidden(f"A signed-in {user.role} reads no API.")
    scopes = EXCHANGED_SCOPES
    authority: TokenAuthority = request.app.state.token_authority
    token = authority.issue(org_id=user.org_id, client_id=f"user:{user.id}", scopes=scopes)
    return TokenResponse(access_token=token, expires_in=authority.ttl_seconds, scope=" ".join(sorted(scopes)))


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
