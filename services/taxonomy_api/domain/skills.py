"""Skills: what people can do, each on a proficiency scale, with external framework alignments."""

import uuid

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.taxonomy_api.db.tables import Skill, SkillAlignment, SkillTag
from services.taxonomy_api.domain import capabilities, scales
from shared.repository import TenantRepository
from shared.schemas.taxonomy import SkillAlignmentIn, SkillIn


def repository(session: AsyncSession, org_id: uuid.UUID) -> TenantRepository[Skill]:
    return TenantRepository(session, org_id, Skill, "skill")


async def save_skill(
    session: AsyncSession, org_id: uuid.UUID, data: SkillIn, skill_id: uuid.UUID | None = None
) -> Skill:
    """Create (no id) or replace (id) a skill; its scale and capability must be this organisation's."""
    skills = repository(session, org_id)
    existing = await skills.claim_name(data.name, skill_id)
    await scales.repository(session, org_id).get(data.scale_id)
    if data.capability_id is not None:
        await capabilities.repository(session, org_id).get(data.capability_id)
    skill = existing or skills.add(Skill())
    skill.name = data.name
    skill.description = data.description
    skill.capability_id = data.capability_id
    skill.scale_id = data.scale_id
    skill.behaviours = list(data.behaviours)
    skill.alternative_labels = list(data.alternative_labels)
    skill.skill_type, skill.reuse_level = data.skill_type, data.reuse_level
    skill.owner, skill.review_by = data.owner, data.review_by
    skill.tags = [SkillTag(tag=tag) for tag in sorted(set(data.tags))]
    skill.alignments = [SkillAlignment(**alignment.model_dump()) for alignment in data.alignments]
    await session.flush()
    return skill


def search_statement(
    skills: TenantRepository[Skill],
    *,
    name: str | None = None,
    tag: str | None = None,
    capability_id: uuid.UUID | None = None,
    external_id: str | None = None,
) -> Select:
    """Filters combine with AND; `name` matches a case-insensitive substring of name or description."""
    statement = skills.select()
    if name:
        pattern = f"%{name.lower()}%"
        statement = statement.where(
            or_(func.lower(Skill.name).like(pattern), func.lower(Skill.description).like(pattern))
        )
    if tag:
        statement = statement.where(Skill.id.in_(select(SkillTag.skill_id).where(SkillTag.tag == tag)))
    if capability_id:
        statement = statement.where(Skill.capability_id == capability_id)
    if external_id:
        statement = statement.where(
            Skill.id.in_(
                select(SkillAlignment.skill_id).where(
                    or_(SkillAlignment.target_code == external_id, SkillAlignment.target_url == external_id)
                )
            )
        )
    return statement


async def alignments_by_skill(
    session: AsyncSession, skill_ids: list[uuid.UUID]
) -> dict[uuid.UUID, list[SkillAlignmentIn]]:
    """External alignments of the given skills (already checked to be the caller's), in one query."""
    if not skill_ids:
        return {}
    rows = await session.scalars(
        select(SkillAlignment).where(SkillAlignment.skill_id.in_(skill_ids)).order_by(SkillAlignment.target_code)
    )
    found: dict[uuid.UUID, list[SkillAlignmentIn]] = {}
    for row in rows:
        found.setdefault(row.skill_id, []).append(SkillAlignmentIn.model_validate(row))
    return found
