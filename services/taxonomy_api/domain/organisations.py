"""Tenants and their OAuth2 clients; the client-credentials grant."""

import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import OAuthClient, Organisation
from shared.auth import SCOPES, Principal, client_secret_matches, generate_client_secret, hash_client_secret
from shared.errors import Conflict, Unauthorized, Unprocessable
from shared.repository import TenantRepository


def client_repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[OAuthClient]:
    return TenantRepository(session, org_id, OAuthClient, "client")


def check_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - SCOPES.keys())
    if unknown:
        raise Unprocessable(f"Unknown scope(s): {', '.join(unknown)}; known: {', '.join(SCOPES)}.")
    return sorted(set(scopes))


async def create_organisation(session: AsyncSession, name: str) -> Organisation:
    if await session.scalar(select(Organisation).where(Organisation.name == name)) is not None:
        raise Conflict(f"An organisation named {name!r} already exists.")
    organisation = Organisation(name=name)
    session.add(organisation)
    await session.flush()
    return organisation


async def create_client(
    session: AsyncSession, org_id: uuid.UUID, name: str, scopes: list[str]
) -> tuple[OAuthClient, str]:
    """A new client and its secret; the secret is returned once and only its hash is kept."""
    secret = generate_client_secret()
    client = client_repository(session, org_id).add(
        OAuthClient(
            client_id=f"cs_{secrets.token_hex(12)}",
            secret_hash=hash_client_secret(secret),
            name=name,
            scopes=check_scopes(scopes),
        )
    )
    await session.flush()
    return client, secret


async def authenticate_client(
    session: AsyncSession, client_id: str, client_secret: str, requested_scope: str | None
) -> Principal:
    """The client-credentials grant: the granted scopes are the requested subset of the client's."""
    client = await session.scalar(select(OAuthClient).where(OAuthClient.client_id == client_id))
    if client is None or client.revoked or not client_secret_matches(client_secret, client.secret_hash):
        raise Unauthorized("Unknown client or wrong secret.", error="invalid_client")
    allowed = set(client.scopes)
    requested = set(requested_scope.split()) if requested_scope else allowed
    if not requested <= allowed:
        raise Unprocessable(
            f"Scope(s) not granted to this client: {', '.join(sorted(requested - allowed))}.", error="invalid_scope"
        )
    return Principal(org_id=client.org_id, client_id=client.client_id, scopes=frozenset(requested))
