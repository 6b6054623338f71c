"""Verified skill facts. Received credentials from trusted issuers derive them (domain/received_credentials);
an admin may also record one directly. The issuer's credential webhooks are a later slice."""

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gap_engine.analysis import snapshots
from services.gap_engine.db.tables import SkillFact
from services.gap_engine.domain.employees import get_employee
from shared.errors import Conflict
from shared.schemas.gaps import SkillFactIn, SkillFactOut


async def record_skill_fact(session: AsyncSession, org_id: uuid.UUID, fact: SkillFactIn) -> SkillFactOut:
    """One fact per (employee, skill, credential): the same credential cannot count twice."""
    employee = await get_employee(session, org_id, fact.hris_id)
    duplicate = await session.scalar(
        select(SkillFact.id).where(
            SkillFact.org_id == org_id,
            SkillFact.employee_id == employee.id,
            SkillFact.skill_id == fact.skill_id,
            SkillFact.credential_id == fact.credential_id,
        )
    )
    if duplicate is not None:
        raise Conflict("This credential is already recorded for this employee and skill.", id=str(duplicate))
    row = SkillFact(org_id=org_id, employee_id=employee.id, **fact.model_dump(exclude={"hris_id"}))
    row.id = uuid.uuid4()
    async with snapshots.keeping_reports_current(session, org_id, employee_ids=[employee.id]):
        session.add(row)
    return SkillFactOut(id=row.id, **fact.model_dump())
