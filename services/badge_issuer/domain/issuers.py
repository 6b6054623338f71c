"""Issuer profiles and their signing keys: creation, rotation, compromise, the public Profile,
JWKS and did:web DID document.

An issuer holds at most one active key per key type. Its Ed25519 key always exists: Data Integrity
proofs (eddsa-rdfc-2022) and the issuer's status lists are signed with it, and with did:key it is
the issuer's identity. VC-JWTs are signed with the active key of the issuer's `jwt_key_type`.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential, Issuer, IssuerKey
from services.badge_issuer.domain import audit
from services.badge_issuer.domain.key_vault import ENCRYPTION_SCHEME, KeyVault
from services.badge_issuer.proofs import keys
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.links import safe_url
from shared.repository import TenantRepository
from shared.schemas.issuer import IssuerIn, IssuerKeyOut, IssuerOut

OB3_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"
# Both relationships: assertionMethod for credentials, authentication for anything done as the issuer.
DID_RELATIONSHIPS = ("assertionMethod", "authentication")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A decrypted key ready to sign, with the identifiers proofs made with it carry: `did` is the
    issuer id credentials signed with it name, `verification_method` the kid / verificationMethod."""

    row: IssuerKey
    private_key: keys.PrivateKey
    did: str
    verification_method: str


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Issuer]:
    return TenantRepository(session, org_id, Issuer, "issuer")


def public_profile_url(base_url: str, issuer_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/v1/public/issuers/{issuer_id}"


def public_key_url(base_url: str, issuer_id: uuid.UUID, key_id: uuid.UUID) -> str:
    """An https kid: dereferences to the key's JWK (OB 3.0 §8.2: a kid must lead to the JWK)."""
    return f"{public_profile_url(base_url, issuer_id)}/keys/{key_id}"


def did_web_for(base_url: str, issuer_id: uuid.UUID) -> str:
    """Path-form did:web under the service's public URL; resolves to /issuers/{id}/did.json."""
    return keys.did_web_for(base_url, "issuers", str(issuer_id))


def _issuer_identifier(identifier: str, base_url: str, issuer_id: uuid.UUID) -> str | None:
    """The fixed issuer id of did:web and https issuers; None for did:key (it follows the key)."""
    if identifier == "did:web":
        return did_web_for(base_url, issuer_id)
    if identifier == "https":
        return public_profile_url(base_url, issuer_id)
    return None


def _new_key_row(vault: KeyVault, issuer: Issuer, key_type: keys.KeyType, base_url: str) -> IssuerKey:
    """A fresh key with its kid: did:key#fragment (did:key issuer, Ed25519), <did:web>#<key id>,
    or the https URL serving its JWK (https issuers, and P-256/RSA keys of did:key issuers)."""
    key_id = uuid.uuid4()
    private_key = keys.generate_private_key(key_type)
    public_key = private_key.public_key()
    did: str | None
    if issuer.identifier == "did:web":
        did = issuer.did
        kid = f"{did}#{key_id}"
    elif issuer.identifier == "https":
        did, kid = issuer.did, public_key_url(base_url, issuer.id, key_id)
    elif key_type == "Ed25519":
        did = keys.did_key_for(public_key)  # type: ignore[arg-type]
        kid = keys.did_key_verification_method(did)
    else:
        did, kid = None, public_key_url(base_url, issuer.id, key_id)
    row = IssuerKey(
        id=key_id,
        org_id=issuer.org_id,
        issuer_id=issuer.id,
        kid=kid,
        key_type=key_type,
        did=did,
        public_jwk=keys.public_jwk(public_key, kid=kid),
        encryption_scheme=ENCRYPTION_SCHEME,
        status="active",
        created_at=utcnow(),
    )
    row.encrypted_private_key = vault.seal(private_key, _binding(row))
    return row


def _binding(row: IssuerKey) -> str:
    """AES-GCM associated data: the ciphertext only opens on the row it was written for."""
    return f"{row.org_id}/{row.issuer_id}/{row.kid}"


def _add_key(session: AsyncSession, issuer: Issuer, key: IssuerKey) -> None:
    """With did:key the issuer's id is its Ed25519 key's DID, so a new Ed25519 key moves it."""
    session.add(key)
    if issuer.identifier == "did:key" and key.key_type == "Ed25519":
        issuer.did = key.did  # type: ignore[assignment]


async def create_issuer(
    session: AsyncSession, org_id: uuid.UUID, data: IssuerIn, vault: KeyVault, actor: str, base_url: str
) -> Issuer:
    issuer_id = uuid.uuid4()
    issuer = repository(session, org_id).add(
        Issuer(
            id=issuer_id,
            name=data.name,
            url=str(data.url) if data.url else None,
            email=data.email,
            description=data.description,
            image_url=str(data.image) if data.image else None,
            default_proof_format=data.default_proof_format,
            identifier=data.identifier,
            jwt_key_type=data.jwt_key_type,
            did=_issuer_identifier(data.identifier, base_url, issuer_id),
        )
    )
    created = []
    for key_type in dict.fromkeys(("Ed25519", data.jwt_key_type)):
        key = _new_key_row(vault, issuer, key_type, base_url)  # type: ignore[arg-type]
        _add_key(session, issuer, key)
        created.append({"kid": key.kid, "key_type": key.key_type})
    detail = {"did": issuer.did, "identifier": issuer.identifier, "jwt_key_type": issuer.jwt_key_type, "keys": created}
    audit.record(session, org_id, "issuer.created", str(issuer.id), actor, detail)
    await session.flush()
    return issuer


async def rotate_key(
    session: AsyncSession,
    org_id: uuid.UUID,
    issuer_id: uuid.UUID,
    vault: KeyVault,
    actor: str,
    base_url: str,
    key_type: keys.KeyType = "Ed25519",
) -> Issuer:
    """A new current key of `key_type`; the old one is retired, not deleted, so what it signed still
    verifies. With did:key, rotating the Ed25519 key changes the issuer's DID in new credentials."""
    issuer = await repository(session, org_id).get(issuer_id)
    now = utcnow()
    retired = []
    for old in await issuer_keys(session, issuer):
        if old.status == "active" and old.key_type == key_type:
            old.status, old.retired_at = "retired", now
            retired.append(old.kid)
    key = _new_key_row(vault, issuer, key_type, base_url)
    _add_key(session, issuer, key)
    detail = {"did": issuer.did, "kid": key.kid, "key_type": key_type, "retired": retired}
    audit.record(session, org_id, "issuer.key_rotated", str(issuer.id), actor, detail)
    await session.flush()
    return issuer


async def compromise_key(
    session: AsyncSession,
    org_id: uuid.UUID,
    issuer_id: uuid.UUID,
    key_id: uuid.UUID,
    *,
    reason: str,
    compromised_since: datetime | None,
    vault: KeyVault,
    actor: str,
    base_url: str,
) -> tuple[Issuer, IssuerKey]:
    """Withdraw a key as compromised: it leaves the DID document and JWKS and never signs again; an
    active one is replaced by a fresh key of its type in the same transaction. The caller revokes
    what it signed since `compromised_since` (see credentials.revoke_signed_by_compromised_key)."""
    issuer = await repository(session, org_id).get(issuer_id)
    key = await session.scalar(
        select(IssuerKey).where(IssuerKey.id == key_id, IssuerKey.issuer_id == issuer.id, IssuerKey.org_id == org_id)
    )
    if key is None:
        raise NotFound(f"Issuer {issuer_id} has no key {key_id}.")
    if key.status == "compromised":
        raise Conflict(f"Key {key_id} is already revoked as compromised.")
    now = utcnow()
    since = compromised_since or key.created_at
    if since > now:
        raise Unprocessable("compromised_since is in the future; give the moment the key stopped being trusted.")
    was_active = key.status == "active"
    key.status, key.compromised_at, key.compromised_since, key.revocation_reason = "compromised", now, since, reason
    key.retired_at = key.retired_at or now
    detail: dict[str, Any] = {"kid": key.kid, "key_type": key.key_type, "reason": reason}
    detail["compromised_since"] = since.isoformat()
    if was_active:
        replacement = _new_key_row(vault, issuer, key.key_type, base_url)  # type: ignore[arg-type]
        _add_key(session, issuer, replacement)
        detail["replaced_by"] = replacement.kid
    audit.record(session, org_id, "issuer.key_compromised", str(issuer.id), actor, detail)
    await session.flush()
    return issuer, key


async def issuer_keys(session: AsyncSession, issuer: Issuer) -> list[IssuerKey]:
    rows = await session.scalars(
        select(IssuerKey)
        .where(IssuerKey.issuer_id == issuer.id, IssuerKey.org_id == issuer.org_id)
        .order_by(IssuerKey.created_at, IssuerKey.id)
    )
    return list(rows)


def published(key_rows: list[IssuerKey]) -> list[IssuerKey]:
    """Keys verifiers may use: active and retired; compromised keys are withdrawn."""
    return [row for row in key_rows if row.status != "compromised"]


async def active_key(session: AsyncSession, issuer: Issuer, key_type: str) -> IssuerKey | None:
    return await session.scalar(
        select(IssuerKey)
        .where(
            IssuerKey.issuer_id == issuer.id,
            IssuerKey.org_id == issuer.org_id,
            IssuerKey.status == "active",
            IssuerKey.key_type == key_type,
        )
        .order_by(IssuerKey.created_at.desc())
        .limit(1)
    )


async def require_active_key(session: AsyncSession, issuer: Issuer, key_type: str) -> IssuerKey:
    """The active key of `key_type`; a 422 saying why when the issuer has none."""
    row = await active_key(session, issuer, key_type)
    if row is None:
        raise no_active_key(issuer, key_type)
    return row


def no_active_key(issuer: Issuer, key_type: str) -> Unprocessable:
    """The 422 for an issuer without an active key of `key_type`, saying what needs one."""
    purpose = "Data Integrity proofs and status lists are" if key_type == "Ed25519" else "its VC-JWTs are"
    return Unprocessable(
        f"Issuer {issuer.id} has no active {key_type} key, and {purpose} signed with one; "
        f"rotate with key_type={key_type} to create it.",
        key_type=key_type,
    )


async def current_signing_key(
    session: AsyncSession, issuer: Issuer, vault: KeyVault, key_type: str = "Ed25519"
) -> SigningKey:
    """The active key of `key_type`, decrypted, ready to sign."""
    return unlock(await require_active_key(session, issuer, key_type), vault, issuer.did)


def unlock(row: IssuerKey, vault: KeyVault, issuer_did: str | None = None) -> SigningKey:
    """Decrypt a key. Credentials are only signed with active keys (current_signing_key); the
    status-list code unlocks a list's own key, which may since have been retired or compromised."""
    did = row.did or issuer_did
    assert did is not None, "a key without its own DID needs the issuer's id"
    return SigningKey(row, vault.open(row.encrypted_private_key, _binding(row)), did, row.kid)


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
        identifier=issuer.identifier,  # type: ignore[arg-type]
        jwt_key_type=issuer.jwt_key_type,  # type: ignore[arg-type]
        name=issuer.name,
        url=issuer.url,
        email=issuer.email,
        description=issuer.description,
        image=issuer.image_url,
        default_proof_format=issuer.default_proof_format,  # type: ignore[arg-type]
        public_profile_url=profile_url,
        jwks_url=f"{profile_url}/jwks.json",
        did_document_url=keys.did_web_document_url(issuer.did) if issuer.identifier == "did:web" else None,
        keys=[
            IssuerKeyOut(
                id=row.id,
                kid=row.kid,
                key_type=row.key_type,  # type: ignore[arg-type]
                verification_method=row.kid,
                status=row.status,  # type: ignore[arg-type]
                created_at=row.created_at,
                retired_at=row.retired_at,
                compromised_since=row.compromised_since,
                revocation_reason=row.revocation_reason,
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
    """The public OB 3.0 Profile; `otherIdentifier` lists the DIDs of retired did:key keys (same
    issuer). Compromised keys' DIDs are not claimed any more."""
    profile = {"@context": [VC2_CONTEXT, OB3_CONTEXT], **credential_issuer(issuer, issuer.did)}
    former = list(dict.fromkeys(row.did for row in published(key_rows) if row.did and row.did != issuer.did))
    if former:
        profile["otherIdentifier"] = [
            {"type": "IdentifierEntry", "identifier": did, "identifierType": "identifier"} for did in former
        ]
    return profile


def jwks(key_rows: list[IssuerKey]) -> dict[str, Any]:
    """Every published key, retired ones included, so credentials they signed keep verifying."""
    return {"keys": [row.public_jwk for row in published(key_rows)]}


def did_web_document(issuer: Issuer, key_rows: list[IssuerKey]) -> dict[str, Any]:
    """The did:web DID document: every published key as a verification method (Multikey for
    Ed25519, JsonWebKey otherwise) in assertionMethod and authentication."""
    methods = [
        keys.verification_method(row.kid, issuer.did, keys.public_key_from_jwk(row.public_jwk))
        for row in published(key_rows)
    ]
    contexts = [keys.DID_CONTEXT, keys.MULTIKEY_CONTEXT]
    if any(method["type"] == "JsonWebKey" for method in methods):
        contexts.append(keys.JWK_CONTEXT)
    document: dict[str, Any] = {"@context": contexts, "id": issuer.did, "verificationMethod": methods}
    for relationship in DID_RELATIONSHIPS:
        document[relationship] = [method["id"] for method in methods]
    return document


def published_key(issuer: Issuer, key_rows: list[IssuerKey], key_id: uuid.UUID) -> dict[str, Any]:
    """One key's public JWK, what an https kid dereferences to; a compromised key is gone."""
    for row in key_rows:
        if row.id == key_id:
            if row.status == "compromised":
                raise NotFound(f"Key {key_id} of issuer {issuer.id} was revoked as compromised.")
            return row.public_jwk
    raise NotFound(f"Issuer {issuer.id} has no key {key_id}.")


@dataclass(frozen=True, slots=True)
class IssuedAchievement:
    """An achievement an issuer has issued, as its latest credential names it (public: every
    credential page shows as much)."""

    achievement_id: uuid.UUID
    name: str
    url: str | None  # only an http(s) URL: a page may link it
    tier: str | None
    latest: datetime


MAX_ISSUED_ACHIEVEMENTS = 50


async def issued_achievements(session: AsyncSession, issuer: Issuer) -> list[IssuedAchievement]:
    """What the issuer awards, newest first, at most MAX_ISSUED_ACHIEVEMENTS; one small read each."""
    latest = await session.execute(
        select(Credential.achievement_id, func.max(Credential.issued_at).label("latest"))
        .where(Credential.issuer_id == issuer.id, Credential.org_id == issuer.org_id)
        .group_by(Credential.achievement_id)
        .order_by(func.max(Credential.issued_at).desc(), Credential.achievement_id)
        .limit(MAX_ISSUED_ACHIEVEMENTS)
    )
    found = []
    for achievement_id, issued_at in latest.all():
        row = (
            await session.execute(
                select(Credential.document, Credential.achievement_tier)
                .where(Credential.issuer_id == issuer.id, Credential.achievement_id == achievement_id)
                .order_by(Credential.issued_at.desc())
                .limit(1)
            )
        ).first()
        if row is None:
            continue
        achievement = (row.document.get("credentialSubject") or {}).get("achievement") or {}
        name = achievement.get("name") if isinstance(achievement.get("name"), str) else "Achievement"
        url = safe_url(achievement.get("id"))
        found.append(IssuedAchievement(achievement_id, name, url, row.achievement_tier, issued_at))
    return found
