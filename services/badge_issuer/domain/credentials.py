"""Issued credentials: issuing from an assessment result, reading, revoking."""

import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Uuid, and_, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.badge_issuer.db.tables import Credential, Issuer, IssuerKey
from services.badge_issuer.domain import audit, issuance_rows, issuers, outbox, status_lists
from services.badge_issuer.domain.key_vault import KeyVault
from services.badge_issuer.domain.taxonomy_client import AchievementDefinition, TaxonomyClient
from services.badge_issuer.ob3 import credential as ob3_credential
from services.badge_issuer.ob3.schema_validation import validate_achievement_credential
from services.badge_issuer.proofs import data_integrity, vc_jwt
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.observability import ServiceMetrics
from shared.pagination import decode_cursor, encode_cursor
from shared.repository import TenantRepository
from shared.schemas.issuer import CredentialOut, CredentialStatusOut, LearnerIn


class IssuedCredentialInvalid(RuntimeError):
    """The credential about to be issued fails the 1EdTech schema: a bug here, never the caller's."""


@dataclass(frozen=True, slots=True)
class IssuanceContext:
    """What issuing needs besides the request: collaborators and who is asking."""

    taxonomy: TaxonomyClient
    authorization: str
    vault: KeyVault
    base_url: str
    actor: str
    metrics: ServiceMetrics | None = None  # where each answer is counted (domain/issuance_metrics.py)


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Credential]:
    return TenantRepository(session, org_id, Credential, "credential")


def public_credential_url(base_url: str, credential_id: uuid.UUID) -> str:
    return f"{base_url.rstrip('/')}/v1/public/credentials/{credential_id}"


@dataclass(frozen=True, slots=True)
class Subject:
    """The learner a credential is about, as the platform identified them."""

    email: str | None
    hris_id: str | None
    did: str | None

    @classmethod
    def of(cls, learner: LearnerIn) -> "Subject":
        return cls(email=learner.email, hris_id=learner.hris_id, did=learner.did)

    @property
    def key(self) -> str:
        """One learner within an organisation: the HRIS id when known, else the email address."""
        return f"hris:{self.hris_id}" if self.hris_id else f"email:{(self.email or '').lower()}"


@dataclass(frozen=True, slots=True)
class IssuingProfile:
    """An issuer and its active keys by key type, read in one statement when an issuance starts (the
    capstones it completes reuse it: the same transaction, the same keys)."""

    issuer: Issuer
    active_keys: dict[str, IssuerKey]

    def active_key(self, key_type: str) -> IssuerKey:
        """The active key of `key_type`; a 422 saying why when the issuer has none."""
        row = self.active_keys.get(key_type)
        if row is None:
            raise issuers.no_active_key(self.issuer, key_type)
        return row


async def issuing_profile(session: AsyncSession, org_id: uuid.UUID, issuer_id: uuid.UUID) -> IssuingProfile:
    """The caller's issuer with its active keys, one round trip instead of one per key type; a 404 for
    another organisation's issuer, as the repository answers."""
    rows = (await session.execute(_issuing_profile_statement(), {"org_id": org_id, "issuer_id": issuer_id})).all()
    if not rows:
        raise NotFound(f"No issuer with id {issuer_id} in this organisation.")
    # One active key per type (a partial unique index); were there two, the newest signs, as in active_key.
    return IssuingProfile(rows[0][0], {key.key_type: key for _, key in rows if key is not None})


@functools.cache
def _issuing_profile_statement() -> Select:
    """Built once, with bound parameters: building the expression cost more than running it."""
    key_is_active = and_(
        IssuerKey.issuer_id == Issuer.id, IssuerKey.org_id == Issuer.org_id, IssuerKey.status == "active"
    )
    return (
        select(Issuer, IssuerKey)
        .outerjoin(IssuerKey, key_is_active)
        .where(Issuer.org_id == bindparam("org_id", type_=Uuid), Issuer.id == bindparam("issuer_id", type_=Uuid))
        .order_by(IssuerKey.created_at, IssuerKey.id)
    )


async def sign_and_store(
    session: AsyncSession,
    org_id: uuid.UUID,
    profile: IssuingProfile,
    achievement: AchievementDefinition,
    subject: Subject,
    context: IssuanceContext,
    *,
    proof_format: str,
    assessment_result: dict[str, Any] | None,
    results: list[dict[str, Any]],
    activity_end: datetime | None,
    awarded_at: datetime,
    evidence: list[dict[str, Any]],
    capstone_pathway_id: uuid.UUID | None = None,
) -> Credential:
    """Build, sign and write one credential with its status index, audit entry and outbox event (and
    `assessment_result`, the row of the result that earned it, when there is one), not committed.

    VC-JWTs are signed with the active key of the issuer's `jwt_key_type`; Data Integrity proofs and
    the status lists with its active Ed25519 key (422 when there is none). The rows are written by
    write_issuance in one statement; the credential returned is not in the session (nothing to flush)."""
    issuer = profile.issuer
    key_type = issuer.jwt_key_type if proof_format == "vc-jwt" else "Ed25519"
    signing = issuers.unlock(profile.active_key(key_type), context.vault, issuer.did)
    # Status lists are signed with eddsa-rdfc-2022 under the issuer's id, so a VC-JWT signed with a
    # P-256 or RSA key still takes its index from the list of the issuer's Ed25519 key.
    status_key = signing.row if key_type == "Ed25519" else profile.active_key("Ed25519")
    status_list, index, status_entry = await status_lists.allocate_index(session, status_key, context.base_url)
    credential_id = uuid.uuid4()
    issued_at = utcnow()
    achievement_id = uuid.UUID(str(achievement.definition["id"]))
    unsigned = ob3_credential.build_achievement_credential(
        credential_id=credential_id,
        issuer_profile=issuers.credential_issuer(issuer, signing.did),
        valid_from=issued_at,
        awarded_at=min(awarded_at, issued_at),
        achievement=achievement.ob3,
        results=results,
        identifiers=ob3_credential.recipient_identifiers(email=subject.email, hris_id=subject.hris_id),
        subject_did=subject.did,
        activity_end=activity_end,
        evidence=evidence,
        credential_status=status_entry,
    )
    compact_jwt = None
    if proof_format == "vc-jwt":
        document = unsigned
        compact_jwt = vc_jwt.sign(unsigned, signing.private_key, kid=signing.verification_method)
    else:
        document = data_integrity.sign(unsigned, signing.private_key, signing.verification_method)  # type: ignore[arg-type]
    errors = validate_achievement_credential(document)
    if errors:
        raise IssuedCredentialInvalid("; ".join(map(str, errors[:5])))
    assessment_result_id = assessment_result["id"] if assessment_result else None
    credential_row = {
        "id": credential_id,
        "org_id": org_id,
        "issuer_id": issuer.id,
        "key_id": signing.row.id,
        "assessment_result_id": assessment_result_id,
        "achievement_id": achievement_id,
        "achievement_tier": achievement.definition.get("tier"),
        "learner_hris_id": subject.hris_id,
        "learner_key": subject.key,
        "capstone_pathway_id": capstone_pathway_id,
        "capstone_achievement_id": achievement_id if capstone_pathway_id else None,
        "proof_format": proof_format,
        "document": document,
        "compact_jwt": compact_jwt,
        "status_list_id": status_list.id,
        "status_index": index,
        "issued_at": issued_at,
    }
    credential = Credential(**credential_row)
    detail: dict[str, Any] = {"status_list_id": str(status_list.id), "index": index}
    if assessment_result_id:
        detail["assessment_result_id"] = str(assessment_result_id)
    if capstone_pathway_id:
        detail["capstone_of_pathway"] = str(capstone_pathway_id)
    await issuance_rows.write_issuance(
        session,
        credential=credential_row,
        audit=audit.row(org_id, "credential.issued", str(credential_id), context.actor, detail),
        event=outbox.event_parameters(
            org_id, "credential.issued", event_data(credential, signing.did, context.base_url)
        ),
        assessment_result=assessment_result,
    )
    return credential


def event_data(credential: Credential, issuer_did: str, base_url: str) -> dict[str, Any]:
    """What `credential.issued` / `credential.revoked` subscribers get: enough to act without a call back."""
    data: dict[str, Any] = {
        "credential_id": str(credential.id),
        "org_id": str(credential.org_id),
        "achievement_id": str(credential.achievement_id),
        "learner": {"hris_id": credential.learner_hris_id, "learner_key": credential.learner_key},
        "issuer": {"id": str(credential.issuer_id), "did": issuer_did},
        "credential_url": public_credential_url(base_url, credential.id),
        "proof_format": credential.proof_format,
        "issued_at": credential.issued_at.isoformat(),
    }
    if credential.revoked_at is not None:
        data["revoked_at"] = credential.revoked_at.isoformat()
        data["revocation_reason"] = credential.revocation_reason
    return data


def _issued_under(credential: Credential) -> tuple[str, str]:
    """(issuer DID, public base URL) the credential was issued with, read back from its document, so
    revoking needs no request context."""
    document = credential.document
    issuer = document.get("issuer")
    did = issuer.get("id") if isinstance(issuer, dict) else str(issuer)
    status_url = str((document.get("credentialStatus") or {}).get("statusListCredential", ""))
    return did, status_url.split(status_lists.PUBLIC_PATH)[0]


async def credential_page(
    session: AsyncSession,
    org_id: uuid.UUID,
    learner: str | None,
    *,
    issued_since: datetime | None = None,
    learner_keys: Sequence[str] | None = None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Credential], str | None]:
    """The organisation's credentials (one learner's when `learner` is given), oldest first, revoked
    ones included (marked so).

    `learner` is an HRIS id, or an email address (case-insensitive); `learner_keys` names a learner
    by their stored keys instead (a wallet's owner, by HRIS id and email at once). Keyset pagination
    over (issued_at, id), with its own cursor because the shared helper cannot rebuild a datetime."""
    statement = repository(session, org_id).select()
    if learner is not None:
        learner = learner.strip()
        keys = [f"hris:{learner}"] + ([f"email:{learner.lower()}"] if "@" in learner else [])
        statement = statement.where(Credential.learner_key.in_(keys))
    if learner_keys is not None:
        statement = statement.where(Credential.learner_key.in_(list(learner_keys)))
    if issued_since is not None:
        if issued_since.tzinfo is None:
            raise Unprocessable("issued_since must carry a timezone (e.g. 2026-01-15T09:30:00Z).", field="issued_since")
        statement = statement.where(Credential.issued_at >= issued_since)
    if cursor:
        raw_time, raw_id = decode_cursor(cursor, 2)
        try:
            after = (datetime.fromisoformat(raw_time), uuid.UUID(raw_id))
        except ValueError as error:
            raise Unprocessable("The cursor is not valid; use the next_cursor of a previous page.") from error
        statement = statement.where(tuple_(Credential.issued_at, Credential.id) > tuple_(*after))
    rows = list(await session.scalars(statement.order_by(Credential.issued_at, Credential.id).limit(limit + 1)))
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], encode_cursor([last.issued_at.isoformat(), last.id])


_CREDENTIAL_OUT_FIELDS = tuple(CredentialOut.model_fields)


def credential_json(credential: Credential, base_url: str) -> dict[str, Any]:
    """describe_credential as JSON, with the stored document as it is: it is JSON already (it is what
    was signed and stored), and dumping it again walked every node of it, a tenth of an issuance."""
    described = describe_credential(credential, base_url).model_dump(mode="json", exclude={"credential"})
    return {name: credential.document if name == "credential" else described[name] for name in _CREDENTIAL_OUT_FIELDS}


def describe_credential(credential: Credential, base_url: str) -> CredentialOut:
    return CredentialOut(
        id=credential.id,
        issuer_id=credential.issuer_id,
        achievement_id=credential.achievement_id,
        learner_hris_id=credential.learner_hris_id,
        learner_email=credential.learner_key.split(":", 1)[1] if credential.learner_key.startswith("email:") else None,
        proof_format=credential.proof_format,  # type: ignore[arg-type]
        credential=credential.document,
        jwt=credential.compact_jwt,
        public_url=public_credential_url(base_url, credential.id),
        status=CredentialStatusOut(
            revoked=credential.revoked_at is not None,
            revoked_at=credential.revoked_at,
            reason=credential.revocation_reason,
            status_list_url=status_lists.status_list_url(base_url, credential.status_list_id),
            status_list_index=credential.status_index,
        ),
        issued_at=credential.issued_at,
    )


async def revoke_credential(
    session: AsyncSession, org_id: uuid.UUID, credential_id: uuid.UUID, reason: str, actor: str
) -> Credential:
    """Sets the credential's bit (through the list's revision) and audits who revoked it and why."""
    credential = await repository(session, org_id).get(credential_id)
    # One conditional UPDATE, so of two concurrent revocations exactly one wins.
    claimed = await session.execute(
        update(Credential)
        .where(Credential.id == credential_id, Credential.org_id == org_id, Credential.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revocation_reason=reason, revoked_by=actor)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        await session.refresh(credential)
        raise Conflict(f"Credential {credential_id} is already revoked.", revoked_at=credential.revoked_at.isoformat())
    await session.refresh(credential)
    await status_lists.mark_changed(session, credential.status_list_id)
    audit.record(session, org_id, "credential.revoked", str(credential_id), actor, {"reason": reason})
    await outbox.emit(session, org_id, "credential.revoked", event_data(credential, *_issued_under(credential)))
    await session.flush()
    return credential


KEY_COMPROMISED = "signing key compromised"


async def revoke_signed_by_compromised_key(
    session: AsyncSession, org_id: uuid.UUID, key: IssuerKey, actor: str
) -> list[uuid.UUID]:
    """Revoke, through revoke_credential (status bit, audit, `credential.revoked` event), every
    credential `key` signed at or after its `compromised_since`; ones already revoked are left."""
    assert key.compromised_since is not None
    credential_ids = await session.scalars(
        select(Credential.id)
        .where(
            Credential.org_id == org_id,
            Credential.key_id == key.id,
            Credential.issued_at >= key.compromised_since,
            Credential.revoked_at.is_(None),
        )
        .order_by(Credential.issued_at, Credential.id)
    )
    revoked = []
    for credential_id in list(credential_ids):
        try:
            await revoke_credential(session, org_id, credential_id, KEY_COMPROMISED, actor)
        except Conflict:  # revoked concurrently, for its own reason: that revocation stands
            continue
        revoked.append(credential_id)
    return revoked
