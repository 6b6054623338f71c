"""Credentials posted for an employee: verified by the issuer's verifier, mapped to our skills, and
kept with their outcome whatever it is.

Mapping: one of our achievements maps to its certified levels in taxonomy_api; anything else (a
third-party badge) maps through its achievement's `alignment[]` targetCode/targetUrl, to the skills
keeping that target as an external id (ESCO/O*NET/CASE) at EXTERNAL_ID_LEVEL, or through an admin's
alignment mapping at the mapping's level. Only a mapped credential from a trusted issuer yields skill
facts, each carrying the issuer's weight. Valid credentials that do not count yet keep what is needed
(the presented document, the certified skills), so trusting an issuer, adding a mapping or
refreshing the taxonomy re-derives their facts without the HRIS posting them again (`settle`).
"""

import base64
import hashlib
import json
import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import snapshots
from services.gap_engine.db.tables import (
    AlignmentMapping,
    Employee,
    EmployeeDid,
    EmployeeEmail,
    ReceivedCredential,
    SkillFact,
    TrustedIssuer,
)
from services.gap_engine.domain import recipients, taxonomy_skills
from services.gap_engine.domain.employees import get_employee
from services.gap_engine.domain.issuer_client import IssuerVerifier
from services.gap_engine.domain.taxonomy_client import TaxonomyClient
from shared.db import utcnow
from shared.errors import Conflict, NotFound, Unprocessable
from shared.schemas.gaps import EXTERNAL_ID_LEVEL, ReceivedCredentialList, ReceivedCredentialOut
from shared.timestamps import parse_timestamp

VERIFIED, NOT_TRUSTED, UNMAPPED, REJECTED = "verified", "issuer_not_trusted", "unmapped", "rejected"
RECIPIENT_MISMATCH, RECIPIENT_UNVERIFIED = "recipient_mismatch", "recipient_unverified"
AWAITING_EMPLOYEE, STATUS_UNKNOWN = "awaiting_employee", "status_unknown"
# Valid credentials, counted or waiting (for trust, a mapping or their recipient's HRIS record):
# what re-mapping and re-binding look at.
ACCEPTED = (VERIFIED, NOT_TRUSTED, UNMAPPED, RECIPIENT_MISMATCH, RECIPIENT_UNVERIFIED, AWAITING_EMPLOYEE)
_UNBOUND_STATUS = {recipients.MISMATCH: RECIPIENT_MISMATCH, recipients.UNVERIFIED: RECIPIENT_UNVERIFIED}
MAX_ALIGNMENT_TARGETS = 50
MAX_KEPT_REJECTED_BYTES = 65_536  # a rejected document is kept for people to read, not re-verified
MAX_TARGET_LENGTH = 512
_ACHIEVEMENT_URL = re.compile(r"/v1/public/achievements/([0-9a-fA-F-]{36})/?$")


def credential_of(presented: dict[str, Any]) -> dict[str, Any]:
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


def _achievement(credential: dict[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, dict) else None
    return achievement if isinstance(achievement, dict) else {}


def _achievement_id(credential: dict[str, Any]) -> uuid.UUID | None:
    url = _achievement(credential).get("id")
    match = _ACHIEVEMENT_URL.search(url) if isinstance(url, str) else None
    return uuid.UUID(match.group(1)) if match else None


def alignment_targets(credential: dict[str, Any], elsewhere: list[dict[str, Any]] | None = None) -> list[str]:
    """The targetCode and targetUrl of the achievement's alignments (or of what the verifier read
    beside the credential: an OB 2.0 BadgeClass's), in order, deduplicated, bounded."""
    alignments = _achievement(credential).get("alignment")
    if not isinstance(alignments, list) or not alignments:
        alignments = elsewhere or []
    targets: list[str] = []
    for alignment in alignments if isinstance(alignments, list) else []:
        if not isinstance(alignment, dict):
            continue
        for key in ("targetCode", "targetUrl"):
            value = alignment.get(key)
            if isinstance(value, str) and 0 < len(value.strip()) <= MAX_TARGET_LENGTH:
                value = value.strip()
                if value not in targets:
                    targets.append(value)
        if len(targets) >= MAX_ALIGNMENT_TARGETS:
            return targets[:MAX_ALIGNMENT_TARGETS]
    return targets


async def trusted_issuer(session: AsyncSession, org_id: uuid.UUID, issuer_id: str | None) -> TrustedIssuer | None:
    """The registry entry that makes this issuer's credentials count, if there is one in force."""
    if issuer_id is None:
        return None
    return await session.scalar(
        select(TrustedIssuer).where(
            TrustedIssuer.org_id == org_id,
            TrustedIssuer.issuer_id == issuer_id,
            TrustedIssuer.distrusted_at.is_(None),
        )
    )


class SkillMapper:
    """Maps credentials to our skills for one organisation and one operation, remembering each
    taxonomy answer for the operation (a re-map of many credentials asks once per achievement or
    target). `authorization` None (a webhook delivery): our achievements are read from their public
    JSON, and external ids cannot be looked up, so a third-party badge maps by admin mappings only."""

    def __init__(
        self,
        session: AsyncSession,
        org_id: uuid.UUID,
        taxonomy: TaxonomyClient,
        authorization: str | None,
        public_token: str | None = None,
    ) -> None:
        self.session, self.org_id, self.taxonomy, self.authorization = session, org_id, taxonomy, authorization
        self.public_token = public_token
        self._achievements: dict[uuid.UUID, dict[str, Any] | None] = {}
        self._external: dict[str, list[uuid.UUID]] = {}

    async def achievement(self, achievement_id: uuid.UUID) -> dict[str, Any] | None:
        if achievement_id not in self._achievements:
            self._achievements[achievement_id] = await taxonomy_skills.achievement_definition(
                self.taxonomy, self.org_id, achievement_id, self.authorization, self.public_token
            )
        return self._achievements[achievement_id]

    async def skills_of(
        self, credential: dict[str, Any], elsewhere: list[dict[str, Any]] | None = None
    ) -> tuple[uuid.UUID | None, list[dict[str, Any]], str]:
        """(our achievement id or None, certified skills, why none when empty)."""
        achievement_id = _achievement_id(credential)
        if achievement_id is not None:
            achievement = await self.achievement(achievement_id)
            if achievement is not None:
                skills = [
                    {
                        "skill_id": str(s["skill_id"]),
                        "level": int(s["level"]),
                        "source": "achievement",
                        "skill_name": s.get("skill_name"),
                    }
                    for s in achievement.get("skills", [])
                ]
                return achievement_id, skills, f"mapping: achievement {achievement_id} certifies no skill"
        targets = alignment_targets(credential, elsewhere)
        if not targets:
            return None, [], "mapping: the achievement is not one of this organisation's and has no alignment"
        return (
            None,
            await self._third_party(targets),
            (
                "mapping: none of the achievement's alignment targets is an external id of our skills or has an "
                "alignment mapping"
            ),
        )

    async def _third_party(self, targets: list[str]) -> list[dict[str, Any]]:
        """Per skill the highest level any target grants; an admin mapping for a target replaces the
        external-id match of that target (it says which level the target means)."""
        mapped = await self.session.scalars(
            select(AlignmentMapping).where(AlignmentMapping.org_id == self.org_id, AlignmentMapping.target.in_(targets))
        )
        grants: list[tuple[str, int, str, str]] = [(str(m.skill_id), m.level, "mapping", m.target) for m in mapped]
        covered = {target for _, _, _, target in grants}
        names: dict[str, str] = {}
        if self.authorization is not None:
            for target in targets:
                if target in covered:
                    continue
                if target not in self._external:
                    self._external[target] = await taxonomy_skills.skills_by_external_id(
                        self.taxonomy, self.org_id, target, self.authorization
                    )
                grants += [(str(s), EXTERNAL_ID_LEVEL, "external_id", target) for s, _ in self._external[target]]
                names.update((str(s), name) for s, name in self._external[target])
        best: dict[str, dict[str, Any]] = {}
        for skill_id, level, source, target in grants:
            if skill_id not in best or level > best[skill_id]["level"]:
                best[skill_id] = {
                    "skill_id": skill_id,
                    "level": level,
                    "source": source,
                    "target": target,
                    "skill_name": names.get(skill_id),
                }
        return list(best.values())


def _fact_credential_id(row: ReceivedCredential) -> str:
    return row.credential_id or f"urn:uuid:{row.id}"


async def sync_facts(session: AsyncSession, row: ReceivedCredential, weight: float | None) -> None:
    """Makes the row's skill facts what its status says: one per certified skill, at the issuer's
    weight, when it counts; none otherwise. Only the facts that differ are touched, and the change goes
    through the stored reports' path (snapshots.keeping_reports_current) in the same transaction."""
    if row.employee_id is None:
        return
    wanted = {uuid.UUID(s["skill_id"]): int(s["level"]) for s in row.skills} if row.status == VERIFIED else {}
    existing = {
        fact.skill_id: fact
        for fact in await session.scalars(
            select(SkillFact).where(
                SkillFact.org_id == row.org_id,
                SkillFact.employee_id == row.employee_id,
                SkillFact.credential_id == _fact_credential_id(row),
                SkillFact.issuer_id == (row.issuer_id or ""),
            )
        )
    }
    earned_at = row.earned_at or row.received_at
    values = {
        skill_id: {"level": level, "weight": weight or 1.0, "earned_at": earned_at, "expires_at": row.expires_at}
        for skill_id, level in wanted.items()
    }
    stale = [fact for skill_id, fact in existing.items() if skill_id not in wanted]
    changed = {
        skill_id: fields
        for skill_id, fields in values.items()
        if skill_id not in existing or any(getattr(existing[skill_id], k) != v for k, v in fields.items())
    }
    if not stale and not changed:
        return
    async with snapshots.keeping_reports_current(session, row.org_id, employee_ids=[row.employee_id]):
        for fact in stale:
            await session.delete(fact)
        for skill_id, fields in changed.items():
            fact = existing.get(skill_id)
            if fact is None:
                fact = SkillFact(
                    org_id=row.org_id,
                    employee_id=row.employee_id,
                    skill_id=skill_id,
                    credential_id=_fact_credential_id(row),
                    issuer_id=row.issuer_id or "",
                    revoked=False,
                )
                fact.id = uuid.uuid4()
                session.add(fact)
            for name, value in fields.items():
                if getattr(fact, name) != value:
                    setattr(fact, name, value)


async def known_identity(session: AsyncSession, employee: Employee) -> recipients.KnownIdentity:
    """The employee's HRIS id and every email address the HRIS has recorded for them."""
    emails = set(
        await session.scalars(
            select(EmployeeEmail.email).where(
                EmployeeEmail.org_id == employee.org_id, EmployeeEmail.employee_id == employee.id
            )
        )
    )
    if employee.email:
        emails.add(employee.email.strip().lower())
    dids = set(
        await session.scalars(
            select(EmployeeDid.did).where(EmployeeDid.org_id == employee.org_id, EmployeeDid.employee_id == employee.id)
        )
    )
    return recipients.KnownIdentity(hris_id=employee.hris_id, emails=frozenset(emails), dids=frozenset(dids))


async def _binding(session: AsyncSession, row: ReceivedCredential) -> recipients.Binding | None:
    """Whether the credential is about its employee; None while it waits for one."""
    if row.employee_id is None:
        return None
    employee = await session.get(Employee, row.employee_id)
    if employee is None:
        return None
    return recipients.bind_recipient(credential_of(row.presented), await known_identity(session, employee))


async def settle(session: AsyncSession, row: ReceivedCredential, skills: list[dict[str, Any]], reason: str) -> bool:
    """Gives a valid credential its certified skills and the status they, its recipient binding and
    the registry imply, and brings its facts in line. Returns whether its skills or status changed.
    The order is the order of what a reader needs fixed first: whose it is, what it means, who vouches."""
    before = (row.status, _normalised(row.skills))
    trust = await trusted_issuer(session, row.org_id, row.issuer_id)
    binding = await _binding(session, row)
    row.skills = skills
    row.recipient = binding.outcome if binding is not None else recipients.UNCHECKED
    if binding is None:
        row.status = AWAITING_EMPLOYEE
        row.reasons = [f"recipient: the HRIS has not sent employee {hint_label(row.learner_hint)!r} yet"]
    elif binding.outcome != recipients.BOUND:
        row.status, row.reasons = _UNBOUND_STATUS[binding.outcome], [binding.reason or "recipient not bound"]
    elif not skills:
        row.status, row.reasons = UNMAPPED, [reason]
    elif trust is not None:
        row.status, row.reasons = VERIFIED, []
    else:
        row.status = NOT_TRUSTED
        row.reasons = [f"issuer {row.issuer_id} is not in this organisation's trusted-issuer registry"]
    await sync_facts(session, row, trust.weight if trust is not None else None)
    return before != (row.status, _normalised(row.skills))


def _normalised(skills: list[dict[str, Any]]) -> list[tuple[str, int, str]]:
    return sorted((s["skill_id"], int(s["level"]), s.get("source", "achievement")) for s in skills or [])


async def remap(session: AsyncSession, row: ReceivedCredential, mapper: SkillMapper) -> bool:
    """Maps an already received valid credential again (the taxonomy or the mappings changed)."""
    achievement_id, skills, reason = await mapper.skills_of(credential_of(row.presented), row.alignment)
    row.achievement_id = achievement_id if achievement_id is not None else row.achievement_id
    return await settle(session, row, skills, reason)


async def remap_third_party(session: AsyncSession, org_id: uuid.UUID, mapper: SkillMapper) -> int:
    """After a mapping change: every valid credential that is not one of our achievements."""
    rows = await session.scalars(
        select(ReceivedCredential).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.status.in_(ACCEPTED),
            ReceivedCredential.achievement_id.is_(None),
        )
    )
    return sum([await remap(session, row, mapper) for row in list(rows)])


async def resettle_issuer(session: AsyncSession, org_id: uuid.UUID, issuer_id: str) -> int:
    """After a registry change for this issuer: its valid credentials count, or stop counting, or
    take the new weight. Returns how many credentials changed status."""
    rows = await session.scalars(
        select(ReceivedCredential).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.issuer_id == issuer_id,
            ReceivedCredential.status.in_(ACCEPTED),
        )
    )
    changed = 0
    for row in list(rows):
        changed += await settle(session, row, row.skills, "")
    return changed


@dataclass(frozen=True, slots=True)
class BakedImage:
    """An uploaded badge image, passed through to the verifier unread."""

    data: bytes
    filename: str
    content_type: str


async def receive_credential(
    session: AsyncSession,
    org_id: uuid.UUID,
    hris_id: str,
    presented: dict[str, Any],
    *,
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    authorization: str | None,
    image: "BakedImage | None" = None,
) -> ReceivedCredentialOut:
    """Verifies, maps, binds and stores one credential posted for an employee; it counts at once only
    if it is about them, mapped, and its issuer is trusted. A baked image goes to the verifier as it is;
    what the verifier extracted is kept as presented."""
    employee = await get_employee(session, org_id, hris_id)
    return await receive_for_learner(
        session,
        org_id,
        employee,
        presented,
        verifier=verifier,
        taxonomy=taxonomy,
        authorization=authorization,
        image=image,
    )


async def receive_for_learner(
    session: AsyncSession,
    org_id: uuid.UUID,
    employee: Employee | None,
    presented: dict[str, Any],
    *,
    verifier: IssuerVerifier,
    taxonomy: TaxonomyClient,
    authorization: str | None,
    learner_hint: str | None = None,
    image: "BakedImage | None" = None,
    verifier_authorization: str | None = None,
    mapper: "SkillMapper | None" = None,
) -> ReceivedCredentialOut:
    """The intake every path shares; the verifier is asked as `verifier_authorization` (the gap
    engine's own token for a webhook) or else the caller; a `mapper` shared by many intakes (one
    reconciliation round) asks the taxonomy once per achievement. `employee` None (a webhook for a
    learner the HRIS has not sent yet): the credential is verified and kept as awaiting_employee under
    `learner_hint`, and counts when the HRIS creates or updates a matching employee
    (`claim_for_employees`), never lost.
    Without a caller token (a webhook delivery) our achievements are read from their public JSON."""
    asking_as = verifier_authorization or authorization
    if image is not None:
        result = await verifier.verify_image(image.data, image.filename, image.content_type, asking_as)
        presented = result.get("extracted") or {}
    else:
        result = await verifier.verify(presented, asking_as)
    # A valid signature by a key nobody vouches for (issuer_bound false) proves nothing about who issued
    # it, so the trust registry must not be asked about the issuer it names: it is kept, not counted.
    accepted = bool(result.get("verified")) and result.get("issuer_bound") is not False
    if result.get("format") in (None, "unknown"):
        # Nothing the verifier could read as a credential (a JSON that is no VC, an image with no
        # badge in it): an error for the caller to fix, not evidence to keep.
        reasons = "; ".join(str(failure) for failure in result.get("failures") or []) or "no credential found"
        raise Unprocessable(f"This is not a verifiable credential: {reasons}.", field="file" if image else "body")
    credential = credential_of(presented) if accepted else {}
    credential_id = result.get("credential_id") or credential.get("id")
    if credential_id is not None:
        await _refuse_duplicate(session, org_id, employee.id if employee else None, credential_id, learner_hint)
    row = ReceivedCredential(
        org_id=org_id,
        employee_id=employee.id if employee else None,
        learner_hint=learner_hint,
        credential_id=credential_id,
        issuer_id=result.get("issuer"),
        format=result.get("format") or "unknown",
        reasons=list(result.get("failures") or [])
        + ([] if accepted or not result.get("verified") else ["issuer: the signing key is not bound to the issuer"]),
        skills=[],
        presented=presented if accepted else kept_rejected(presented),
        received_at=utcnow(),
        earned_at=earned_at(credential),
        expires_at=parse_timestamp(
            credential.get("validUntil") or credential.get("expirationDate") or credential.get("expires")
        ),
        recipient=recipients.UNCHECKED,
        alignment=result.get("alignment") if isinstance(result.get("alignment"), list) else None,
        checked_at=utcnow(),
        check_outcome="verified" if accepted else "rejected at intake",
    )
    row.id = uuid.uuid4()
    row.status = REJECTED
    session.add(row)
    if accepted:
        mapper = mapper or SkillMapper(session, org_id, taxonomy, authorization, verifier_authorization)
        await remap(session, row, mapper)
    await session.flush()
    return describe(row, employee.hris_id if employee else hint_label(learner_hint))


def kept_rejected(presented: dict[str, Any]) -> dict[str, Any]:
    """A rejected document as it is kept: whole when small; beyond MAX_KEPT_REJECTED_BYTES only its
    size and digest, so anyone with hris:write cannot park megabytes per post in our database."""
    encoded = json.dumps(presented, separators=(",", ":"), ensure_ascii=False).encode()
    if len(encoded) <= MAX_KEPT_REJECTED_BYTES:
        return presented
    return {"omitted": "too large to keep", "bytes": len(encoded), "sha256": hashlib.sha256(encoded).hexdigest()}


def earned_at(credential: dict[str, Any]) -> datetime | None:
    """When the achievement was earned: OB 3.0 awardedDate (a backfilled result's real date), else
    the credential's validity start (validFrom, VC 1.1 issuanceDate, OB 2.0 issuedOn)."""
    for key in ("awardedDate", "validFrom", "issuanceDate", "issuedOn"):
        moment = parse_timestamp(credential.get(key))
        if moment is not None:
            return moment
    return None


def learner_hint_of(hris_id: str | None, email: str | None) -> str | None:
    """How a credential waiting for its employee names them: by HRIS id, else by email address."""
    if hris_id:
        return f"hris:{hris_id.strip()}"
    if email:
        return f"email:{email.strip().lower()}"
    return None


def hint_label(hint: str | None) -> str:
    return (hint or "").split(":", 1)[-1]


async def claim_for_employees(session: AsyncSession, org_id: uuid.UUID, hris_ids: list[str]) -> int:
    """After the HRIS created or updated these employees: record their email addresses (every one
    ever sent counts for binding), give them the credentials that waited for them, and bind again
    those that did not name them before. Returns how many credentials changed status."""
    employees = list(
        await session.scalars(select(Employee).where(Employee.org_id == org_id, Employee.hris_id.in_(hris_ids)))
    )
    if not employees:
        return 0
    await _record_emails(session, org_id, employees)
    by_hint: dict[str, Employee] = {}
    for employee in employees:
        by_hint[f"hris:{employee.hris_id}"] = employee
        if employee.email:
            by_hint.setdefault(f"email:{employee.email.strip().lower()}", employee)
    waiting = await session.scalars(
        select(ReceivedCredential).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.employee_id.is_(None),
            ReceivedCredential.learner_hint.in_(list(by_hint)),
        )
    )
    rows = []
    for row in list(waiting):
        row.employee_id = by_hint[row.learner_hint].id
        rows.append(row)
    unbound = await session.scalars(
        select(ReceivedCredential).where(
            ReceivedCredential.org_id == org_id,
            ReceivedCredential.employee_id.in_([e.id for e in employees]),
            ReceivedCredential.status.in_((RECIPIENT_MISMATCH, RECIPIENT_UNVERIFIED)),
        )
    )
    rows += list(unbound)
    changed = 0
    for row in rows:
        changed += await settle(session, row, row.skills, "mapping: none of its skills maps to ours")
    return changed


async def _record_emails(session: AsyncSession, org_id: uuid.UUID, employees: list[Employee]) -> None:
    wanted = {(e.id, e.email.strip().lower()) for e in employees if e.email}
    if not wanted:
        return
    known = set(
        await session.execute(
            select(EmployeeEmail.employee_id, EmployeeEmail.email).where(
                EmployeeEmail.org_id == org_id, EmployeeEmail.employee_id.in_([e for e, _ in wanted])
            )
        )
    )
    for employee_id, email in sorted(wanted - {tuple(row) for row in known}, key=str):
        session.add(EmployeeEmail(id=uuid.uuid4(), org_id=org_id, employee_id=employee_id, email=email))
    await session.flush()


async def _refuse_duplicate(
    session: AsyncSession,
    org_id: uuid.UUID,
    employee_id: uuid.UUID | None,
    credential_id: str,
    learner_hint: str | None = None,
) -> None:
    """A credential that was accepted (counted or waiting) is not stored twice; a rejected one may be
    posted again (after the issuer fixed it, say)."""
    holder = (
        ReceivedCredential.employee_id == employee_id
        if employee_id is not None
        else (ReceivedCredential.employee_id.is_(None) & (ReceivedCredential.learner_hint == learner_hint))
    )
    existing = await session.scalar(
        select(ReceivedCredential.id).where(
            ReceivedCredential.org_id == org_id,
            holder,
            ReceivedCredential.credential_id == credential_id,
            ReceivedCredential.status != REJECTED,
        )
    )
    if existing is not None:
        raise Conflict("This credential is already recorded for this employee.", id=str(existing))


async def list_received(session: AsyncSession, org_id: uuid.UUID, hris_id: str) -> ReceivedCredentialList:
    employee = await get_employee(session, org_id, hris_id)
    rows = await session.scalars(
        select(ReceivedCredential)
        .where(ReceivedCredential.org_id == org_id, ReceivedCredential.employee_id == employee.id)
        .order_by(ReceivedCredential.received_at, ReceivedCredential.id)
    )
    return ReceivedCredentialList(items=[describe(row, employee.hris_id) for row in rows])


async def received_by_id(session: AsyncSession, org_id: uuid.UUID, received_id: uuid.UUID) -> ReceivedCredential:
    row = await session.scalar(
        select(ReceivedCredential).where(ReceivedCredential.org_id == org_id, ReceivedCredential.id == received_id)
    )
    if row is None:
        raise NotFound(f"No received credential with id {received_id} in this organisation.")
    return row


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
        recipient=row.recipient,
        checked_at=row.checked_at,
        check_outcome=row.check_outcome,
    )
