"""An employee's verified skill profile: what they can prove now, by which credentials, until when."""

import uuid
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.db.tables import ReceivedCredential, RoleRequirement, SkillFact
from services.gap_engine.domain.employees import get_employee
from shared.db import utcnow
from shared.schemas.gaps import SkillEvidence, SkillProfile, VerifiedSkill


async def verified_skill_profile(
    session: AsyncSession,
    org_id: uuid.UUID,
    hris_id: str,
    *,
    expiring_within: timedelta = timedelta(days=90),
    now: datetime | None = None,
) -> SkillProfile:
    """Per skill, the highest current level and the credentials at that level. A level lapses only
    when every credential proving it has expired, so its expiry is the latest of theirs."""
    now = now or utcnow()
    employee = await get_employee(session, org_id, hris_id)
    facts = (
        await session.scalars(
            select(SkillFact)
            .where(
                SkillFact.org_id == org_id,
                SkillFact.employee_id == employee.id,
                SkillFact.revoked.is_(False),
                or_(SkillFact.expires_at.is_(None), SkillFact.expires_at > now),
            )
            .order_by(SkillFact.skill_id, SkillFact.level.desc(), SkillFact.earned_at)
        )
    ).all()
    top: dict[uuid.UUID, list[SkillFact]] = defaultdict(list)
    for fact in facts:  # one employee's facts, ordered best level first per skill
        best = top[fact.skill_id]
        if not best or best[0].level == fact.level:
            best.append(fact)
    names = await _skill_names(session, org_id, employee.id, list(top))
    skills = []
    for skill_id, proofs in top.items():
        expiries = [proof.expires_at for proof in proofs]
        expires_at = None if None in expiries else max(e for e in expiries if e is not None)
        skills.append(
            VerifiedSkill(
                skill_id=skill_id,
                skill_name=names.get(str(skill_id)),
                level=proofs[0].level,
                earned_at=min(proof.earned_at for proof in proofs),
                expires_at=expires_at,
                expiring=expires_at is not None and expires_at <= now + expiring_within,
                credentials=[SkillEvidence.model_validate(proof) for proof in proofs],
            )
        )
    return SkillProfile(hris_id=employee.hris_id, skills=skills)


async def _skill_names(
    session: AsyncSession, org_id: uuid.UUID, employee_id: uuid.UUID, skill_ids: list[uuid.UUID]
) -> dict[str, str]:
    """Skill names the gap engine was told: by the synced roles' requirements, and, taking precedence,
    by the taxonomy when it mapped this employee's credentials (the gap engine keeps no skill table)."""
    names = {
        str(skill_id): name
        for skill_id, name in await session.execute(
            select(RoleRequirement.skill_id, RoleRequirement.skill_name)
            .where(RoleRequirement.org_id == org_id, RoleRequirement.skill_id.in_(skill_ids))
            .distinct()
        )
    }
    mapped = await session.scalars(
        select(ReceivedCredential.skills).where(
            ReceivedCredential.org_id == org_id, ReceivedCredential.employee_id == employee_id
        )
    )
    for skills in mapped:
        names.update((s["skill_id"], s["skill_name"]) for s in skills or [] if s.get("skill_name"))
    return names
