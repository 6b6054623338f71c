"""Credentials posted for an employee: verified by the issuer's verifier, mapped to skills through
taxonomy_api, and kept with their outcome whatever it is.

Only a verified credential from a trusted issuer yields skill facts. A valid one from an untrusted
issuer keeps its certified skills, so trusting the issuer later (see trusted_issuers) turns it into
facts without the HRIS posting it again.
"""

import base64
import json
import re
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import ReceivedCredential, SkillFact, TrustedIssuer
from services.gap_engine.domain.employees import get_employee
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import Conflict, Unprocessable
from shared.schemas.gaps import ReceivedCredentialList, ReceivedCredentialOut

VERIFIED, NOT_TRUSTED, REJECTED = "verified", "issuer_not_trusted", "rejected"
_ACHIEVEMENT_URL = re.compile(r"/v1/public/achievements/([0-9a-fA-F-]{36})/?$")


def _credential_of(presented: dict[str, Any]) -> dict[str, Any]:
    """The credential itself: the JSON body, or a VC-JWT's payload (read only after the verifier
    has checked its signature, so decoding it unverified here is safe)."""
    token = presented.get("jwt")
    if not isinstance(token, str):
        return presented
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError) as error:
        raise Unprocessable("The jwt is not a compact JWS.", field="jwt") from error
    return claims.get("vc", claims) if isinstance(claims, dict) else {}


def _time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _achievement_id(credential: dict[str, Any]) -> uuid.UUID | None:
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    url = achievement.get("id") if isinstance(achievement, dict) else None
    match = _ACHIEVEMENT_URL.search(url) if isinstance(url, str) else None
    return uuid.UUID(match.group(1)) if match else None


async def is_trusted(session: AsyncSession, org_id: uuid.UUID, issuer_id: str | None) -> bool:
    if issuer_id is None:
        return False
    found = await session.scalar(
        select(TrustedIssuer.id).where(TrustedIssuer.org_id == org_id, TrustedIssuer.issuer_id == issuer_id)
    )
    return found is not None


def add_skill_facts(session: AsyncSession, row: ReceivedCredential) -> None:
    """The facts a counted credential contributes: one per certified skill."""
    for skill in row.skills:
        fact = SkillFact(
            org_id=row.org_id,
            employee_id=row.employee_id,
            skill_id=uuid.UUID(skill["skill_id"]),
            level=skill["level"],
            credential_id=row.credential_id,
            issuer_id=row.issuer_id,
            earned_at=row.earned_at or row.received_at,
            expires_at=row.expires_at,
        )
        fact.id = uuid.uuid4()
        session.add(fact)


async def remove_skill_facts(session: AsyncSession, row: ReceivedCredential) -> None:
    await session.execute(
        delete(SkillFact).where(
            SkillFact.org_id == row.org_id,
            SkillFact.employee_id == row.employee_id,
            SkillFact.credential_id == row.credential_id,
            SkillFact.issuer_id == row.issuer_id,
        )
    )


async def receive_credential(
    session: AsyncSession,
    org_id: uuid.UUID,
    hris_id: str,
    presented: dict[str, Any],
    *,
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    authorization: str | None,
) -> ReceivedCredentialOut:
    """Verifies, maps and stores one credential; it counts at once only if its issuer is trusted.
    Without a caller token (a webhook delivery) the mapping reads the achievement's public JSON."""
    employee = await get_employee(session, org_id, hris_id)
    result = await verifier.verify(presented)
    credential = _credential_of(presented) if result.get("verified") else {}
    credential_id = result.get("credential_id") or credential.get("id")
    if credential_id is not None:
        await _refuse_duplicate(session, org_id, employee.id, credential_id)
    row = ReceivedCredential(
        org_id=org_id,
        employee_id=employee.id,
        credential_id=credential_id,
        issuer_id=result.get("issuer"),
        format=result.get("format") or "unknown",
        reasons=list(result.get("failures") or []),
        skills=[],
        presented=presented,
        received_at=utcnow(),
        earned_at=_time(credential.get("validFrom") or credential.get("issuanceDate")),
        expires_at=_time(credential.get("validUntil") or credential.get("expirationDate")),
    )
    row.id = uuid.uuid4()
    row.status = REJECTED
    if result.get("verified"):
        await _map_to_skills(session, row, credential, taxonomy, authorization)
    session.add(row)
    if row.status == VERIFIED:
        add_skill_facts(session, row)
    await session.flush()
    return describe(row, employee.hris_id)


async def _refuse_duplicate(
    session: AsyncSession, org_id: uuid.UUID, employee_id: uuid.UUID, credential_id: str
) -> None:
    """A credential that was accepted (counted or waiting for trust) is not stored twice; a rejected
    one may be posted again (after the issuer fixed it, say)."""
    existing = await session.scalar(
        select(ReceivedCredential.id).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.employee_id == employee_id,
            ReceivedCredential.credential_id == credential_id,
            ReceivedCredential.status != REJECTED,
        )
    )
    if existing is not None:
        raise Conflict("This credential is already recorded for this employee.", id=str(existing))


async def _map_to_skills(
    session: AsyncSession,
    row: ReceivedCredential,
    credential: dict[str, Any],
    taxonomy: TaxonomyClient,
    authorization: str | None,
) -> None:
    """Certified skills come from taxonomy_api, read with the caller's token, so only this
    organisation's achievements map; anything else is rejected with the reason. A webhook has no
    token: its event was signed with this organisation's subscription secret, so the achievement's
    public JSON (certified levels parsed from its CredStack alignments) is used instead."""
    achievement_id = _achievement_id(credential)
    if achievement_id is None:
        row.reasons = ["mapping: the achievement is not one of taxonomy_api's (third-party mapping is not built yet)"]
        return
    if authorization is None:
        achievement = await taxonomy.public_achievement(achievement_id)
    else:
        achievement = await taxonomy.achievement(achievement_id, authorization)
    if achievement is None:
        row.reasons = [f"mapping: achievement {achievement_id} is not in this organisation's taxonomy"]
        return
    row.achievement_id = achievement_id
    row.skills = [{"skill_id": str(s["skill_id"]), "level": int(s["level"])} for s in achievement.get("skills", [])]
    if await is_trusted(session, row.org_id, row.issuer_id):
        row.status = VERIFIED
    else:
        row.status = NOT_TRUSTED
        row.reasons = [f"issuer {row.issuer_id} is not in this organisation's trusted-issuer registry"]


async def list_received(session: AsyncSession, org_id: uuid.UUID, hris_id: str) -> ReceivedCredentialList:
    employee = await get_employee(session, org_id, hris_id)
    rows = await session.scalars(
        select(ReceivedCredential)
        .where(ReceivedCredential.org_id == org_id, ReceivedCredential.employee_id == employee.id)
        .order_by(ReceivedCredential.received_at, ReceivedCredential.id)
    )
    return ReceivedCredentialList(items=[describe(row, employee.hris_id) for row in rows])


def describe(row: ReceivedCredential, hris_id: str) -> ReceivedCredentialOut:
    return ReceivedCredentialOut(
        id=row.id,
        hris_id=hris_id,
        credential_id=row.credential_id,
        issuer_id=row.issuer_id,
        achievement_id=row.achievement_id,
        format=row.format,
        status=row.status,
        reasons=row.reasons,
        skills=row.skills,
        earned_at=row.earned_at,
        expires_at=row.expires_at,
        received_at=row.received_at,
    )
