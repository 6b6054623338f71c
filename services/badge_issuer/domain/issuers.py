"""Issuer profiles and their signing keys: creation, rotation, the public Profile and JWKS."""

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Issuer, IssuerKey
from services.badge_issuer.domain import audit
from services.badge_issuer.domain.key_vault import ENCRYPTION_SCHEME, KeyVault
from services.badge_issuer.proofs import keys
from shared.db import utcnow
from shared.errors import NotFound
from shared.repository import TenantRepository
from shared.schemas.issuer import IssuerIn, IssuerKeyOut, IssuerOut

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A decrypted key ready to sign, with the identifiers proofs made with it carry."""

    row: IssuerKey
    private_key: keys.PrivateKey
    did: str
    verification_method: str


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Issuer]:
    return TenantRepository(session, org_id, Issuer, "issuer")


def public_profile_url(base_url: str, issuer_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/v1/public/issuers/{issuer_id}"


def _new_key_row(vault: KeyVault, issuer: Issuer) -> IssuerKey:
    private_key = keys.generate_private_key("Ed25519")
    public_key = private_key.public_key()
    did = keys.did_key_for(public_key)  # type: ignore[arg-type]
    row = IssuerKey(
        id=uuid.uuid4(),
        org_id=issuer.org_id,
        issuer_id=issuer.id,
        kid=keys.did_key_verification_method(did),
        key_type="Ed25519",
        did=did,
        public_jwk=keys.public_jwk(public_key, kid=keys.did_key_verification_method(did)),
        encryption_scheme=ENCRYPTION_SCHEME,
        status="active",
        created_at=utcnow(),
    )
    row.encrypted_private_key = vault.seal(private_key, _binding(row))
    return row


def _binding(row: IssuerKey) -> str:
    """AES-GCM associated data: the ciphertext only opens on the row it was written for."""
    return f"{row.org_id}/{row.issuer_id}/{row.kid}"


async def create_issuer(
    session: AsyncSession, org_id: uuid.UUID, data: IssuerIn, vault: KeyVault, actor: str
) -> Issuer:
    issuer = repository(session, org_id).add(
        Issuer(
            id=uuid.uuid4(),
            name=data.name,
            url=str(data.url) if data.url else None,
            email=data.email,
            description=data.description,
            image_url=str(data.image) if data.image else None,
            default_proof_format=data.default_proof_format,
        )
    )
    key = _new_key_row(vault, issuer)
    issuer.did = key.did  # type: ignore[assignment]
    session.add(key)
    audit.record(session, org_id, "issuer.created", str(issuer.id), actor, {"did": issuer.did, "kid": key.kid})
    await session.flush()
    return issuer


async def rotate_key(
    session: AsyncSession, org_id: uuid.UUID, issuer_id: uuid.UUID, vault: KeyVault, actor: str
) -> Issuer:
    """A new current key; the old ones are retired, not deleted, so what they signed still verifies.

    With did:key the DID is the key, so the issuer's DID in new credentials changes too."""
    issuer = await repository(session, org_id).get(issuer_id)
    now = utcnow()
    for old in await issuer_keys(session, issuer):
        if old.status == "active":
            old.status, old.retired_at = "retired", now
    key = _new_key_row(vault, issuer)
    session.add(key)
    issuer.did = key.did  # type: ignore[assignment]
    audit.record(session, org_id, "issuer.key_rotated", str(issuer.id), actor, {"did": key.did, "kid": key.kid})
    await session.flush()
    return issuer


async def issuer_keys(session: AsyncSession, issuer: Issuer) -> list[IssuerKey]:
    rows = await session.scalars(
        select(IssuerKey)
        .where(IssuerKey.issuer_id == issuer.id, IssuerKey.org_id == issuer.org_id)
        .order_by(IssuerKey.created_at, IssuerKey.id)
    )
    return list(rows)


async def current_signing_key(session: AsyncSession, issuer: Issuer, vault: KeyVault) -> SigningKey:
    row = await session.scalar(
        select(IssuerKey).where(
            IssuerKey.issuer_id == issuer.id, IssuerKey.org_id == issuer.org_id, IssuerKey.status == "active"
        )
    )
    if row is None:
        raise NotFound(f"Issuer {issuer.id} has no active signing key; rotate to create one.")
    return unlock(row, vault)


def unlock(row: IssuerKey, vault: KeyVault) -> SigningKey:
    assert row.did is not None
    return SigningKey(row, vault.open(row.encrypted_private_key, _binding(row)), row.did, row.kid)


async def public_issuer(session: AsyncSession, issuer_id: uuid.UUID) -> Issuer:
    """Public routes find an issuer by id alone: its profile is meant to be seen by anyone."""
    issuer = await session.get(Issuer, issuer_id)
    if issuer is None:
        raise NotFound(f"No issuer {issuer_id}.")
    return issuer


def describe_issuer(issuer: Issuer, key_rows: list[IssuerKey], base_url: str) -> IssuerOut:
    profile_url = public_profile_url(base_url, issuer.id)
    return IssuerOut(
        id=issuer.id,
        did=issuer.did,
        name=issuer.name,
        url=issuer.url,
        email=issuer.email,
        description=issuer.description,
        image=issuer.image_url,
        default_proof_format=issuer.default_proof_format,  # type: ignore[arg-type]
        public_profile_url=profile_url,
        jwks_url=f"{profile_url}/jwks.json",
        keys=[
            IssuerKeyOut(
                kid=row.kid,
                key_type=row.key_type,
                verification_method=row.kid if row.did else None,
                status=row.status,  # type: ignore[arg-type]
                created_at=row.created_at,
                retired_at=row.retired_at,
            )
            for row in key_rows
        ],
        created_at=issuer.created_at,
    )


def credential_issuer(issuer: Issuer, did: str) -> dict[str, Any]:
    """The `issuer` Profile embedded in credentials (OB 3.0 requires id, type and name)."""
    profile: dict[str, Any] = {"id": did, "type": ["Profile"], "name": issuer.name}
    if issuer.url:
        profile["url"] = issuer.url
    if issuer.email:
        profile["email"] = issuer.email
    if issuer.description:
        profile["description"] = issuer.description
    if issuer.image_url:
        profile["image"] = {"id": issuer.image_url, "type": "Image"}
    return profile


def ob3_profile(issuer: Issuer, key_rows: list[IssuerKey]) -> dict[str, Any]:
    """The public OB 3.0 Profile; `otherIdentifier` lists the DIDs of retired keys (same issuer)."""
    profile = {"@context": [VC2_CONTEXT, OB3_CONTEXT], **credential_issuer(issuer, issuer.did)}
    former = [row.did for row in key_rows if row.did and row.did != issuer.did]
    if former:
        profile["otherIdentifier"] = [
            {"type": "IdentifierEntry", "identifier": did, "identifierType": "identifier"} for did in former
        ]
    return profile


def jwks(key_rows: list[IssuerKey]) -> dict[str, Any]:
    """Every key, retired ones included, so credentials they signed keep verifying."""
    return {"keys": [row.public_jwk for row in key_rows]}
